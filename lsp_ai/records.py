"""What happened to each completion and chat request: one record, kept where it is asked for.

Every request ends as one decision record (a JSON-ready dict with an `Outcome`). `Recorder`
is the one place that writes it: the last ones stay in a bounded in-memory ring for
`lsp-ai.status` and `lsp-ai.explainLastCompletion`; each is appended to `decisions.jsonl` next
to the server's log file, which `lsp-ai decisions` tails, and logged at debug level in plain
words (which the server forwards as window/logMessage). The decision holds no prompt text:
prompts go only to the opt-in trace files (LSP_AI_COMPLETION_TRACE, LSP_AI_CHAT_TRACE), which
stay on this machine like everything else.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from enum import StrEnum
from itertools import count
from pathlib import Path
from typing import Any

from lsp_ai.log_redaction import RedactingFormatter
from lsp_ai.logs import log_file_path

log = logging.getLogger(__name__)

RING_SIZE = 200
FILE_NAME = "decisions.jsonl"
FILE_BYTES = 2_000_000  # rotated with one backup: a trace, not an archive
COMPLETION_TRACE_ENV = "LSP_AI_COMPLETION_TRACE"
CHAT_TRACE_ENV = "LSP_AI_CHAT_TRACE"


class Kind(StrEnum):
    COMPLETION = "completion"
    CHAT = "chat"


class Outcome(StrEnum):
    """What became of a request; the words `lsp-ai decisions` and the status show."""

    SHOWN = "shown"  # a completion with text
    EMPTY = "empty"  # a completion the model or post-processing left empty
    DEBOUNCED = "debounced"  # replaced while it queued: never reached the model
    SUPERSEDED = "superseded"  # replaced while the model ran
    CANCELLED = "cancelled"  # $/cancelRequest, or Ctrl-C
    PRIVATE = "private"  # the document must not reach a model
    TIMEOUT = "timeout"
    BACKEND_ERROR = "backend error"
    ERROR = "error"
    ANSWERED = "answered"  # a chat


def decisions_path() -> Path:
    return log_file_path().with_name(FILE_NAME)


class Trace:
    """An opt-in JSONL file of whole requests, prompts included (for benchmarks and "why?")."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, var: str) -> Trace | None:
        if not (value := os.environ.get(var)):
            return None
        try:
            return cls(Path(value).expanduser())
        except OSError as exc:
            log.warning("%s=%s cannot be written (%s); no trace", var, value, exc)
            return None

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps({"time": time.time(), **record}) + "\n")

    def close(self) -> None:
        self._file.close()


