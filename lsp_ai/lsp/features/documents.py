"""didOpen, didChange, didSave, didClose: the assistant follows the user's buffers."""

from __future__ import annotations

from lsprotocol import types as lsp

from lsp_ai.lsp.server import LspAiServer


def on_open(ls: LspAiServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.assistant.document_opened(params.text_document.uri, params.text_document.text)


def on_change(ls: LspAiServer, params: lsp.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        return  # pygls already logged a change to a document never opened
    edited = [
        c.range.start.line
        for c in params.content_changes
        if isinstance(c, lsp.TextDocumentContentChangePartial)
    ]
    ls.assistant.document_changed(uri, doc.source, edited[-1] if edited else None)


async def on_save(ls: LspAiServer, params: lsp.DidSaveTextDocumentParams) -> None:
    await ls.assistant.document_saved(params.text_document.uri)


def on_close(ls: LspAiServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.assistant.document_closed(params.text_document.uri)


def register(server: LspAiServer) -> None:
    server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)(on_open)
    server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)(on_change)
    server.feature(lsp.TEXT_DOCUMENT_DID_SAVE, lsp.SaveOptions(include_text=False))(on_save)
    server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)(on_close)
