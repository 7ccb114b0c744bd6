"""Per-role llama.cpp options reach the real library."""

from __future__ import annotations

from lsp_ai.concurrency import CancelToken
from lsp_ai.inference.base import GenerationParams
from lsp_ai.inference.discovery import embedded_gguf
from lsp_ai.inference.llama_cpp import LlamaCppModel


def test_a_quantised_kv_cache_loads_and_generates() -> None:
    model = LlamaCppModel(embedded_gguf(), role="chat", n_ctx=512, kv_cache_type="q8_0")
    try:
        text = "".join(
            model.stream("def add(a, b):\n    return", GenerationParams(4), CancelToken())
        )
        assert text and model.last_usage.generated_tokens >= 1
    finally:
        model.close()
