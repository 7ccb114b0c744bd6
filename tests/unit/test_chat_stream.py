"""The paced chat stream (chat and code actions): completions go first, a cancel stops it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from lsp_ai.chat.actions import ActionRequest, CodeActions
from lsp_ai.chat.stream import paced_stream
from lsp_ai.concurrency import Cancelled, CancelToken, CompletionFirst
from lsp_ai.inference.base import ChatMessage, FimTokens, GenerationParams
from lsp_ai.inference.slots import ModelSlot

MESSAGES: list[ChatMessage] = [{"role": "user", "content": "hi"}]


class ScriptedModel:
    name = "scripted"
    n_ctx = 512

    def __init__(self, deltas: list[str]) -> None:
        self.deltas = deltas
        self.pulled = 0  # deltas the caller asked for
        self.params: GenerationParams | None = None

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def fim_tokens(self) -> FimTokens | None:
        return None

    def stream(self, prompt: str, params: GenerationParams, cancel: CancelToken) -> Iterator[str]:
        yield from ()

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Iterator[str]:
        self.params = params
        for d in self.deltas:
            self.pulled += 1
            yield d

    def describe(self) -> dict[str, object]:
        return {}


def test_the_stream_joins_the_deltas_and_times_the_first() -> None:
    model, seen = ScriptedModel([" a", "b "]), []
    out = paced_stream(
        model,  # type: ignore[arg-type]
        MESSAGES,
        max_tokens=7,
        temperature=0.3,
        first=CompletionFirst(),
        cancel=CancelToken(),
        on_delta=seen.append,
    )
    assert out.text == "ab" and seen == [" a", "b "]  # the answer is stripped, deltas are not
    assert out.first_token_ms is not None and out.first_token_ms >= 0
    p = model.params
    assert p is not None and (p.max_tokens, p.temperature, p.repeat_penalty) == (7, 0.3, 1.1)
    assert p.between_batches is not None
    p.between_batches()  # no completion running: it does not block
    empty = paced_stream(
        ScriptedModel([]),  # type: ignore[arg-type]
        MESSAGES,
        max_tokens=7,
        temperature=0.0,
        first=CompletionFirst(),
        cancel=CancelToken(),
        on_delta=seen.append,
    )
    assert empty.text == "" and empty.first_token_ms is None


def test_a_running_completion_holds_the_stream_between_tokens() -> None:
    completions, model, streamed = (
        CompletionFirst(),
        ScriptedModel(["a", "b", "c"]),
        threading.Event(),
    )
    result: list[str] = []
    with completions:  # a completion is running

        def run() -> None:
            out = paced_stream(
                model,  # type: ignore[arg-type]
                MESSAGES,
                max_tokens=8,
                temperature=0.0,
                first=completions,
                cancel=CancelToken(),
                on_delta=lambda _d: streamed.set(),
            )
            result.append(out.text)

        worker = threading.Thread(target=run)
        worker.start()
        assert streamed.wait(5)
        worker.join(0.2)
        assert worker.is_alive() and model.pulled == 1  # waiting for the completion
    worker.join(5)
    assert result == ["abc"]


def test_a_cancel_stops_the_stream_before_the_next_token() -> None:
    model, token = ScriptedModel(["a", "b", "c"]), CancelToken()
    with pytest.raises(Cancelled):
        paced_stream(
            model,  # type: ignore[arg-type]
            MESSAGES,
            max_tokens=8,
            temperature=0.0,
            first=CompletionFirst(),
            cancel=token,
            on_delta=lambda _d: token.cancel("superseded"),
        )
    assert model.pulled == 1


def test_code_actions_stream_through_the_paced_loop() -> None:
    model = ScriptedModel(["It adds", " up the prices."])
    slot: ModelSlot[ScriptedModel] = ModelSlot("chat", lambda: model)
    actions = CodeActions(slot, CompletionFirst(), max_tokens=32, temperature=0.1)  # type: ignore[arg-type]
    seen: list[str] = []
    src = "def total(items):\n    return sum(i.price for i in items)\n"
    out = actions.run(
        ActionRequest("explain", src, 0, 1, "a.py", "python"), CancelToken(), seen.append
    )
    assert seen == ["It adds", " up the prices."]
    assert out.edit is not None and out.edit.new_text == "# It adds up the prices.\n"
    assert model.params is not None and model.params.max_tokens == 32


def test_background_work_waits_until_the_answer_is_streamed() -> None:
    first, released, held = CompletionFirst(), threading.Event(), []

    def background() -> None:
        first.wait_for_foreground()
        released.set()

    def on_delta(_delta: str) -> None:
        if not held:
            threading.Thread(target=background, daemon=True).start()
        held.append(not released.wait(0.05))

    paced_stream(
        ScriptedModel(["a", "b"]),  # type: ignore[arg-type]
        MESSAGES,
        max_tokens=7,
        temperature=0.0,
        first=first,
        cancel=CancelToken(),
        on_delta=on_delta,
    )
    assert held == [True, True]  # embedding waited through every token
    assert released.wait(2)  # and ran once the answer was done
