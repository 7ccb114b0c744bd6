"""LSP shapes to the assistant's types and back; camelCase lives here and nowhere else.

Positions arrive in the client's units (UTF-16 by default) and the assistant counts code
points; every conversion between the two goes through pygls' position codec.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.workspace import TextDocument

from lsp_ai.assistant import ActionQuery, BadRequest, ChatQuery
from lsp_ai.chat.actions import ACTIONS, LineEdit
from lsp_ai.chat.service import ChatResult, Source
from lsp_ai.completion.engine import CompletionResult
from lsp_ai.index.hits import SearchHit
from lsp_ai.inference.base import ModelError
from lsp_ai.lsp.protocol import CMD_CODE_ACTION, ChatParams, parse_chat_params


def rpc_error(exc: BadRequest | ModelError) -> JsonRpcException:
    """The assistant's typed errors as JSON-RPC errors: a refused request, a failed model."""
    if isinstance(exc, BadRequest):
        return JsonRpcInvalidParams(str(exc))
    return JsonRpcInternalError(str(exc))


# -- positions -------------------------------------------------------------------------------


def code_points(doc: TextDocument, position: lsp.Position) -> lsp.Position:
    """A client position as code points, clamped to the document (LSP clamps too)."""
    at = doc.position_codec.position_from_client_units(doc.lines, position)
    return lsp.Position(line=at.line, character=at.character)


def client_units(doc: TextDocument, position: lsp.Position) -> lsp.Position:
    return doc.position_codec.position_to_client_units(doc.lines, position)


# -- completion ------------------------------------------------------------------------------


def inline_list(
    doc: TextDocument, at: lsp.Position, result: CompletionResult | None
) -> lsp.InlineCompletionList:
    """The suggestion as ghost text at `at` (code points): an empty range inserts."""
    if result is None or not result.text:
        return lsp.InlineCompletionList(items=[])
    here = client_units(doc, at)
    item = lsp.InlineCompletionItem(insert_text=result.text, range=lsp.Range(start=here, end=here))
    return lsp.InlineCompletionList(items=[item])


def completion_list(
    doc: TextDocument, at: lsp.Position, result: CompletionResult | None
) -> lsp.CompletionList:
    """The suggestion as one completion item that replaces the word before the cursor.

    Editors filter items by the word before the cursor, so the edit starts at that word.
    """
    if result is None or not result.text:
        return lsp.CompletionList(is_incomplete=True, items=[])
    head = doc.lines[at.line][: at.character] if at.line < len(doc.lines) else ""
    word = head[len(head.rstrip("_" + "".join(c for c in head if c.isalnum()))) :]
    start = client_units(doc, lsp.Position(line=at.line, character=at.character - len(word)))
    edit_range = lsp.Range(start=start, end=client_units(doc, at))
    first_line = result.text.split("\n", 1)[0].strip() or result.text.strip()
    item = lsp.CompletionItem(
        label=(word + first_line)[:80],
        kind=lsp.CompletionItemKind.Text,
        detail="lsp-ai",
        filter_text=word + result.text,
        sort_text="0",
        insert_text_format=lsp.InsertTextFormat.PlainText,
        text_edit=lsp.TextEdit(range=edit_range, new_text=word + result.text),
    )
    return lsp.CompletionList(is_incomplete=True, items=[item])


# -- chat ------------------------------------------------------------------------------------


def chat_params(raw: Any) -> ChatParams:
    try:
        return parse_chat_params(raw)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc


def chat_query(p: ChatParams, doc: TextDocument | None) -> ChatQuery:
    return ChatQuery(
        p.message,
        p.session_id,
        p.uri,
        doc.source if doc is not None else None,
        p.line,
        p.character,
    )


def chat_result(result: ChatResult) -> dict[str, Any]:
    """SPEC section 3's `$/chat` result: the whole answer and its sources."""
    return {
        "sessionId": result.session_id,
        "content": result.content,
        "sources": [source(s) for s in result.sources],
    }


def source(s: Source) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uri": s.uri,
        "path": s.span.path,
        "startLine": s.span.start_line,
        "endLine": s.span.end_line,
        "score": round(s.score, 6),
    }
    if s.span.symbol:
        out["symbol"] = s.span.symbol
    return out


