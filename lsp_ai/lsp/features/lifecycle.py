"""initialize, initialized, configuration, workspace folders, shutdown."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from lsp_ai import __version__
from lsp_ai.assistant import Assistant
from lsp_ai.logs import CallbackHandler
from lsp_ai.lsp.features.indexing import crawl_progress
from lsp_ai.lsp.protocol import CONFIG_SECTION
from lsp_ai.lsp.server import LspAiServer
from lsp_ai.records import Recorder, decisions_path

log = logging.getLogger(__name__)


def roots(params: lsp.InitializeParams) -> list[Path]:
    uris = [f.uri for f in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    paths = [Path(p) for u in uris if (p := to_fs_path(u))]
    if not paths and params.root_path:
        paths = [Path(params.root_path)]
    return paths or [Path.cwd()]


async def on_initialize(ls: LspAiServer, params: lsp.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    opts = params.initialization_options
    where = roots(params)
    ls.assistant = Assistant(
        where,
        init_options=opts if isinstance(opts, dict) else {},
        recorder=Recorder(str(where[0]), decisions_path()),
        notify=ls.notify_user,
        crawl_progress=lambda: crawl_progress(ls),
    )
    _forward_logs(ls)
    log.info("lsp-ai %s serving %s", __version__, ", ".join(map(str, where)))


def _forward_logs(ls: LspAiServer) -> None:
    """Logs reach the editor as window/logMessage; at debug level every decision does too."""

    def forward(record: logging.LogRecord, text: str) -> None:
        level = lsp.MessageType.Info
        if record.levelno >= logging.ERROR:
            level = lsp.MessageType.Error
        elif record.levelno >= logging.WARNING:
            level = lsp.MessageType.Warning
        ls.post(lambda: ls.window_log_message(lsp.LogMessageParams(type=level, message=text)))

    debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    level = logging.DEBUG if debug else logging.INFO
    logging.getLogger("lsp_ai").addHandler(CallbackHandler(forward, level))


async def on_initialized(ls: LspAiServer, params: lsp.InitializedParams) -> None:
    ls.assistant.start()
    if (settings := await pull_settings(ls)) is not None:
        await ls.assistant.apply_config(settings)


async def pull_settings(ls: LspAiServer) -> dict[str, Any] | None:
    """The client's `lsp-ai` settings, asked for with workspace/configuration when it can."""
    caps = ls.client_capabilities.workspace
    if not (caps and caps.configuration):
        return None
    try:
        items = [lsp.ConfigurationItem(section=CONFIG_SECTION)]
        result = await ls.workspace_configuration_async(lsp.ConfigurationParams(items=items))
    except Exception:
        log.debug("workspace/configuration pull failed", exc_info=True)
        return None
    return result[0] if result and isinstance(result[0], dict) and result[0] else None


async def on_change_configuration(
    ls: LspAiServer, params: lsp.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if not isinstance(settings, dict) or not settings:
        settings = await pull_settings(ls)  # pull-style clients send null and expect us to ask
    await ls.assistant.apply_config(settings)


def on_change_folders(ls: LspAiServer, params: lsp.DidChangeWorkspaceFoldersParams) -> None:
    folders = [Path(p) for f in ls.workspace.folders.values() if (p := to_fs_path(f.uri))]
    ls.assistant.set_roots(folders)


def on_shutdown(ls: LspAiServer, params: None) -> None:
    if ls.initialized:
        ls.assistant.close()


def register(server: LspAiServer) -> None:
    server.feature(lsp.INITIALIZE)(on_initialize)
    server.feature(lsp.INITIALIZED)(on_initialized)
    server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)(on_change_configuration)
    server.feature(lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)(on_change_folders)
    server.feature(lsp.SHUTDOWN)(on_shutdown)
