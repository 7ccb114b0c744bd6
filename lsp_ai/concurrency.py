"""Cancellation and "latest request wins" plumbing shared by the server and the CLI.

Model work runs in worker threads, where asyncio cancellation cannot reach. A `CancelToken`
is the bridge: the async handler sets it when its task is cancelled, and the generation loop
checks it after every token (and llama.cpp's abort callback checks it during prompt evaluation).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class Cancelled(Exception):
    """Raised by model work that stopped because its token was cancelled."""


@dataclass(eq=False)  # identity semantics: tokens live in sets
class CancelToken:
    """A thread-safe flag that one side sets and the worker polls."""

    _event: threading.Event = field(default_factory=threading.Event)
    reason: str = ""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds for a cancel; True if it came."""
        return self._event.wait(timeout)

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)


class LatestWins:
    """Keeps one live token per key (a document URI): starting a new one cancels the old.

    Editors fire a completion request on every pause in typing; only the newest can still be
    shown, so older generations on the same document are stopped instead of queued.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, CancelToken] = {}

    def start(self, key: str) -> CancelToken:
        token = CancelToken()
        with self._lock:
            old = self._live.get(key)
            self._live[key] = token
        if old is not None:
            old.cancel("superseded")
        return token

    def finish(self, key: str, token: CancelToken) -> None:
        with self._lock:
            if self._live.get(key) is token:
                del self._live[key]


class CompletionFirst:
    """A priority lock: completions hold it, chat and background work wait until none does.

    On a 2-core laptop, a chat generation and a completion running at once each get half the
    CPU; pausing chat for the few hundred milliseconds a completion takes keeps keystrokes fast.

    Answers (chat, code actions) rank second: background work (embedding) also waits while
    one generates. llama.cpp's threads spin at each step's barrier, so an answer sharing two
    cores with the embedder's threads slows by far more than half: a 96-token answer took
    80 s instead of 10 s in the soak while the index caught up with file churn.
    """

    def __init__(self) -> None:
        self._busy = 0
        self._answering = 0
        self._cond = threading.Condition()

    def __enter__(self) -> CompletionFirst:
        with self._cond:
            self._busy += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Held while a chat answer or code action generates: background work waits."""
        with self._cond:
            self._answering += 1
        try:
            yield
        finally:
            with self._cond:
                self._answering -= 1
                self._cond.notify_all()

    def wait_for_completions(self, cancel: CancelToken | None = None, poll_s: float = 0.02) -> None:
        """Block while a completion runs; returns early if `cancel` fires."""
        with self._cond:
            while self._busy and not (cancel and cancel.cancelled):
                self._cond.wait(poll_s)

    def wait_for_foreground(self, poll_s: float = 0.05) -> None:
        """Block while a completion runs or an answer generates (for background work)."""
        with self._cond:
            while self._busy or self._answering:
                self._cond.wait(poll_s)
