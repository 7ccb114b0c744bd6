"""The paced stream: a chat model's answer, token by token, always behind completions.

On two cores a chat generation and a completion running at once each get half the CPU;
so chat and code actions both stream through here, which gives way to any completion during
the prompt's evaluation (between batches) and between tokens, and stops at a cancel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lsp_ai.concurrency import CancelToken, CompletionFirst
from lsp_ai.inference.base import ChatMessage, GenerationParams, TextModel

# Small models loop on their own phrases in long answers; a mild penalty breaks that.
REPEAT_PENALTY = 1.1


@dataclass(frozen=True)
class Streamed:
    text: str  # the whole answer, stripped
    first_token_ms: float | None  # None when the model said nothing
    total_ms: float


def paced_stream(
    model: TextModel,
    messages: Sequence[ChatMessage],
    *,
    max_tokens: int,
    temperature: float,
    first: CompletionFirst,
    cancel: CancelToken,
    on_delta: Callable[[str], None],
) -> Streamed:
    """Stream the answer to `on_delta`; raises Cancelled if `cancel` fires."""
    params = GenerationParams(
        max_tokens,
        temperature,
        repeat_penalty=REPEAT_PENALTY,
        between_batches=lambda: first.wait_for_completions(cancel),
    )
    started = time.perf_counter()
    first_token_ms = None
    parts: list[str] = []
    with first.answering():  # background embedding waits meanwhile
        for delta in model.stream_chat(messages, params, cancel):
            if first_token_ms is None:
                first_token_ms = (time.perf_counter() - started) * 1000
            parts.append(delta)
            on_delta(delta)
            first.wait_for_completions(cancel)
            cancel.raise_if_cancelled()
    total_ms = (time.perf_counter() - started) * 1000
    return Streamed("".join(parts).strip(), first_token_ms, total_ms)
