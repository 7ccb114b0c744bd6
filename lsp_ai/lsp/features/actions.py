"""Code actions on a selection (explain, docstring, refactor) and the command that runs one.

Each action runs as a command that applies its own edit, so the model runs only for the action
the user picks (and clients without codeAction/resolve get them too).
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp

from lsp_ai.assistant import BadRequest, Level
from lsp_ai.chat.actions import action_title
from lsp_ai.inference.base import ModelError
from lsp_ai.lsp import convert
from lsp_ai.lsp.protocol import CMD_CODE_ACTION
from lsp_ai.lsp.server import LspAiServer

NOTHING_USABLE = "{title}: the model gave nothing usable; try again"
KINDS = {
    "explain": lsp.CodeActionKind.Refactor,  # adds a comment: not a rewrite of the code
    "docstring": lsp.CodeActionKind.RefactorRewrite,
    "refactor": lsp.CodeActionKind.RefactorRewrite,
}


def _wanted(kind: lsp.CodeActionKind, only: list[str] | None) -> bool:
    return not only or any(kind.value == o or kind.value.startswith(f"{o}.") for o in only)


def code_action(ls: LspAiServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    r, uri = params.range, params.text_document.uri
    if r.start == r.end:
        return []
    only = [str(getattr(k, "value", k)) for k in params.context.only or []]
    offered = [a for a in ls.assistant.actions_for(uri) if _wanted(KINDS[a], only)]
    return [_offer(a, uri, r) for a in offered]


def _offer(action: str, uri: str, r: lsp.Range) -> lsp.CodeAction:
    """The action as a command that runs it on the selection, so the model runs on choice."""
    title = action_title(action)
    arguments = convert.action_arguments(action, uri, r)
    command = lsp.Command(title=title, command=CMD_CODE_ACTION, arguments=arguments)
    return lsp.CodeAction(title=title, kind=KINDS[action], command=command)


async def run_code_action(ls: LspAiServer, *args: Any) -> dict[str, Any]:
    action, uri, first, last = convert.action_args(args)
    doc = ls.document(uri)
    version, lines = doc.version, doc.source.split("\n")  # the text the model saw
    try:
        result = await ls.assistant.run_action(convert.action_query(action, uri, doc, first, last))
    except (BadRequest, ModelError) as exc:
        raise convert.rpc_error(exc) from exc
    if result.edit is None:
        ls.notify_user(Level.WARNING, NOTHING_USABLE.format(title=action_title(action)))
        return {"applied": False, "content": result.content}
    edit = convert.line_edit(doc, lines, result.edit)
    applied = await _apply(ls, action, convert.workspace_edit(uri, version, edit, _versioned(ls)))
    return {"applied": applied, "content": result.content}


async def _apply(ls: LspAiServer, action: str, edit: lsp.WorkspaceEdit) -> bool:
    params = lsp.ApplyWorkspaceEditParams(edit=edit, label=action_title(action))
    answer = await ls.workspace_apply_edit_async(params)
    return bool(answer and answer.applied)


def _versioned(ls: LspAiServer) -> bool:
    caps = ls.client_capabilities.workspace
    return bool(caps and caps.workspace_edit and caps.workspace_edit.document_changes)


def register(server: LspAiServer) -> None:
    server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(
            code_action_kinds=[lsp.CodeActionKind.Refactor, lsp.CodeActionKind.RefactorRewrite]
        ),
    )(code_action)
    server.command(CMD_CODE_ACTION)(run_code_action)
