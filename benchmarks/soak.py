"""Load and soak: the real server under an editor's mixed traffic for a bounded time.

The server runs as an editor starts it (`tests.harness.lsp_client.lsp_session`: `lsp-ai
serve` on stdio, its own HOME and config, the embedded models) on a workspace of real
Python files, indexed first.
Then, for `--duration` seconds, these streams run at once (randomness seeded):

- a typist types real files into new documents at 5-8 characters a second (Enter with its
  auto-indent is one edit), an incremental didChange per keystroke and an automatic
  `textDocument/inlineCompletion` after each, without waiting for the answer: most are
  superseded by the next keystroke. Some are cancelled with `$/cancelRequest` a few ms after
  they go out. It pauses at some line ends and words (then answers arrive), accepts a
  suggestion when it is exactly what comes next, and saves (file written, didSave) every few
  lines;
- a chat stream asks `$/chat` one question after another (streamed through a
  partialResultToken, some about the typed document, some continuing a session) and cancels
  some after a random delay;
- every 1-3 s an `lsp-ai.search` or an `lsp-ai.status`;
- a thread outside the editor creates, modifies, renames and deletes files under `churn/`
  (now and then ten at once, like a checkout), which the server's file watcher picks up.

Every answer is classified: `shown` / `empty` (a completion with or without text; also `ok`
for other methods), `superseded` (an empty completion whose document got a newer request
meanwhile), `cancelled` (-32800 after our `$/cancelRequest`), `late_cancel` (answered even
though we cancelled: the answer crossed the cancel), or `error`: any other JSON-RPC error, a
malformed result, a chat whose streamed deltas differ from its content, no answer within
REQUEST_TIMEOUT_S, or the server gone. After the run no new request goes out and those in
flight get their answer (or time out: `unanswered`).

Reported: requests per method and outcome, latency p50/p95/p99 per method and outcome, the
time from `$/cancelRequest` to the -32800, errors (the first few with their messages), and
the server's RSS, threads and open files sampled every 2 s: at the end of the warm-up (the
first 20% of the run), at the end of the load, the drift between them, the least-squares
slope over the post-warm-up samples (MB per minute) and the maximum. Once the churn stops:
whether the index converged to the files on disk (each live churn file found by its unique
function name, none of the deleted or replaced ones) and how long it took. For the why: the
server's own traces (LSP_AI_COMPLETION_TRACE: outcomes, layouts, notes, model time;
LSP_AI_CHAT_TRACE: chat stages), its stderr (ERROR lines, WARNING counts, the tail) and
`window/showMessage` pop-ups, and, on the first request that hangs, the server's Python
stacks (`py-spy dump`, when py-spy is installed).

Run: `python -m benchmarks.soak [--quick] [--duration 300] [--files 60] [--seed 1]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from benchmarks.common import (
    bench_settings,
    did_change,
    log,
    percentiles,
    proc_memory_mb,
    source_pool,
    source_workspace,
    wait_indexed,
    write_result,
)
from benchmarks.memory import server_pid
from lsp_ai.records import CHAT_TRACE_ENV as CHAT_ENV
from lsp_ai.records import COMPLETION_TRACE_ENV as COMPLETION_ENV
from tests.harness.env import isolated_env
from tests.harness.lsp_client import LspClient, lsp_session

DURATION_S, QUICK_DURATION_S = 300.0, 45.0
FILES, QUICK_FILES = 60, 30
MAX_BYTES = 6_000  # source files taken for the workspace
# Short answers: more chats (and more cancellations) per minute of soak.
SETTINGS = {"models": {"chat": {"max_tokens": 96}}}
# Far past any answer on 2 cores, even a chat that waits while completions run: past it,
# the request hung.
REQUEST_TIMEOUT_S = 180.0
WARMUP_SHARE = 0.2
SAMPLE_S = 2.0
REQUEST_CANCELLED = -32800
ERRORS_KEPT = 20

TYPING_CPS = (5.0, 8.0)
COMPLETION_CANCEL_SHARE = 0.1
COMPLETION_CANCEL_AFTER_S = (0.01, 0.1)
LINE_PAUSE_SHARE, WORD_PAUSE_SHARE = 0.3, 0.03
PAUSE_S = (0.5, 2.0)
# Now and then at a line end a person stops to think or read (the chat, mostly, runs then:
# it waits while a completion runs).
THINK_SHARE, THINK_S = 0.1, (3.0, 8.0)
SAVE_EVERY_LINES = 8
HEAD_LINES = 12  # lines of the source a typed document starts with

CHAT_CANCEL_SHARE = 0.4
CHAT_CANCEL_AFTER_S = (0.2, 4.0)
CHAT_THINK_S = (0.5, 3.0)
QUESTIONS = [
    "What does this module do?",
    "How are errors handled here?",
    "Where is the configuration read?",
    "Which function parses its input, and how?",
    "Summarise the main classes and what they are for.",
]
QUERY_EVERY_S = (1.0, 3.0)
QUERIES = [
    "parse the request headers",
    "error handling and exceptions",
    "read a configuration file",
    "render the output",
    "open a session",
    "encode json",
    "retry after a failure",
]

CHURN_EVERY_S = (0.3, 1.2)
CHURN_MAX_FILES = 25
BURST_SHARE, BURST_FILES = 0.05, 10
CONVERGE_S = 60.0  # how long the index gets to catch up with the churn once it stops

HIT_KEYS = {"path", "startLine", "endLine", "symbol", "kind", "language", "score", "text"}
STATUS_KEYS = {"indexedFiles", "chunks", "pending", "models"}


class Malformed(Exception):
    """A result that breaks the contract (section 3 and 4 of the spec)."""


# -- requests and their outcomes -------------------------------------------------------------


@dataclass
class Ledger:
    """Sends requests, cancels some, and records how each ended and how long it took."""

    client: LspClient
    # One row per request: {"s": sent at, "label", "outcome", "ms", "cancel_reply_ms"?}.
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    in_flight: dict[str, str] = field(default_factory=dict)  # msg id -> method
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    notifications: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    timeouts: int = 0
    stack_dump: str = ""
    started: float = field(default_factory=time.perf_counter)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def alive(self) -> bool:
        """Whether the server process still runs."""
        return self.client.alive

    def dump_stacks(self, why: str) -> None:
        """The server's Python stacks (py-spy, if installed), once: what a hung request waits on."""
        proc = self.client.proc
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if self.stack_dump or not Path(spy).exists():
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [spy, "dump", "--pid", str(proc.pid)], capture_output=True, text=True, timeout=60
            )
            self.stack_dump = f"{why}\n{out.stdout}{out.stderr}"

    def error(self, method: str, message: str) -> str:
        if len(self.errors) < ERRORS_KEPT:
            at = round(time.perf_counter() - self.started, 1)
            self.errors.append({"s": at, "method": method, "message": message[:500]})
        return "error"

    def spawn(self, work: Any) -> None:
        """Run a request in the background (the typist never waits for an answer)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def request(
        self,
        method: str,
        params: Any,
        classify: Callable[[Any], str],
        cancel_after: float | None = None,
        label: str | None = None,
    ) -> tuple[str, Any]:
        """Send one request; its outcome (see the module doc) and its result.

        Counted under `label` (default: the method).
        """
        msg_id = f"soak-{next(self._ids)}"
        label = label or method
        if not self.alive():  # nothing to ask
            at = round(time.perf_counter() - self.started, 2)
            self.rows.append({"s": at, "label": label, "outcome": "error", "ms": 0.0})
            return self.error(label, "the server has exited"), None
        started = time.perf_counter()
        # Our own id: the $/cancelRequest must name it.
        future = asyncio.wrap_future(self.client.send_request(method, params, msg_id))
        # An answer after a timeout has no reader: retrieve it so asyncio does not warn.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        cancelled_at: list[float] = []
        canceller = None
        if cancel_after is not None:
            canceller = asyncio.ensure_future(
                self._cancel_later(msg_id, future, cancel_after, cancelled_at)
            )
        self.in_flight[msg_id] = label
        self.sent += 1
        row: dict[str, Any] = {"s": round(started - self.started, 2), "label": label}
        result = None
        try:
            # shield: on a timeout the client's future must stay, or a late answer to it
            # would raise inside the client's reader.
            result = await asyncio.wait_for(asyncio.shield(future), REQUEST_TIMEOUT_S)
            outcome = "late_cancel" if cancelled_at else classify(result)
        except JsonRpcException as exc:
            if exc.code == REQUEST_CANCELLED and cancelled_at:
                outcome = "cancelled"
                row["cancel_reply_ms"] = round((time.perf_counter() - cancelled_at[0]) * 1000, 1)
            else:
                outcome = self.error(label, f"JSON-RPC error {exc.code}: {exc.message}")
        except Malformed as exc:
            outcome = self.error(label, f"malformed result: {exc}")
        except TimeoutError:
            self.timeouts += 1
            self.dump_stacks(f"{label} unanswered after {REQUEST_TIMEOUT_S:.0f} s")
            # Given up on: stop the server's work on it, as an editor would.
            self.client.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=msg_id))
            outcome = self.error(label, f"no answer in {REQUEST_TIMEOUT_S:.0f} s")
        except RuntimeError as exc:  # ServerExited: the server is gone
            outcome = self.error(label, str(exc))
        finally:
            del self.in_flight[msg_id]
            if canceller is not None:
                canceller.cancel()
        row |= {"outcome": outcome, "ms": round((time.perf_counter() - started) * 1000, 1)}
        self.rows.append(row)
        return outcome, result

    async def _cancel_later(
        self, msg_id: str, future: asyncio.Future[Any], delay: float, sent: list[float]
    ) -> None:
        await asyncio.sleep(delay)
        if not future.done():
            sent.append(time.perf_counter())
            self.client.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=msg_id))
            self.notifications["$/cancelRequest"] += 1

    async def execute(
        self, command: str, args: list[Any], classify: Callable[[Any], str], label: str = ""
    ) -> tuple[str, Any]:
        """`workspace/executeCommand`, counted under the command's name (or `label`)."""
        params = lsp.ExecuteCommandParams(command=command, arguments=args)
        method = lsp.WORKSPACE_EXECUTE_COMMAND
        return await self.request(method, params, classify, label=label or command)

    def notify(self, method: str, params: Any) -> None:
        self.client.notify(method, params)
        self.notifications[method] += 1