def hit(h: SearchHit) -> dict[str, Any]:
    """SPEC section 4's hit, as `lsp-ai.search` and `lsp-ai search --json` print it."""
    return {
        "path": h.span.path,
        "startLine": h.span.start_line,
        "endLine": h.span.end_line,
        "symbol": h.span.symbol,
        "kind": h.kind,
        "language": h.language,
        "score": round(h.score, 6),
        "text": h.span.text,
    }


def hits(found: list[SearchHit]) -> list[dict[str, Any]]:
    return [hit(h) for h in found]


# -- commands --------------------------------------------------------------------------------


def status(s: dict[str, Any]) -> dict[str, Any]:
    """`lsp-ai.status`: the assistant's status with camelCase keys, as clients read them.

    Each model's own description (`models`) is passed as its backend gives it.
    """
    return {_camel(k): v if k == "models" else _camel_keys(v) for k, v in s.items()}


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def search_args(args: tuple[Any, ...]) -> tuple[str, int]:
    if not args or not isinstance(args[0], str) or not args[0].strip():
        raise JsonRpcInvalidParams(
            "lsp-ai.search takes [query, k?]: query must be a non-empty string"
        )
    k = args[1] if len(args) > 1 else 8
    if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
        raise JsonRpcInvalidParams("lsp-ai.search: k must be a positive integer")
    return args[0], k


def action_args(args: tuple[Any, ...]) -> tuple[str, str, int, int]:
    """`[action, uri, range]` as action, uri and the selection's first and last whole line."""
    usage = f"{CMD_CODE_ACTION} takes [action, uri, range]"
    try:
        action, uri, rng = args
        start, end = rng["start"], rng["end"]
        first, last = int(start["line"]), int(end["line"])
        if int(end["character"]) == 0 and last > first:
            last -= 1  # a selection ending at the start of a line does not include that line
    except (ValueError, TypeError, KeyError) as exc:
        raise JsonRpcInvalidParams(f"{usage}, range as LSP Range JSON") from exc
    if action not in ACTIONS or not isinstance(uri, str) or first < 0 or last < first:
        raise JsonRpcInvalidParams(f"{usage}: action one of {', '.join(ACTIONS)}, a valid range")
    return action, uri, first, last


def action_query(action: str, uri: str, doc: TextDocument, first: int, last: int) -> ActionQuery:
    return ActionQuery(action, uri, doc.source, first, last)


def action_arguments(action: str, uri: str, r: lsp.Range) -> list[Any]:
    """What a code action's command carries, as JSON (the inverse of `action_args`)."""
    where = {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }
    return [action, uri, where]


def line_edit(doc: TextDocument, lines: list[str], e: LineEdit) -> lsp.TextEdit:
    """A whole-line edit as an LSP TextEdit, in the client's position units."""
    last = len(lines) - 1
    # The end of the document, in the client's units (UTF-16 by default), not code points.
    eof = doc.position_codec.position_to_client_units(
        lines, lsp.Position(line=last, character=len(lines[last]))
    )
    new_text = e.new_text
    if e.start_line > last:  # an insertion after the last line, which has no newline
        return lsp.TextEdit(
            range=lsp.Range(start=eof, end=eof), new_text="\n" + new_text.rstrip("\n")
        )
    start = lsp.Position(line=e.start_line, character=0)
    if e.end_line > last:  # through the last line: nothing after it to keep
        return lsp.TextEdit(range=lsp.Range(start=start, end=eof), new_text=new_text.rstrip("\n"))
    end = lsp.Position(line=e.end_line, character=0)
    return lsp.TextEdit(range=lsp.Range(start=start, end=end), new_text=new_text)


def workspace_edit(
    uri: str, version: int | None, edit: lsp.TextEdit, versioned: bool
) -> lsp.WorkspaceEdit:
    """One document's edit; versioned, the client refuses it if the user changed the file."""
    if not versioned:
        return lsp.WorkspaceEdit(changes={uri: [edit]})
    document = lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return lsp.WorkspaceEdit(
        document_changes=[lsp.TextDocumentEdit(text_document=document, edits=[edit])]
    )
