"""workspace/executeCommand: search, reindex, status, explain the last completion."""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from lsp_ai.assistant import BadRequest
from lsp_ai.lsp import convert
from lsp_ai.lsp.protocol import CMD_EXPLAIN, CMD_REINDEX, CMD_SEARCH, CMD_STATUS
from lsp_ai.lsp.server import LspAiServer


async def search(ls: LspAiServer, *args: Any) -> list[dict[str, Any]]:
    query, k = convert.search_args(args)
    try:
        return convert.hits(await ls.assistant.search(query, k))
    except BadRequest as exc:
        raise convert.rpc_error(exc) from exc


def reindex(ls: LspAiServer, *args: Any) -> dict[str, Any]:
    ls.assistant.reindex()
    return {"started": True}


def status(ls: LspAiServer, *args: Any) -> dict[str, Any]:
    return convert.status(ls.assistant.status())


def explain(ls: LspAiServer, *args: Any) -> dict[str, Any]:
    uri = args[0] if args else None
    if uri is not None and not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{CMD_EXPLAIN} takes [uri?]: uri must be a string")
    text, entry = ls.assistant.explain_last_completion(uri)
    # Commands run from a palette show no result: the explanation also comes as a message.
    ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Info, message=text))
    return {"text": text, "decision": entry}


def register(server: LspAiServer) -> None:
    server.command(CMD_SEARCH)(search)
    server.command(CMD_REINDEX)(reindex)
    server.command(CMD_STATUS)(status)
    server.command(CMD_EXPLAIN)(explain)