def check_search(result: Any) -> str:
    if not isinstance(result, list) or any(
        not isinstance(h, dict) or set(h) != HIT_KEYS for h in result
    ):
        raise Malformed(f"search hits {str(result)[:200]}")
    return "ok"


def check_status(result: Any) -> str:
    if not isinstance(result, dict) or not set(result) >= STATUS_KEYS:
        raise Malformed(f"status {str(result)[:200]}")
    return "ok"


# -- the typist -----------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """LSP's default position unit: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Offer:
    """The newest completion's answer: shown text, for the request numbered `seq`."""

    seq: int
    text: str


class Typist:
    """Types real files into new documents and asks for ghost text on every keystroke."""

    def __init__(self, ledger: Ledger, root: Path, sources: list[Path], rng: random.Random) -> None:
        self.ledger, self.root, self.sources, self.rng = ledger, root, sources, rng
        self.uri = ""
        self.path = root
        self.text = ""
        self.version = 0
        self.sent = 0  # completion requests sent on the current document
        self.offer: Offer | None = None  # on the current document
        self.accepted = 0
        self.documents = 0

    def cursor(self) -> lsp.Position:
        last = self.text.rfind("\n") + 1
        return lsp.Position(line=self.text.count("\n"), character=utf16_len(self.text[last:]))

    def open(self, index: int, head: str) -> None:
        folder = self.root / "soak_typed"
        folder.mkdir(exist_ok=True)
        self.path = folder / f"typed_{index}.py"
        self.path.write_text(head)
        self.uri, self.text, self.version, self.sent = self.path.as_uri(), head, 1, 0
        self.offer = None
        self.ledger.notify(
            lsp.TEXT_DOCUMENT_DID_OPEN,
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=self.uri, language_id="python", version=1, text=head
                )
            ),
        )
        self.documents += 1

    def type(self, text: str) -> None:
        """One keystroke (or one auto-indented Enter) at the cursor, then its completion."""
        here = self.cursor()
        self.version += 1
        self.text += text
        self.ledger.notify(
            lsp.TEXT_DOCUMENT_DID_CHANGE,
            did_change(self.uri, self.version, here, here, text),
        )
        self.ask()

    def ask(self) -> None:
        self.sent += 1
        seq, uri = self.sent, self.uri
        params = lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=self.cursor(),
            context=lsp.InlineCompletionContext(
                trigger_kind=lsp.InlineCompletionTriggerKind.Automatic
            ),
        )
        cancel = None
        if self.rng.random() < COMPLETION_CANCEL_SHARE:
            cancel = self.rng.uniform(*COMPLETION_CANCEL_AFTER_S)

        def classify(result: Any) -> str:
            if not isinstance(result, lsp.InlineCompletionList):
                raise Malformed(f"inline completion {str(result)[:200]}")
            newest = uri == self.uri and seq == self.sent
            if not result.items:
                return "empty" if newest else "superseded"
            text = result.items[0].insert_text
            if not isinstance(text, str) or not text:
                raise Malformed(f"inline completion item {result.items[0]}")
            if newest:
                self.offer = Offer(seq, text)
            return "shown"

        method = lsp.TEXT_DOCUMENT_INLINE_COMPLETION
        self.ledger.spawn(self.ledger.request(method, params, classify, cancel))

    def save(self) -> None:
        self.path.write_text(self.text)
        self.ledger.notify(
            lsp.TEXT_DOCUMENT_DID_SAVE,
            lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=self.uri)),
        )

    def pause_length(self, line_end: bool, word_end: bool) -> float:
        """How long the person stops after this keystroke (0: types on)."""
        if line_end and self.rng.random() < THINK_SHARE:
            return self.rng.uniform(*THINK_S)
        if (line_end and self.rng.random() < LINE_PAUSE_SHARE) or (
            word_end and self.rng.random() < WORD_PAUSE_SHARE
        ):
            return self.rng.uniform(*PAUSE_S)
        return 0.0

    async def pause(self, upcoming: str, seconds: float, stop: asyncio.Event) -> int:
        """A person stops to read; returns how much of `upcoming` an accepted offer typed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        if stop.is_set():
            return 0
        offer, self.offer = self.offer, None
        if offer is None or offer.seq != self.sent or not upcoming.startswith(offer.text):
            return 0
        self.accepted += 1  # Tab: the suggestion is exactly what comes next
        self.type(offer.text)
        return len(offer.text)

    async def run(self, stop: asyncio.Event) -> None:
        for n in itertools.count():
            source = self.sources[n % len(self.sources)]
            lines = source.read_text(errors="replace").replace("\r\n", "\n").split("\n")
            self.open(n, "\n".join(lines[:HEAD_LINES]))
            body = "".join("\n" + line for line in lines[HEAD_LINES:])
            await self.type_body(body, stop)
            if stop.is_set():
                return

    async def type_body(self, body: str, stop: asyncio.Event) -> None:
        """Type `body` at the end of the document until it is done or `stop` is set."""
        i, lines = 0, 0
        while i < len(body) and not stop.is_set():
            if body[i] == "\n":  # Enter, and the editor's auto-indent with it
                indent = len(body[i + 1 :]) - len(body[i + 1 :].lstrip(" \t"))
                key = body[i : i + 1 + indent]
                lines += 1
                if lines % SAVE_EVERY_LINES == 0:
                    self.save()
            else:
                key = body[i]
            self.type(key)
            i += len(key)
            await asyncio.sleep(1 / self.rng.uniform(*TYPING_CPS))
            line_end = body[i : i + 1] == "\n"
            word_end = not (body[i - 1 : i].isalnum() or body[i - 1 : i] == "_")
            if seconds := self.pause_length(line_end, word_end):
                i += await self.pause(body[i:], seconds, stop)


# -- chat, queries -------------------------------------------------------------------------


class Chatter:
    """Asks one question after another, some about the typed document; cancels some."""

    def __init__(self, ledger: Ledger, typist: Typist, rng: random.Random) -> None:
        self.ledger, self.typist, self.rng = ledger, typist, rng
        self.deltas = ledger.client.deltas  # chat text streamed per partialResultToken
        self.session: str | None = None

    def params(self, n: int) -> dict[str, Any]:
        token = f"soak-chat-{n}"
        params: dict[str, Any] = {
            "message": self.rng.choice(QUESTIONS),
            "partialResultToken": token,
        }
        if self.session is not None and self.rng.random() < 0.5:
            params["sessionId"] = self.session
        if self.typist.uri and self.rng.random() < 0.3:
            # Documents stay open, so this one is still open when the server reads it.
            params["textDocument"] = {"uri": self.typist.uri}
            position = self.typist.cursor()
            params["position"] = {"line": position.line, "character": position.character}
        return params

    async def run(self, stop: asyncio.Event) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            params = self.params(n)
            token = params["partialResultToken"]
            cancel = None
            if self.rng.random() < CHAT_CANCEL_SHARE:
                cancel = self.rng.uniform(*CHAT_CANCEL_AFTER_S)

            def classify(result: Any, token: str = token) -> str:
                if not isinstance(result, dict):
                    raise Malformed(f"chat {str(result)[:200]}")
                content, session = result.get("content"), result.get("sessionId")
                if not isinstance(content, str) or not isinstance(session, str):
                    raise Malformed(f"chat {str(result)[:200]}")
                if "".join(self.deltas.pop(token, [])).strip() != content.strip():
                    raise Malformed("the streamed deltas differ from the content")
                self.session = session
                return "ok"

            await self.ledger.request("$/chat", params, classify, cancel)
            self.deltas.pop(token, None)
            await asyncio.sleep(self.rng.uniform(*CHAT_THINK_S))


async def query_stream(ledger: Ledger, rng: random.Random, stop: asyncio.Event) -> None:
    """An `lsp-ai.search` or an `lsp-ai.status` every 1-3 s."""
    while not stop.is_set():
        if rng.random() < 0.5:
            args: list[Any] = [rng.choice(QUERIES), 5]
            command, check = "lsp-ai.search", check_search
        else:
            args, command, check = [], "lsp-ai.status", check_status
        await ledger.execute(command, args, check)
        await asyncio.sleep(rng.uniform(*QUERY_EVERY_S))


# -- file-system churn from outside the editor -----------------------------------------------


class Churn(threading.Thread):
    """Creates, modifies, renames and deletes files under `root/churn` until stopped.

    Each file's text ends with a function named by a unique token, so that afterwards the
    index can be checked against the disk: every live file's token is found, in that file;
    every token of a file deleted, renamed away or rewritten is not.
    """

    def __init__(self, root: Path, texts: list[str], seed: int) -> None:
        super().__init__(name="soak-churn", daemon=True)
        self.folder = root / "churn"
        self.texts = texts
        self.rng = random.Random(seed)
        self.live: dict[Path, str] = {}  # file -> its token
        self.gone: dict[str, Path] = {}  # token -> where it was
        self.events: Counter[str] = Counter()
        self.failures: list[str] = []
        self.halt = threading.Event()
        self._names = itertools.count()

    def token(self) -> str:
        return f"churn_{self.rng.getrandbits(40):010x}"

    def write(self, path: Path) -> None:
        token = self.token()
        body = self.rng.choice(self.texts).rstrip("\n")
        path.write_text(f'{body}\n\n\ndef {token}():\n    return "{path.name}"\n')
        if (old := self.live.get(path)) is not None:
            self.gone[old] = path
        self.live[path] = token

    def create(self) -> None:
        self.write(self.folder / f"c{next(self._names)}.py")
        self.events["create"] += 1

    def modify(self) -> None:
        self.write(self.rng.choice(sorted(self.live)))
        self.events["modify"] += 1

    def rename(self) -> None:
        old = self.rng.choice(sorted(self.live))
        new = self.folder / f"c{next(self._names)}.py"
        os.replace(old, new)
        token = self.live.pop(old)
        self.gone[token] = old  # the token moves: absent at `old`, present at `new`
        self.live[new] = token
        self.events["rename"] += 1

    def delete(self) -> None:
        path = self.rng.choice(sorted(self.live))
        path.unlink()
        self.gone[self.live.pop(path)] = path
        self.events["delete"] += 1

    def step(self) -> None:
        if self.rng.random() < BURST_SHARE:
            for _ in range(BURST_FILES):  # a checkout: many files at once
                self.create()
            self.events["burst"] += 1
            return
        ops = [self.create] if len(self.live) < CHURN_MAX_FILES else []
        if self.live:
            ops += [self.modify, self.modify, self.rename, self.delete, self.delete]
        self.rng.choice(ops or [self.delete])()

    def run(self) -> None:
        self.folder.mkdir(exist_ok=True)
        while not self.halt.wait(self.rng.uniform(*CHURN_EVERY_S)):
            try:
                self.step()
            except OSError as exc:  # ours, not the server's: reported, never fatal
                self.failures.append(str(exc))

    def stop(self) -> None:
        self.halt.set()
        self.join()


def renamed_tokens(churn: Churn) -> dict[str, Path]:
    """Tokens no longer at their old path but still live (moved by a rename)."""
    live = set(churn.live.values())
    return {t: p for t, p in churn.gone.items() if t in live}


async def converge(ledger: Ledger, churn: Churn, root: Path) -> dict[str, Any]:
    """Poll search until the index matches the churned files on disk (or CONVERGE_S passes)."""
    started = time.perf_counter()
    moved = renamed_tokens(churn)
    present = {t: p.relative_to(root).as_posix() for p, t in churn.live.items()}
    absent = {t: p.relative_to(root).as_posix() for t, p in churn.gone.items() if t not in moved}
    # A renamed file's token must be found at its new path only.
    absent_at = {t: p.relative_to(root).as_posix() for t, p in moved.items()}
    missing, stale = dict(present), absent | absent_at
    while time.perf_counter() - started < CONVERGE_S:
        missing = {t: p for t, p in missing.items() if not await found(ledger, t, p)}
        stale = {t: p for t, p in stale.items() if await found(ledger, t, p)}
        if not missing and not stale:
            break
        await asyncio.sleep(1.0)
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "converged": not missing and not stale,
        "live_files": len(present),
        "gone_tokens": len(absent) + len(absent_at),
        "missing": sorted(missing.values())[:10],
        "stale": sorted(stale.values())[:10],
    }


async def found(ledger: Ledger, token: str, path: str) -> bool:
    """Whether a search for `token` returns a chunk of `path` containing it.

    Up to 100 hits: the chunk holding the token may be a large one (the chunker merges the
    small function into the code before it), which the vector leg ranks low and the fusion
    can push below look-alike churn functions; the full-text leg still lifts it into these.
    """
    label = "lsp-ai.search, after the run"
    outcome, hits = await ledger.execute("lsp-ai.search", [token, 100], check_search, label)
    if outcome != "ok":
        return False
    return any(h["path"] == path and token in h["text"] for h in hits)


# -- the server process --------------------------------------------------------------------


def process_stats(pid: int) -> dict[str, Any]:
    """RSS and peak (MB), threads and open file descriptors of a live process."""
    stats: dict[str, Any] = dict(proc_memory_mb(pid))
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            stats["threads"] = int(line.split()[1])
    stats["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return stats


class Sampler:
    """The server's memory, threads and open files every SAMPLE_S seconds, tagged by phase.

    Phases: `load` (the streams run), `drain` (answers to the last requests), `converge`
    (the index catches up with the churn).
    """

    def __init__(self, pid: int, started: float) -> None:
        self.pid, self.started = pid, started
        self.phase = "load"
        self.samples: list[dict[str, Any]] = []
        self.halt = asyncio.Event()

    async def run(self) -> None:
        while not self.halt.is_set():
            with contextlib.suppress(OSError, KeyError):  # the server has exited
                at = round(time.perf_counter() - self.started, 1)
                self.samples.append({"s": at, "phase": self.phase, **process_stats(self.pid)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.halt.wait(), SAMPLE_S)


@dataclass
class ServerLog:
    """What the server told: its stderr lines, and its `window/showMessage` pop-ups."""

    lines: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    shown: list[str] = field(default_factory=list)  # window/showMessage: what a user sees
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=30))

    def add(self, text: str) -> None:
        self.lines += 1
        self.tail.append(text)
        if (" ERROR " in text or "Traceback" in text) and len(self.errors) < ERRORS_KEPT:
            self.errors.append(text[:500])
        elif " WARNING " in text:
            self.warnings[text.split(" WARNING ", 1)[1][:200]] += 1

    def on_show_message(self, params: lsp.ShowMessageParams) -> None:
        if len(self.shown) < ERRORS_KEPT:
            self.shown.append(f"{params.type.name}: {params.message[:500]}")

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "errors": self.errors,
            "warnings": dict(self.warnings.most_common(10)),
            "show_message": self.shown,
            "tail": list(self.tail),
        }


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return None
    return round(60 * sum((x - mx) * (y - my) for x, y in points) / var, 3)


def memory_drift(samples: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    """RSS after the warm-up vs at the end of the load, and the slope in between."""
    load = [s for s in samples if s["phase"] == "load"]
    warmup = duration * WARMUP_SHARE
    after = [s for s in load if s["s"] >= warmup]
    if not after:
        return {}
    first, last = after[0], after[-1]
    return {
        "warmup_s": round(warmup, 1),
        "rss_start_mb": load[0]["rss_mb"],
        "rss_after_warmup_mb": first["rss_mb"],
        "rss_end_mb": last["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in samples),
        "drift_mb": round(last["rss_mb"] - first["rss_mb"], 1),
        "slope_mb_per_min": slope_per_min([(s["s"], s["rss_mb"]) for s in after]),
        "threads": {"after_warmup": first["threads"], "end": last["threads"]},
        "fds": {"after_warmup": first["fds"], "end": last["fds"]},
    }


def read_trace(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def note_kind(note: str) -> str:
    """A trace note without its particulars (quoted text, counts), to count notes by kind."""
    return re.sub(r"'.*'|\".*\"|\d+", "…", note)


def completion_outcomes(trace: Path) -> dict[str, Any]:
    """The server's own account of each completion (LSP_AI_COMPLETION_TRACE).

    Outcome, layout, why nothing was shown, and the model's time where it ran.
    """
    records = read_trace(trace)
    model_ms = [r["model_ms"] for r in records if r.get("layout") not in (None, "", "cache")]
    return {
        "outcomes": dict(Counter(r["outcome"] for r in records).most_common()),
        "layouts": dict(Counter(str(r.get("layout")) for r in records).most_common()),
        "notes": dict(
            Counter(note_kind(n) for r in records for n in r.get("notes") or []).most_common(8)
        ),
        "model_ms": percentiles(model_ms),
    }


def chat_stages(trace: Path) -> dict[str, Any]:
    """Per stage of the chats that completed (LSP_AI_CHAT_TRACE), ms percentiles."""
    records = read_trace(trace)
    stages = sorted({k for r in records for k in r.get("timings_ms", {})})
    return {
        k: percentiles([r["timings_ms"][k] for r in records if k in r["timings_ms"]])
        for k in stages
    }


# -- the run -------------------------------------------------------------------------------


def typing_sources(root: Path, count: int = 12) -> list[Path]:
    """A seeded choice of the workspace's Python files, to type and to churn."""
    files = sorted(p for p in root.rglob("*.py") if p.stat().st_size > 200)
    random.Random(0).shuffle(files)
    return files[:count] or sorted(root.rglob("*.py"))