class Recorder:
    """The one writer of decision records: a ring, the decisions file and the opt-in traces.

    Thread-safe. Front-ends never build records: the assistant calls `completion` and `chat`
    when a request ends, so no front-end can skip recording.
    """

    def __init__(self, root: str = "", path: Path | None = None, size: int = RING_SIZE) -> None:
        self.root = root
        self._ring: deque[dict[str, Any]] = deque(maxlen=size)
        self._ids = count(1)
        self._lock = threading.Lock()
        self._file = _file_logger(path) if path is not None else None
        self._traces = {
            Kind.COMPLETION: Trace.from_env(COMPLETION_TRACE_ENV),
            Kind.CHAT: Trace.from_env(CHAT_TRACE_ENV),
        }

    def completion(
        self,
        where: dict[str, Any],
        outcome: Outcome,
        server_ms: float,
        details: dict[str, Any] | None = None,
        **extra: str,
    ) -> dict[str, Any]:
        """`where`: uri, line, character, invoked; `details`: what the model did.

        The prompt, if `details` has one, goes to the opt-in trace file only.
        """
        record: dict[str, Any] = {
            "uri": where["uri"],
            "line": where["line"],
            "character": where["character"],
            "outcome": outcome,
            "server_ms": round(server_ms, 3),
            **(details or {}),
        }
        if (trace := self._traces[Kind.COMPLETION]) is not None:
            trace.write(record)
        record.pop("prompt", None)
        return self.record(Kind.COMPLETION, {**record, "invoked": where["invoked"], **extra})

    def chat(
        self, outcome: Outcome, fields: dict[str, Any], messages: list[Any] | None = None
    ) -> dict[str, Any]:
        """A chat's end; with `messages` (the prompt) it also reaches the opt-in trace."""
        if messages is not None and (trace := self._traces[Kind.CHAT]) is not None:
            trace.write({**fields, "messages": messages})
        return self.record(Kind.CHAT, {"outcome": outcome, **fields})

    def record(self, kind: Kind, record: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            entry = {"id": next(self._ids), "kind": kind, "time": round(time.time(), 3)}
            entry |= {"pid": os.getpid(), "root": self.root, **record}
            self._ring.append(entry)
        if self._file is not None:
            self._file.info("%s", json.dumps(entry, default=str))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", explain(entry))
        return entry

    def close(self) -> None:
        for trace in self._traces.values():
            if trace is not None:
                trace.close()

    def last(self, kind: str | None = None, uri: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            for entry in reversed(self._ring):
                if (kind is None or entry["kind"] == kind) and (uri is None or entry["uri"] == uri):
                    return entry
        return None

    def recent(self, n: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._ring)[-n:]


def _file_logger(path: Path) -> logging.Logger | None:
    """A logger of its own that writes bare JSON lines to `path`, rotating."""
    logger = logging.getLogger(f"lsp_ai.records.file.{path}")
    logger.propagate = False  # not into lsp-ai.log, stderr or the editor
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=FILE_BYTES, backupCount=1, encoding="utf-8"
            )
        except OSError as exc:  # a read-only home: the ring still works
            log.warning("decisions are not written to %s: %s", path, exc)
            return None
        # A backend's error text is part of a record, and a server may echo the key in it.
        handler.setFormatter(RedactingFormatter("%(message)s"))
        logger.addHandler(handler)
    return logger


# -- plain words ------------------------------------------------------------------------------


def _place(r: dict[str, Any]) -> str:
    name = str(r.get("uri", "")).rsplit("/", 1)[-1] or "?"
    return f"{name}:{r.get('line', 0) + 1}:{r.get('character', 0) + 1}"


def _ms(value: Any) -> str:
    return f"{float(value):.0f} ms"


def explain(r: dict[str, Any]) -> str:
    """One decision in plain words, as `lsp-ai decisions` and explainLastCompletion show it."""
    if r.get("kind") == "chat":
        return _explain_chat(r)
    trigger = "asked for" if r.get("invoked") else "as you type"
    head = f"Completion #{r.get('id', '?')} at {_place(r)} ({trigger}), {_ms(r['server_ms'])}: "
    outcome = r.get("outcome")
    why = {
        "debounced": "not run: a newer keystroke on this document arrived before the model "
        "started (debounced).",
        "superseded": "dropped: a newer request on this document replaced it while the model "
        "was running.",
        "cancelled": "cancelled by the editor ($/cancelRequest).",
        "private": f"not run: the document is {r.get('reason', 'private')}; lsp-ai never sends "
        "it to a model.",
        "timeout": f"the model backend timed out: {r.get('error', '')}",
        "backend error": f"the model backend failed: {r.get('error', '')}",
        "error": f"failed: {r.get('error', '')}",
    }
    if outcome in why:
        return head + why[outcome]
    layout = r.get("layout", "")
    if outcome == "shown":
        text = str(r.get("text", ""))
        lines = text.count("\n") + 1
        shown = f"shown {lines} line{'s' * (lines > 1)}, {len(text)} characters"
        if layout == "cache":
            return head + shown + ", from the last suggestion (typing through it); no model run."
        if layout == "speculative":
            return head + shown + ", computed ahead while the last suggestion was read."
        return head + shown + ". " + _model_words(r)
    notes = "; ".join(r.get("notes") or []) or "the model produced no text"
    model = f" {_model_words(r)}" if r.get("model_ms") else ""
    return head + f"nothing shown: {notes}.{model}"


def _layout_words(layout: Any) -> str:
    return f"{layout} fill-in-the-middle" if layout and layout != "none" else "prefix only"


def _model_words(r: dict[str, Any]) -> str:
    parts = [
        f"The model ({_layout_words(r.get('layout'))}) took {_ms(r.get('model_ms', 0))}: "
        f"{r.get('prompt_tokens', 0)} prompt tokens, {r.get('cached_tokens', 0)} reused from "
        f"the KV cache, {r.get('generated_tokens', 0)} generated."
    ]
    context = r.get("context") or []
    if context:
        parts.append(f"Repository context: {', '.join(context)}.")
    else:
        parts.append("No repository context.")
    notes = [n for n in r.get("notes") or [] if n]
    if notes and r.get("outcome") == "shown":
        parts.append(f"Post-processing: {'; '.join(notes)}.")
    return " ".join(parts)


def _explain_chat(r: dict[str, Any]) -> str:
    head = f"Chat #{r.get('id', '?')}, {_ms(r.get('server_ms', 0))}: "
    if r.get("outcome") != "answered":
        return head + f"{r.get('outcome')}{': ' + r['error'] if r.get('error') else ''}."
    hits = r.get("hits") or []
    used = [h for h in hits if h.get("kept")]
    listed = ", ".join(f"{h['path']}:{h['startLine'] + 1} ({h['score']:.3f})" for h in used[:8])
    words = [
        head + f"answered with {r.get('prompt_tokens', 0)} prompt tokens.",
        f"Retrieval found {len(hits)} snippets; the prompt kept {len(used)}"
        + (f": {listed}." if listed else "."),
    ]
    if r.get("dropped_snippets") or r.get("dropped_turns"):
        words.append(
            f"The token budget dropped {r.get('dropped_snippets', 0)} snippets (lowest scores "
            f"first) and {r.get('dropped_turns', 0)} earlier turns."
        )
    timings = r.get("timings_ms") or {}
    if timings:
        words.append(
            "Time: " + ", ".join(f"{k} {_ms(v)}" for k, v in timings.items() if k != "prompt")
        )
    return " ".join(words)


# -- reading the file back (`lsp-ai decisions`) ----------------------------------------------------


def _parse(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None  # a line cut by rotation or a crash
    return entry if isinstance(entry, dict) and "kind" in entry else None


def read_decisions(path: Path) -> list[dict[str, Any]]:
    """Every decision in the file and its rotated backup, oldest first."""
    entries: list[dict[str, Any]] = []
    for part in (path.with_name(path.name + ".1"), path):
        try:
            lines = part.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        entries += [e for line in lines if (e := _parse(line)) is not None]
    return entries


def follow(path: Path, poll_s: float = 0.25) -> Iterator[dict[str, Any]]:
    """New decisions as servers append them, across rotations (like `tail -F`)."""
    handle = None
    inode = None
    while True:
        if handle is None:
            try:
                handle = path.open(encoding="utf-8", errors="replace")
                if inode is None:  # the first time: only what comes from now on
                    handle.seek(0, os.SEEK_END)
                inode = os.fstat(handle.fileno()).st_ino
            except OSError:
                time.sleep(poll_s)
                continue
        line = handle.readline()
        if line.endswith("\n"):
            if (entry := _parse(line)) is not None:
                yield entry
            continue
        time.sleep(poll_s)
        try:
            rotated = os.stat(path).st_ino != inode
        except OSError:
            rotated = True
        if rotated:  # the server rotated the file: read the new one from its start
            handle.close()
            handle = None
