"""A real LSP server object around a real assistant whose models are counting stand-ins.

Handlers are called directly, as pygls would call them after decoding a message; what the
server sends back to the client (notifications, workspace edits) is recorded instead of
written to a stream. The end-to-end tests drive the same handlers over stdio with real models.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pygls.workspace import Workspace

from lsp_ai.assistant import Assistant
from lsp_ai.lsp.features import documents
from lsp_ai.lsp.server import LspAiServer
from lsp_ai.lsp.setup import create_server
from tests.fakes import CountingModel, private_workspace, stand_ins


@dataclass
class Harness:
    ls: LspAiServer
    root: Path
    model: CountingModel  # completion
    chat_model: CountingModel
    sent: list[tuple[str, Any]] = field(default_factory=list)  # notifications to the client
    edits: list[lsp.ApplyWorkspaceEditParams] = field(default_factory=list)

    @property
    def assistant(self) -> Assistant:
        return self.ls.assistant

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def open(self, name: str, text: str) -> str:
        uri = self.uri(name)
        item = lsp.TextDocumentItem(uri=uri, language_id="", version=1, text=text)
        self.ls.workspace.put_text_document(item)
        documents.on_open(self.ls, lsp.DidOpenTextDocumentParams(text_document=item))
        return uri

    def messages(self, method: str) -> list[Any]:
        return [params for m, params in self.sent if m == method]


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    root = private_workspace(tmp_path, monkeypatch)
    ls = create_server()
    ls.protocol._workspace = Workspace(
        root.as_uri(), lsp.TextDocumentSyncKind.Incremental, [], lsp.PositionEncodingKind.Utf16
    )
    ls.protocol.client_capabilities = lsp.ClientCapabilities()
    models = stand_ins("total + tax", "It adds tax.")
    h = Harness(ls, root, models.completion, models.chat)
    ls.protocol.notify = lambda method, params=None: h.sent.append((method, params))  # type: ignore[method-assign]

    async def apply_edit(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        h.edits.append(params)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    ls.workspace_apply_edit_async = apply_edit  # type: ignore[method-assign]
    ls.assistant = Assistant(
        [root],
        notify=ls.notify_user,
        models=models.by_role(),
    )
    yield h
    ls.assistant.close()


async def settle(ls: LspAiServer) -> None:
    """Let callbacks posted to the loop (notifications from worker threads) run."""
    ls.loop = asyncio.get_running_loop()
    for _ in range(3):
        await asyncio.sleep(0)
