"""`create_server()`: a new language server with every feature module's handlers registered."""

from __future__ import annotations

from lsp_ai.lsp.features import actions, chat, commands, completion, documents, lifecycle
from lsp_ai.lsp.server import LspAiServer

FEATURES = (lifecycle, documents, completion, chat, actions, commands)


def create_server() -> LspAiServer:
    server = LspAiServer()
    for feature in FEATURES:
        feature.register(server)
    return server
