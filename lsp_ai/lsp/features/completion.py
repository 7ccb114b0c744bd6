"""textDocument/inlineCompletion (ghost text) and textDocument/completion (one item)."""

from __future__ import annotations

from lsprotocol import types as lsp

from lsp_ai.lsp import convert
from lsp_ai.lsp.server import LspAiServer


async def inline_completion(
    ls: LspAiServer, params: lsp.InlineCompletionParams
) -> lsp.InlineCompletionList:
    uri = params.text_document.uri
    doc = ls.document(uri)
    at = convert.code_points(doc, params.position)
    invoked = params.context.trigger_kind == lsp.InlineCompletionTriggerKind.Invoked
    result = await ls.assistant.complete(uri, doc.source, at.line, at.character, invoked)
    return convert.inline_list(ls.document(uri), at, result)


async def completion(ls: LspAiServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    doc = ls.document(uri)
    at = convert.code_points(doc, params.position)
    trigger = params.context.trigger_kind if params.context else None
    invoked = trigger == lsp.CompletionTriggerKind.Invoked
    result = await ls.assistant.complete(uri, doc.source, at.line, at.character, invoked)
    return convert.completion_list(ls.document(uri), at, result)


def register(server: LspAiServer) -> None:
    server.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions())(
        inline_completion
    )
    server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", "("])
    )(completion)
