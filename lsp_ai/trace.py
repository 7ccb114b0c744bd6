"""Opt-in request traces, one JSON object per line, for benchmarks and "why?" questions.

LSP_AI_COMPLETION_TRACE=file records every completion request: the prompt, tokens evaluated
and reused from the KV cache, model and server time, and why nothing was shown.
LSP_AI_CHAT_TRACE=file records every chat: retrieval, prompt-building and model times, and
the prompt (its size and its messages). Both stay on this machine like everything else, and
are off unless set.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsp_ai.completion.service import CompletionResult

log = logging.getLogger(__name__)

COMPLETION_ENV = "LSP_AI_COMPLETION_TRACE"
CHAT_ENV = "LSP_AI_CHAT_TRACE"


class Trace:
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


def completion_record(
    *,
    uri: str,
    line: int,
    character: int,
    outcome: str,
    server_ms: float,
    result: CompletionResult | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "uri": uri,
        "line": line,
        "character": character,
        "outcome": outcome,
        "server_ms": round(server_ms, 3),
    }
    if result is not None:
        u = result.usage
        record |= {
            "text": result.text,
            "layout": result.layout,
            "model_ms": round(result.model_ms, 3),
            "prompt_tokens": u.prompt_tokens,
            "cached_tokens": u.cached_tokens,
            "evaluated_tokens": u.evaluated_tokens,
            "generated_tokens": u.generated_tokens,
            "first_token_ms": round(u.first_token_ms, 3),
            "context_snippets": result.context_snippets,
            "context": list(result.context_paths),
            "notes": result.notes,
            "stop": list(result.stop),
            "prompt": result.prompt,
        }
    return record
