"""Chat sessions: history per `sessionId`, in memory and on disk next to the index.

A restarted server (or `lsp-ai ask` run twice) continues a conversation by its id. Each
session is one small JSON file, named by a hash of the id so that any string a client sends
is a safe file name; writes go through a temporary file and a rename, so a crash leaves the
old history or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path

from lsp_ai.inference.base import ChatMessage

log = logging.getLogger(__name__)

MAX_TURNS_KEPT = 20  # messages per session (user and assistant each count)
MAX_SESSIONS_KEPT = 200  # on disk; the least recently used go first


class SessionStore:
    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._memory: dict[str, list[ChatMessage]] = {}
        self._lock = threading.Lock()

    def _file(self, session_id: str) -> Path | None:
        if self._folder is None:
            return None
        digest = hashlib.sha256(session_id.encode()).hexdigest()[:32]
        return self._folder / f"{digest}.json"

    def history(self, session_id: str) -> list[ChatMessage]:
        with self._lock:
            if session_id in self._memory:
                return list(self._memory[session_id])
        turns = self._read(session_id)
        with self._lock:
            self._memory.setdefault(session_id, turns)
            return list(self._memory[session_id])

    def append(self, session_id: str, question: str, answer: str) -> None:
        with self._lock:
            turns = self._memory.setdefault(session_id, [])
            turns.append({"role": "user", "content": question})
            turns.append({"role": "assistant", "content": answer})
            del turns[:-MAX_TURNS_KEPT]
            snapshot = list(turns)
        self._write(session_id, snapshot)

    def _read(self, session_id: str) -> list[ChatMessage]:
        path = self._file(session_id)
        if path is None or not path.is_file():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("id") != session_id:
                return []  # a hash collision, or a file from elsewhere
            turns = [
                ChatMessage(role=t["role"], content=str(t["content"]))
                for t in data["turns"]
                if t.get("role") in ("user", "assistant")
            ]
            return turns[-MAX_TURNS_KEPT:]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("chat session file %s unreadable (%s); starting it afresh", path, exc)
            return []

    def _write(self, session_id: str, turns: list[ChatMessage]) -> None:
        path = self._file(session_id)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            payload = {"id": session_id, "updated": time.time(), "turns": turns}
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, path)
            self._prune(path.parent)
        except OSError as exc:
            log.warning("could not save chat session to %s: %s", path, exc)

    @staticmethod
    def _prune(folder: Path) -> None:
        files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in files[:-MAX_SESSIONS_KEPT]:
            old.unlink(missing_ok=True)
