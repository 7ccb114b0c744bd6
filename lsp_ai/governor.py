"""The resource governor: the assistant must not compete with the editor or with typing.

- Background work (indexing, re-embedding) waits while the user is typing: any completion
  request or edit in the last `resources.quiet_ms` counts as typing.
- Thread counts per role come from the cores this process may use.
- Idle models are unloaded after `resources.unload_after_s` and load again when asked for.
- Freed heap goes back to the system whenever the process has grown by TRIM_GROWTH_MB since
  the last time and the user is not typing: glibc keeps what threads free in their arenas,
  so without it a long-running server's RSS creeps up (measured by the soak benchmark).
- `resources.max_rss_mb`: when the process grows past it, freed heap goes back to the
  system, caches are emptied, embedding batches shrink, and idle models are unloaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

TICK_S = 5.0  # how often memory and idle models are checked
MIN_EMBED_BATCH = 4
MAX_EMBED_BATCH = 32
TRIM_GROWTH_MB = 16  # growth worth a malloc_trim; below it the trim's pause buys too little


def _affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return set(range(os.cpu_count() or 1))


def cores() -> int:
    return max(1, len(_affinity()))


def role_threads(role: str, n: int | None = None) -> int:
    """Threads for a role whose `n_threads` is 0 (auto).

    Completion and chat take every core: a keystroke waits on the one, and the other pauses
    for completions anyway. Embedding is background work: from 4 cores up it leaves half of
    them to the editor and the completion model.
    """
    n = n or cores()
    return max(1, n // 2) if role == "embedding" and n >= 4 else n


class CpuLoad:
    """How many of our cores other processes keep busy: /proc/stat less this process's time.

    llama.cpp's threads wait for one another at every step of the graph; when another
    process holds one of their cores, each wait can last a scheduler slice. Measured on a
    2-core machine (SmolLM2, a 450-token prompt and 32 tokens): idle, 2 threads took 4 s and
    1 thread 7 s; beside one busy process 10 s and 6.6 s; beside two, 26 s and 10 s.
    So a model in auto mode runs on the cores nobody else is using.
    """

    MIN_WINDOW_S = 0.5  # shorter windows are mostly noise; the last reading stands

    def __init__(self) -> None:
        self._cpus = _affinity()
        self._lock = threading.Lock()
        self._last = self._sample()
        self.others = 0.0

    def _sample(self) -> tuple[float, float, float]:
        """(when, busy seconds of our cores, this process's CPU seconds)."""
        busy = 0
        try:
            with open("/proc/stat") as f:
                for line in f:
                    name, *ticks = line.split()
                    if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in self._cpus:
                        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
                            int, ticks[:8]
                        )
                        busy += user + nice + system + irq + softirq + steal
        except (OSError, ValueError):
            pass  # no /proc: nothing is known, so nobody else counts as busy
        own = os.times()
        return time.monotonic(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system

    def other_busy(self) -> float:
        """Cores busy with other processes over the time since the last reading."""
        with self._lock:
            now = self._sample()
            span = now[0] - self._last[0]
            if span >= self.MIN_WINDOW_S:
                if now[1] > 0:
                    others = (now[1] - self._last[1]) - (now[2] - self._last[2])
                    self.others = max(0.0, others / span)
                self._last = now
            return self.others


_cpu_load: CpuLoad | None = None


def other_busy_cores() -> float:
    """Cores kept busy by other processes lately (one reader for the whole process)."""
    global _cpu_load
    if _cpu_load is None:
        _cpu_load = CpuLoad()
    return _cpu_load.other_busy()


def free_threads(most: int) -> int:
    """Threads for a model in auto mode now: `most`, less the cores others keep busy."""
    return max(1, most - int(other_busy_cores() + 0.5))


def rss_mb() -> float:
    """This process's resident memory, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def release_heap() -> bool:
    """Give freed heap back to the system (glibc keeps it otherwise: ~1 GB after a big crawl)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).malloc_trim(0))
    except (OSError, AttributeError):  # not glibc
        return False


class Activity:
    """When the user last typed; background work waits for a pause in typing."""

    def __init__(self, quiet_ms: int) -> None:
        self.quiet_s = quiet_ms / 1000
        self._last = float("-inf")
        self.waited_s = 0.0  # total time background work spent waiting, for status

    def touch(self) -> None:
        self._last = time.monotonic()

    def typing(self) -> bool:
        return time.monotonic() - self._last < self.quiet_s

    def wait_for_typing_pause(self, stop: threading.Event | None = None) -> None:
        """Block while the user types (or until `stop`)."""
        started = time.monotonic()
        while (left := self._last + self.quiet_s - time.monotonic()) > 0:
            if stop is not None and stop.is_set():
                break
            time.sleep(min(left, 0.05))
        self.waited_s += time.monotonic() - started


