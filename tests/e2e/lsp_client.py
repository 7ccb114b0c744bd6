"""A pytest-lsp client that also records `$/chat` deltas, and a session helper.

pytest-lsp's default `$/progress` handler only knows work-done shapes, so chat's
`{"delta": ...}` values need a handler of our own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pygls.protocol.json_rpc import JsonRPCRequestMessage, JsonRPCResponseMessage
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from tests.conftest import SERVER_COMMAND, isolated_env


class RecordingClient(LanguageClient):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deltas: dict[Any, list[str]] = {}
        self.work_done: dict[Any, list[dict[str, Any]]] = {}
        self.progress_event = asyncio.Event()
        self.applied_edits: list[lsp.ApplyWorkspaceEditParams] = []
        self.init_result: lsp.InitializeResult | None = None

    def chat_text(self, token: Any) -> str:
        return "".join(self.deltas.get(token, []))

    async def wait_for_progress(self, predicate: Any, timeout: float = 60) -> None:
        """Wait until `predicate(client)` holds, re-checking on every `$/progress`."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self.progress_event.clear()
                await self.progress_event.wait()


def _converter() -> Any:
    """Results of custom methods stay plain dicts (pygls turns them into namedtuples)."""
    conv = default_converter()
    conv.register_structure_hook(JsonRPCResponseMessage, lambda obj, cls: cls(**obj))
    return conv


def make_client() -> RecordingClient:
    client = RecordingClient(converter_factory=_converter)
    features = {k: v for k, v in DEFAULT_CLIENT_FEATURES.items() if k != lsp.PROGRESS}
    register_lsp_features(client, features)

    @client.feature(lsp.PROGRESS)
    def on_progress(client: RecordingClient, params: lsp.ProgressParams) -> None:
        value = params.value
        if isinstance(value, dict) and "delta" in value:
            client.deltas.setdefault(params.token, []).append(value["delta"])
        elif isinstance(value, dict):
            client.work_done.setdefault(params.token, []).append(value)
        client.progress_event.set()

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def on_apply_edit(
        client: RecordingClient, params: lsp.ApplyWorkspaceEditParams
    ) -> lsp.ApplyWorkspaceEditResult:
        client.applied_edits.append(params)  # recorded, not applied: tests read the edit
        return lsp.ApplyWorkspaceEditResult(applied=True)

    return client


@asynccontextmanager
async def lsp_session(
    root: Path,
    home: Path,
    *,
    editor: str = "visual_studio_code",
    init_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> AsyncIterator[RecordingClient]:
    """Start `python -m lsp_ai serve` (or `command`), initialize it on `root`, shut it down."""
    config = ClientServerConfig(
        server_command=command or SERVER_COMMAND,
        client_factory=make_client,
        server_env=isolated_env(home) | (env or {}),
    )
    client = await config.start()
    assert isinstance(client, RecordingClient)
    client.init_result = await client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities(editor),
            root_uri=root.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=init_options,
        )
    )
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


async def send_raw(client: LanguageClient, method: str, params: Any) -> Any:
    """Send a request exactly as given, bypassing the client's own typed serialisation."""
    msg_id = uuid.uuid4().hex
    future: Future[Any] = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data(
        JsonRPCRequestMessage(id=msg_id, method=method, jsonrpc="2.0", params=params)
    )
    return await asyncio.wrap_future(future)


def open_doc(
    client: LanguageClient, path: Path, text: str | None = None, lang: str = "python"
) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri,
                language_id=lang,
                version=1,
                text=path.read_text() if text is None else text,
            )
        )
    )
    return uri