async def run_streams(
    ledger: Ledger, sampler: Sampler, root: Path, duration: float, seed: int
) -> dict[str, Any]:
    """The four streams for `duration` seconds, then the last answers, then the index check."""
    rng = random.Random(seed)
    sources = typing_sources(root)
    typist = Typist(ledger, root, sources, random.Random(rng.random()))
    chatter = Chatter(ledger, typist, random.Random(rng.random()))
    churn = Churn(root, [p.read_text(errors="replace") for p in sources], seed)
    stop = asyncio.Event()
    churn.start()
    streams = [
        asyncio.ensure_future(typist.run(stop)),
        asyncio.ensure_future(chatter.run(stop)),
        asyncio.ensure_future(query_stream(ledger, random.Random(rng.random()), stop)),
    ]
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline and ledger.alive():
        await asyncio.sleep(0.5)
    stop.set()
    churn.stop()
    sampler.phase = "drain"
    drain_started = time.perf_counter()
    await asyncio.gather(*streams)  # each ends after its request in flight is answered
    while ledger.tasks:  # the typist's last completions
        await asyncio.gather(*list(ledger.tasks))
    drain_s = round(time.perf_counter() - drain_started, 1)
    sampler.phase = "converge"
    return {
        "drain_s": drain_s,  # from the end of the load to the last answer
        "documents_typed": typist.documents,
        "keystrokes": ledger.notifications[lsp.TEXT_DOCUMENT_DID_CHANGE],
        "saves": ledger.notifications[lsp.TEXT_DOCUMENT_DID_SAVE],
        "accepted_suggestions": typist.accepted,
        "cancel_requests_sent": ledger.notifications["$/cancelRequest"],
        "churn_events": dict(churn.events),
        "churn_failures": churn.failures[:5],
        "index_after_churn": await converge(ledger, churn, root),
    }


