"""The completion feature: conversion, privacy, latest-wins and speculation, via the handlers."""

from __future__ import annotations

import asyncio

from lsprotocol import types as lsp

from lsp_ai.lsp.features.completion import completion, inline_completion
from tests.unit.lsp.conftest import Harness


def inline(uri: str, line: int, character: int, invoked: bool = True) -> lsp.InlineCompletionParams:
    kind = (
        lsp.InlineCompletionTriggerKind.Invoked
        if invoked
        else lsp.InlineCompletionTriggerKind.Automatic
    )
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=character),
        context=lsp.InlineCompletionContext(trigger_kind=kind),
    )


async def test_ghost_text_goes_at_the_cursor_in_the_clients_units(harness: Harness) -> None:
    # "😀" is one code point and two UTF-16 units: the client's character 8 is code point 7.
    uri = harness.open("a.py", "s = '😀'; x = ")
    result = await inline_completion(harness.ls, inline(uri, 0, 14))
    (item,) = result.items
    assert item.insert_text == "total + tax"
    assert item.range == lsp.Range(start=lsp.Position(0, 14), end=lsp.Position(0, 14))
    assert harness.model.prompts[0].endswith("x = ")  # the model saw the text up to the cursor


async def test_a_completion_item_replaces_the_word_before_the_cursor(harness: Harness) -> None:
    uri = harness.open("a.py", "x = to")
    params = lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(0, 6)
    )
    (item,) = (await completion(harness.ls, params)).items
    assert item.text_edit is not None and isinstance(item.text_edit, lsp.TextEdit)
    assert item.text_edit.range.start == lsp.Position(0, 4)
    assert item.text_edit.new_text == "tototal + tax"


async def test_a_secret_never_reaches_the_model_and_the_refusal_is_recorded(
    harness: Harness,
) -> None:
    uri = harness.open(".env", "TOKEN = ")
    assert (await inline_completion(harness.ls, inline(uri, 0, 8))).items == []
    assert harness.model.calls == 0
    text, entry = harness.assistant.explain_last_completion(uri)
    assert entry is not None and entry["outcome"] == "private" and "secret" in text


async def test_a_newer_request_on_the_document_supersedes_the_older_one(harness: Harness) -> None:
    uri = harness.open("a.py", "x = ")
    harness.model.hold()
    first = asyncio.ensure_future(inline_completion(harness.ls, inline(uri, 0, 4)))
    await asyncio.to_thread(harness.model.started.wait, 5)
    harness.ls.workspace.get_text_document(uri)._source = "x = 1\ny = "
    second = asyncio.ensure_future(inline_completion(harness.ls, inline(uri, 1, 4)))
    await asyncio.sleep(0.05)
    harness.model.release()
    assert (await first).items == []  # superseded while the model ran
    assert [i.insert_text for i in (await second).items] == ["total + tax"]
    outcomes = [d["outcome"] for d in harness.assistant.recorder.recent(5)]
    assert "superseded" in outcomes and "shown" in outcomes


async def test_accepting_a_suggestion_is_answered_by_the_one_computed_ahead(
    harness: Harness,
) -> None:
    uri = harness.open("a.py", "x = ")
    await inline_completion(harness.ls, inline(uri, 0, 4))
    for _ in range(100):  # the speculation runs in the background after the answer
        if harness.model.calls == 2:
            break
        await asyncio.sleep(0.01)
    harness.ls.workspace.get_text_document(uri)._source = "x = total + tax"
    ahead = await inline_completion(harness.ls, inline(uri, 0, 15))
    assert harness.model.calls == 2  # the accepted position asked nothing more of the model
    last = harness.assistant.recorder.last("completion", uri)
    assert last is not None and last["layout"] == "speculative", last
    assert [i.insert_text for i in ahead.items] == ["total + tax"]


async def test_a_request_for_a_document_never_opened_is_a_clear_error(harness: Harness) -> None:
    try:
        await inline_completion(harness.ls, inline(harness.uri("nope.py"), 0, 0))
    except Exception as exc:
        assert "not open" in str(exc) and "didOpen" in str(exc)
    else:
        raise AssertionError("expected an error")
