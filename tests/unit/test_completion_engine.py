"""CompletionEngine plumbing with a counting stand-in model: typing-through and skips.

What the real model produces is tested end to end in tests/e2e; here the question is only
whether the service calls the model at all.
"""

from __future__ import annotations

from lsp_ai.completion.engine import CompletionEngine, CompletionRequest
from lsp_ai.concurrency import CancelToken
from lsp_ai.inference.slots import ModelSlot
from tests.fakes import CountingModel


def service(model: CountingModel) -> CompletionEngine:
    slot: ModelSlot[CountingModel] = ModelSlot("completion", lambda: model)
    return CompletionEngine(slot, fim_template="auto", max_tokens=16, multiline="never")  # type: ignore[arg-type]


def test_typing_the_suggestion_is_answered_without_the_model() -> None:
    model = CountingModel("total + tax")
    svc = service(model)
    first = svc.complete(CompletionRequest("x = ", 0, 4, "a.py", "python"), CancelToken())
    assert first.text == "total + tax" and model.calls == 1
    typed = svc.complete(CompletionRequest("x = tot", 0, 7, "a.py", "python"), CancelToken())
    assert typed.text == "al + tax" and typed.layout == "cache"
    assert model.calls == 1


def test_typing_something_else_asks_the_model_again() -> None:
    model = CountingModel("total")
    svc = service(model)
    svc.complete(CompletionRequest("x = ", 0, 4, "a.py", "python"), CancelToken())
    svc.complete(CompletionRequest("x = q", 0, 5, "a.py", "python"), CancelToken())
    assert model.calls == 2


def test_cache_is_per_document() -> None:
    model = CountingModel("total")
    svc = service(model)
    svc.complete(CompletionRequest("x = ", 0, 4, "a.py", "python"), CancelToken())
    svc.complete(CompletionRequest("x = to", 0, 6, "b.py", "python"), CancelToken())
    assert model.calls == 2


def test_no_model_call_in_a_comment_unless_invoked() -> None:
    model = CountingModel("words")
    svc = service(model)
    req = CompletionRequest("# a comment ", 0, 12, "a.py", "python")
    assert svc.complete(req, CancelToken()).text == "" and model.calls == 0
    invoked = CompletionRequest("# a comment ", 0, 12, "a.py", "python", invoked=True)
    assert svc.complete(invoked, CancelToken()).text == "words" and model.calls == 1


def test_the_suggestion_after_an_accepted_one_is_ready_ahead() -> None:
    model = CountingModel("total")
    svc = service(model)
    req = CompletionRequest("x = ", 0, 4, "a.py", "python")
    assert svc.complete(req, CancelToken()).text == "total"
    assert svc.speculate(req, "total", CancelToken()) and model.calls == 2
    accepted = CompletionRequest("x = total", 0, 9, "a.py", "python")
    ahead = svc.complete(accepted, CancelToken())
    assert ahead.layout == "speculative" and ahead.text == "total" and model.calls == 2


def test_speculation_is_skipped_once_the_document_moved_on() -> None:
    model = CountingModel("total")
    svc = service(model)
    svc.complete(CompletionRequest("x = ", 0, 4, "a.py", "python"), CancelToken())
    svc.complete(CompletionRequest("x = q", 0, 5, "a.py", "python"), CancelToken())
    stale = CompletionRequest("x = ", 0, 4, "a.py", "python")
    assert not svc.speculate(stale, "total", CancelToken()) and model.calls == 2