async def soak(root: Path, work: Path, duration: float, seed: int = 1) -> dict[str, Any]:
    """Run the soak against a real server on `root` (indexed first); the result JSON."""
    work.mkdir(parents=True, exist_ok=True)
    env = isolated_env(work / "home", bench_settings(SETTINGS, db=work / "db"))
    env[CHAT_ENV] = str(work / "chat-trace.jsonl")
    env[COMPLETION_ENV] = str(work / "completion-trace.jsonl")
    server_log = ServerLog()

    async def listen(client: LspClient) -> None:
        client.on(lsp.WINDOW_SHOW_MESSAGE, server_log.on_show_message)

    async with lsp_session(root, env, on_stderr=server_log.add, on_initialize=listen) as client:
        started = time.perf_counter()
        await wait_indexed(client)
        index_s = round(time.perf_counter() - started, 1)
        log(f"indexed and models loaded in {index_s} s; soaking for {duration:.0f} s")
        ledger = Ledger(client)
        sampler = Sampler(server_pid(client), ledger.started)
        sampling = asyncio.ensure_future(sampler.run())
        streams = await run_streams(ledger, sampler, root, duration, seed)
        label = "lsp-ai.status, after the run"
        outcome, status = await ledger.execute("lsp-ai.status", [], check_status, label)
        sampler.halt.set()
        await sampling
        final = {"alive": outcome == "ok", "status": status if outcome == "ok" else None}
        proc = client.proc
    return {
        "duration_s": duration,
        "index_s": index_s,
        **tally(ledger),
        "streams": streams,
        "chat_stages_ms": chat_stages(work / "chat-trace.jsonl"),
        "completion_trace": completion_outcomes(work / "completion-trace.jsonl"),
        "memory": memory_drift(sampler.samples, duration),
        "timeline": sampler.samples,
        "final": final,
        "exit_code": proc.returncode,
        "server_log": server_log.to_json(),
        "stack_dump": ledger.stack_dump,
        "rows": ledger.rows,
    }


