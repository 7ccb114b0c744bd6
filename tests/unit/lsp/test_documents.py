"""The documents feature: what the assistant keeps of the user's buffers."""

from __future__ import annotations

import asyncio

from lsprotocol import types as lsp

from lsp_ai.live_index import CHANGE_DEBOUNCE_S
from lsp_ai.lsp.features import documents
from tests.unit.lsp.conftest import Harness, settle


def change(uri: str, line: int, text: str) -> lsp.DidChangeTextDocumentParams:
    at = lsp.Position(line=line, character=0)
    return lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangePartial(range=lsp.Range(at, at), text=text)],
    )


async def test_an_edit_is_remembered_where_it_happened_and_indexed_after_a_pause(
    harness: Harness,
) -> None:
    await settle(harness.ls)
    uri = harness.open("a.py", "a = 1\nb = 2\n")
    params = change(uri, 1, "c = 3\n")
    harness.ls.workspace.update_text_document(params.text_document, params.content_changes[0])
    documents.on_change(harness.ls, params)
    doc = harness.assistant.documents.get(uri)
    assert doc is not None and doc.edited_line == 1
    assert harness.assistant.live.pending == 1  # debounced, not yet in the index
    await asyncio.sleep(CHANGE_DEBOUNCE_S + 0.2)
    for _ in range(200):  # the update waits for a pause in typing, then runs in the worker
        if harness.assistant.live.pending == 0:
            break
        await asyncio.sleep(0.05)
    assert harness.assistant.live.pending == 0
    excerpts = harness.assistant.wiring.recent
    assert any("c = 3" in w.text for w in excerpts.others("")), "the recent-code excerpt saw it"


async def test_a_private_buffer_is_never_queued_for_the_index(harness: Harness) -> None:
    await settle(harness.ls)
    uri = harness.open(".env", "A=1\n")
    documents.on_change(harness.ls, change(uri, 0, "B=2\n"))
    assert harness.assistant.live.pending == 0


def test_a_change_to_a_document_never_opened_is_ignored(harness: Harness) -> None:
    documents.on_change(harness.ls, change(harness.uri("ghost.py"), 0, "x"))
    assert harness.assistant.live.pending == 0


def test_closing_forgets_the_document(harness: Harness) -> None:
    uri = harness.open("a.py", "x = 1\n")
    params = lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    documents.on_close(harness.ls, params)
    assert harness.assistant.documents.get(uri) is None
