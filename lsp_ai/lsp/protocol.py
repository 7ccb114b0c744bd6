"""Names and parameter shapes of lsp-ai's own LSP methods and commands (SPEC section 3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHAT = "$/chat"
CMD_SEARCH = "lsp-ai.search"
CMD_REINDEX = "lsp-ai.reindex"
CMD_STATUS = "lsp-ai.status"
# What a code action's command runs: args [action, uri, range]; applies its edit itself.
CMD_CODE_ACTION = "lsp-ai.codeAction"
# args [uri?]: the last completion (on that document) in plain words, also shown as a message.
CMD_EXPLAIN = "lsp-ai.explainLastCompletion"
COMMANDS = (CMD_SEARCH, CMD_REINDEX, CMD_STATUS, CMD_CODE_ACTION, CMD_EXPLAIN)
CONFIG_SECTION = "lsp-ai"

ProgressToken = int | str


@dataclass(frozen=True)
class ChatParams:
    message: str
    session_id: str | None = None
    uri: str | None = None
    line: int | None = None
    character: int | None = None
    partial_token: ProgressToken | None = None
    work_done_token: ProgressToken | None = None


def _attr(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _token(value: Any, name: str) -> ProgressToken | None:
    if value is None or (isinstance(value, int | str) and not isinstance(value, bool)):
        return value
    raise ValueError(f"$/chat: {name} must be a string or an integer")


def parse_chat_params(raw: Any) -> ChatParams:
    """Validate `$/chat` params by hand: pygls passes unknown methods' params through raw."""
    if raw is None:
        raise ValueError('$/chat needs params with a "message" string')
    message = _attr(raw, "message")
    if not isinstance(message, str) or not message.strip():
        raise ValueError('$/chat: "message" must be a non-empty string')
    session = _attr(raw, "sessionId")
    if session is not None and not isinstance(session, str):
        raise ValueError('$/chat: "sessionId" must be a string')
    uri = None
    if (doc := _attr(raw, "textDocument")) is not None:
        uri = _attr(doc, "uri")
        if not isinstance(uri, str):
            raise ValueError('$/chat: "textDocument.uri" must be a string')
    line = character = None
    if (pos := _attr(raw, "position")) is not None:
        line, character = _attr(pos, "line"), _attr(pos, "character")
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (line, character)
        ):
            raise ValueError('$/chat: "position" must be {line, character} with integers >= 0')
    return ChatParams(
        message=message,
        session_id=session,
        uri=uri,
        line=line,
        character=character,
        partial_token=_token(_attr(raw, "partialResultToken"), "partialResultToken"),
        work_done_token=_token(_attr(raw, "workDoneToken"), "workDoneToken"),
    )
