"""A long prompt is evaluated a batch at a time when chat asks to pause between batches.

Chat passes `between_batches` so a completion arriving during its prompt evaluation gets the
CPU (lsp_ai.concurrency.CompletionFirst); these run the real embedded model.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lsp_ai.concurrency import Cancelled, CancelToken
from lsp_ai.inference.base import GenerationParams
from lsp_ai.inference.discovery import embedded_gguf
from lsp_ai.inference.llama_cpp import LlamaCppModel

PROMPT = "".join(f"def handler_{i}(event):\n    return event.value + {i}\n\n" for i in range(20))


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaCppModel]:
    m = LlamaCppModel(embedded_gguf(), role="chat", n_ctx=2048)
    yield m
    m.close()


def test_batched_prefill_pauses_between_batches_and_answers_the_same(
    model: LlamaCppModel,
) -> None:
    plain = "".join(model.stream(PROMPT, GenerationParams(12), CancelToken()))
    list(model.stream("unrelated", GenerationParams(1), CancelToken()))  # forget the prompt

    pauses = []
    params = GenerationParams(12, between_batches=lambda: pauses.append(1))
    paused = "".join(model.stream(PROMPT, params, CancelToken()))

    usage = model.last_usage
    new_tokens = usage.prompt_tokens - usage.cached_tokens - 1  # the last one is generate()'s
    assert len(pauses) == -(-new_tokens // 128) > 1
    assert paused == plain


def test_a_cancel_while_paused_stops_before_the_next_batch(model: LlamaCppModel) -> None:
    list(model.stream("unrelated", GenerationParams(1), CancelToken()))
    token = CancelToken()
    pauses = []

    def pause() -> None:
        pauses.append(1)
        if len(pauses) == 2:
            token.cancel("superseded")

    with pytest.raises(Cancelled):
        list(model.stream(PROMPT, GenerationParams(12, between_batches=pause), token))
    assert len(pauses) == 2
    # The model still answers afterwards, and reuses what the first batch left in the cache.
    assert "".join(model.stream(PROMPT, GenerationParams(4), CancelToken()))
    assert model.last_usage.cached_tokens >= 128