@dataclass(frozen=True)
class Pacer:
    """How background embedding runs: `wait_for_idle()` before each slice of `batch()` texts."""

    wait_for_idle: Callable[[], None]
    batch: Callable[[], int]


@dataclass
class Budget:
    """What the governor may do to stay within `max_rss_mb`."""

    release_heap: Callable[[], bool]
    shrink_caches: Callable[[], None]
    unloadable: Sequence[tuple[str, Callable[[], bool]]]  # (role, unload), least needed first


class Governor:
    """A daemon thread that keeps memory within budget and unloads idle models."""

    def __init__(
        self,
        *,
        max_rss_mb: int,
        unload_after_s: float,
        idle_unloaders: Callable[[float], list[str]],
        budget: Budget,
        typing: Callable[[], bool] = lambda: False,
    ) -> None:
        self.max_rss_mb = max_rss_mb
        self.unload_after_s = unload_after_s
        self._idle_unloaders = idle_unloaders
        self._budget = budget
        self._typing = typing
        self.embed_batch = MAX_EMBED_BATCH
        self.actions: deque[str] = deque(maxlen=10)
        self.peak_mb = 0.0
        self._settled_mb = 0.0  # where the last enforcement left it: not redone until growth
        self._rss_after_trim = 0.0  # the next trim waits until RSS grows past this
        self.released_mb = 0.0  # heap those trims gave back in all, for status
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="governor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _interval(self) -> float:
        """Checks come at least twice per idle period, so unloading is on time."""
        if self.unload_after_s > 0:
            return max(0.5, min(TICK_S, self.unload_after_s / 2))
        return TICK_S

    def _run(self) -> None:
        while not self._stop.wait(self._interval()):
            try:
                self.tick()
            except Exception:  # the governor must never take the server down
                log.exception("resource governor tick failed")

    def _did(self, what: str) -> None:
        self.actions.append(f"{time.strftime('%H:%M:%S')} {what}")
        log.info("resources: %s", what)

    def tick(self) -> None:
        if self.unload_after_s > 0:
            for role in self._idle_unloaders(self.unload_after_s):
                self._did(f"unloaded the idle {role} model")
        now = rss_mb()
        self.peak_mb = max(self.peak_mb, now)
        over = self.max_rss_mb > 0 and now > self.max_rss_mb
        if over and now > self._settled_mb * 1.05:  # what could be done was done; wait for growth
            self.enforce(now)
        elif now > self._rss_after_trim + TRIM_GROWTH_MB and not self._typing():
            self.trim(now)

    def trim(self, now: float) -> None:
        """Give freed heap back; the next trim waits until RSS grows again from here."""
        self._budget.release_heap()
        self._rss_after_trim = rss_mb()
        self.released_mb += max(0.0, now - self._rss_after_trim)
        log.debug("resources: released freed heap, %.0f -> %.0f MB", now, self._rss_after_trim)

    def enforce(self, now: float) -> None:
        """Step by step, cheapest first, until under budget."""
        self._budget.release_heap()
        self._budget.shrink_caches()
        if self.embed_batch > MIN_EMBED_BATCH:
            self.embed_batch = max(MIN_EMBED_BATCH, self.embed_batch // 2)
        after = rss_mb()
        self._did(
            f"over budget ({now:.0f} > {self.max_rss_mb} MB): released heap, emptied caches, "
            f"embedding batch {self.embed_batch}; now {after:.0f} MB"
        )
        for role, unload in self._budget.unloadable:
            if after <= self.max_rss_mb:
                break
            if unload():
                self._budget.release_heap()
                after = rss_mb()
                self._did(f"unloaded the {role} model to stay within budget; now {after:.0f} MB")
        self._settled_mb = self._rss_after_trim = after

    def status(self) -> dict[str, object]:
        now = rss_mb()
        return {
            "rss_mb": round(now),
            "peak_rss_mb": round(max(self.peak_mb, now)),
            "max_rss_mb": self.max_rss_mb,
            "over_budget": self.max_rss_mb > 0 and now > self.max_rss_mb,
            "unload_after_s": self.unload_after_s,
            "embed_batch": self.embed_batch,
            "heap_released_mb": round(self.released_mb),
            "actions": list(self.actions),
        }