def method_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Outcomes and latency of one method's requests (cancelled ones apart)."""
    by_outcome: defaultdict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_outcome[r["outcome"]].append(r["ms"])
    answered = [r["ms"] for r in rows if r["outcome"] not in ("error", "cancelled")]
    slowest = sorted(rows, key=lambda r: -r["ms"])[:3]
    return {
        "requests": len(rows),
        "outcomes": {k: len(v) for k, v in sorted(by_outcome.items())},
        "latency_ms": percentiles(answered),
        "by_outcome_ms": {k: percentiles(v) for k, v in sorted(by_outcome.items())},
        "cancel_reply_ms": percentiles(
            [r["cancel_reply_ms"] for r in rows if "cancel_reply_ms" in r]
        ),
        "slowest": [{k: r[k] for k in ("s", "ms", "outcome")} for r in slowest],
    }


def tally(ledger: Ledger) -> dict[str, Any]:
    labels = sorted({r["label"] for r in ledger.rows})
    methods = {m: method_summary([r for r in ledger.rows if r["label"] == m]) for m in labels}
    errors = sum(1 for r in ledger.rows if r["outcome"] == "error")
    return {
        "requests_sent": ledger.sent,
        "requests": len(ledger.rows),  # answered, or given up on after REQUEST_TIMEOUT_S
        "served": len(ledger.rows) - errors,
        "errors": errors,
        # Hung: no answer within REQUEST_TIMEOUT_S (also counted in `errors`).
        "unanswered": ledger.timeouts + len(ledger.in_flight),
        "first_errors": ledger.errors,
        "methods": methods,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = f"{QUICK_DURATION_S:.0f} s, {QUICK_FILES} files"
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--duration", type=float, help=f"seconds (default {DURATION_S:.0f})")
    parser.add_argument("--files", type=int, help=f"workspace size (default {FILES})")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    duration = args.duration or (QUICK_DURATION_S if args.quick else DURATION_S)
    files = args.files or (QUICK_FILES if args.quick else FILES)
    work = Path(tempfile.mkdtemp(prefix="lsp-ai-soak-"))
    root = work / "workspace"
    try:
        workspace = source_workspace(source_pool(MAX_BYTES), root, files)
        result = asyncio.run(soak(root, work, duration, args.seed))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    brief = ("requests", "served", "errors", "unanswered", "memory", "chat_stages_ms")
    log(f"soak: {json.dumps({k: result[k] for k in brief})}")
    for method, m in result["methods"].items():
        log(f"  {method}: {m['outcomes']} latency {m['latency_ms']}")
    for error in result["first_errors"]:
        log(f"  error: {error}")
    data = {"files": files, "workspace": workspace, "seed": args.seed, **result}
    log(f"wrote {write_result('soak', data)}")


if __name__ == "__main__":
    main()
