"""An opt-in record of every completion request, one JSON object per line.

Set LSP_AI_COMPLETION_TRACE to a file path and the server appends what each request cost
and why it showed what it showed: the prompt, tokens evaluated and reused from the KV
cache, model and server time. Benchmarks read it; so can a user asking "why no suggestion?".
It stays on this machine like everything else, and is off unless asked for.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from lsp_ai.completion.service import CompletionResult

log = logging.getLogger(__name__)

ENV = "LSP_AI_COMPLETION_TRACE"


class CompletionTrace:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> CompletionTrace | None:
        if not (value := os.environ.get(ENV)):
            return None
        try:
            return cls(Path(value).expanduser())
        except OSError as exc:
            log.warning("%s=%s cannot be written (%s); no completion trace", ENV, value, exc)
            return None

    def write(
        self,
        *,
        uri: str,
        line: int,
        character: int,
        outcome: str,
        server_ms: float,
        result: CompletionResult | None = None,
    ) -> None:
        record: dict[str, Any] = {
            "time": time.time(),
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
                "notes": result.notes,
                "stop": list(result.stop),
                "prompt": result.prompt,
            }
        with self._lock:
            self._file.write(json.dumps(record) + "\n")

    def close(self) -> None:
        self._file.close()
