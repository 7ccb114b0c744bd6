"""The Agent Client Protocol front-end: Zed's agent panel and JetBrains' AI chat, no extension.

Each handler converts ACP messages to one `Assistant` call and the answer back: a prompt turn
is `Assistant.chat`, its deltas become `agent_message_chunk` updates, its retrieval a `search`
tool call, its sources `resource_link` blocks to the file and lines. Retrieval, privacy (a
mentioned `.env` never reaches the model) and the session store (shared with `$/chat` and
`lsp-ai ask --session`) live behind the facade; nothing here decides them.

Named `acp_agent`, not `acp`, so that `import acp` always means the protocol SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, RequestError
from acp.helpers import (
    resource_link_block,
    start_tool_call,
    update_agent_message,
    update_agent_message_text,
    update_tool_call,
    update_user_message_text,
)
from acp.schema import (
    AgentCapabilities,
    AgentMessageChunk,
    EmbeddedResourceContentBlock,
    Implementation,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    ResourceContentBlock,
    TextContentBlock,
    TextResourceContents,
    ToolCallLocation,
    ToolCallProgress,
    ToolCallStart,
    UserMessageChunk,
)

from lsp_ai import __version__
from lsp_ai.assistant import Assistant, BadRequest, ChatQuery
from lsp_ai.chat.service import ChatResult, Source
from lsp_ai.documents import doc_path
from lsp_ai.inference.base import ChatMessage, ModelError
from lsp_ai.log_redaction import mask_credentials
from lsp_ai.models import Role

log = logging.getLogger(__name__)

Update = AgentMessageChunk | UserMessageChunk | ToolCallStart | ToolCallProgress
Send = Callable[[str, Update], Awaitable[None]]  # (session id, update) -> session/update

# The models an agent panel needs: completion is never asked for over ACP.
ROLES = (Role.CHAT, Role.EMBEDDING)
INVALID_PARAMS = -32602
INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
RESOURCE_NOT_FOUND = -32002  # ACP's code for a session (or file) it does not know
# "#L12", "#L12:20", "#L12-20": the line range editors put in a file link (1-based).
_LINES = re.compile(r"#L(\d+)")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

CAPABILITIES = AgentCapabilities(
    load_session=True,
    # Editors then send mentioned files and selections with their text (`resource` blocks),
    # so lsp-ai reads nothing the editor did not already show the user.
    prompt_capabilities=PromptCapabilities(embedded_context=True),
)


@dataclass
class _Turn:
    task: asyncio.Future[ChatResult]
    cancelled: bool = False  # by session/cancel, as opposed to the connection closing


@dataclass
class _Session:
    assistant: Assistant
    turn: _Turn | None = None


@dataclass
class _Mention:
    uri: str
    text: str | None  # the editor's copy; None for a link to a file on disk


class AcpAgent:
    """ACP's agent methods, named as the SDK's router calls them (snake_case keywords)."""

    def __init__(
        self, default_root: Path, make_assistant: Callable[[Path], Assistant], send: Send
    ) -> None:
        """`make_assistant` builds the facade for a root; `send` delivers `session/update`."""
        self._default_root = default_root
        self._make_assistant = make_assistant
        self._send = send
        self._assistants: dict[Path, Assistant] = {}
        self._making = asyncio.Lock()
        self._sessions: dict[str, _Session] = {}

    def close(self) -> None:
        for assistant in self._assistants.values():
            assistant.close()

    # -- lifecycle and sessions ---------------------------------------------------------------

    async def initialize(self, protocol_version: int, **_rest: Any) -> InitializeResponse:
        # Version 1 is the only one there is; a client asking for another gets the latest
        # this agent speaks and decides for itself (ACP's version negotiation).
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=CAPABILITIES,
            agent_info=Implementation(name="lsp-ai", title="lsp-ai", version=__version__),
            auth_methods=[],
        )

    async def new_session(self, cwd: str, **_rest: Any) -> NewSessionResponse:
        # mcpServers and additionalDirectories are accepted and left alone: lsp-ai calls no
        # tools, and its workspace is the one root the session names.
        assistant = await self._assistant_for(cwd)
        session_id = uuid.uuid4().hex
        self._sessions[session_id] = _Session(assistant)
        return NewSessionResponse(session_id=session_id)

    async def load_session(self, cwd: str, session_id: str, **_rest: Any) -> LoadSessionResponse:
        """Resume a stored conversation, replaying it as ACP requires before the response."""
        known = self._sessions.get(session_id)
        if known is not None and known.turn is not None:
            raise _busy(session_id)
        assistant = known.assistant if known else await self._assistant_for(cwd)
        history = assistant.chat_history(session_id)
        if not history and known is None:
            raise RequestError(
                RESOURCE_NOT_FOUND,
                f"no chat session {session_id!r} is stored for {assistant.roots[0]}; "
                "start one with session/new",
            )
        self._sessions[session_id] = _Session(assistant)
        for update in replay(history):
            await self._send(session_id, update)
        return LoadSessionResponse()

    async def cancel(self, session_id: str, **_rest: Any) -> None:
        session = self._sessions.get(session_id)
        if session is None or session.turn is None:
            log.info("session/cancel for %r: no prompt is running there", session_id)
            return
        session.turn.cancelled = True
        session.turn.task.cancel()  # the facade's chat stops the model at its next token

    # -- a prompt turn -------------------------------------------------------------------------

    async def prompt(self, session_id: str, prompt: Sequence[Any], **_rest: Any) -> PromptResponse:
        session = self._session(session_id)
        if session.turn is not None:
            raise _busy(session_id)
        query = chat_query(session.assistant, session_id, prompt)
        stream = _Stream(lambda update: self._send(session_id, update))
        search = _SearchCall(stream, query.message)
        task = asyncio.ensure_future(
            session.assistant.chat(
                query,
                lambda text: stream.from_thread(stream.text, text),
                lambda _stage: stream.from_thread(search.stage),
            )
        )
        turn = session.turn = _Turn(task)
        try:
            result = await task
        except BaseException as exc:
            search.failed()
            await stream.close()  # what was said so far is sent; nothing after the response
            if isinstance(exc, asyncio.CancelledError) and turn.cancelled and not _cancelling():
                return PromptResponse(stop_reason="cancelled")
            if isinstance(exc, ModelError | BadRequest):  # a server's text may quote its key
                code = INVALID_PARAMS if isinstance(exc, BadRequest) else INTERNAL_ERROR
                raise RequestError(code, mask_credentials(str(exc))) from None
            raise  # the connection is closing, or a bug the SDK logs and answers -32603
        finally:
            session.turn = None
        search.done(result.sources)
        for source in result.sources:
            stream.put(update_agent_message(source_link(source)))
        await stream.close()
        return PromptResponse(stop_reason="end_turn")

    # -- helpers -----------------------------------------------------------------------------

    def _session(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise RequestError(
                RESOURCE_NOT_FOUND,
                f"unknown session {session_id!r}: create one with session/new "
                "or resume it with session/load",
            )
        return session

    async def _assistant_for(self, cwd: str) -> Assistant:
        """The facade of the session's root (its `cwd`, else --root), one per root."""
        root = self._root(cwd)
        async with self._making:
            if root not in self._assistants:
                # Building it opens the configuration and the index: off the event loop, so
                # a cancel for another session is not kept waiting.
                assistant = await asyncio.to_thread(self._make_assistant, root)
                assistant.start(ROLES)  # the watcher and crawl keep the index current
                self._assistants[root] = assistant
            return self._assistants[root]

    def _root(self, cwd: str) -> Path:
        path = Path(cwd).expanduser() if cwd else None
        if path is not None and path.is_absolute() and path.is_dir():
            return path.resolve()
        log.info("session cwd %r is not a folder; using %s", cwd, self._default_root)
        return self._default_root


def _busy(session_id: str) -> RequestError:
    return RequestError(
        INVALID_REQUEST,
        f"session {session_id!r} is still answering a prompt; send session/cancel first",
    )


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


# -- conversions -------------------------------------------------------------------------------


def chat_query(assistant: Assistant, session_id: str, blocks: Sequence[Any]) -> ChatQuery:
    """The prompt's words as the question; the first file the facade lets through as context.

    A mention stays in the question as `@name`, so that "explain this" still says what; its
    text goes to the facade, which refuses a private file (a mentioned `.env` adds nothing).
    """
    words: list[str] = []
    mentions: list[_Mention] = []
    for block in blocks:
        if isinstance(block, TextContentBlock):
            words.append(block.text)
        elif isinstance(block, ResourceContentBlock):
            words.append(f"@{block.name}")
            mentions.append(_Mention(block.uri, None))
        elif isinstance(block, EmbeddedResourceContentBlock) and isinstance(
            block.resource, TextResourceContents
        ):
            words.append(f"@{_name(block.resource.uri)}")
            mentions.append(_Mention(block.resource.uri, _clean(block.resource.text)))
        else:
            log.info("ignored a %s block: lsp-ai reads text and files", block.type)
    message = _clean(" ".join(w.strip() for w in words if w.strip()))
    if not message:
        raise RequestError(INVALID_PARAMS, "the prompt has no text; ask a question")
    for mention in mentions:
        text = assistant.mentioned_file(mention.uri, mention.text)
        if text is not None:
            # A link brings the whole file: its line range, if any, is where to look.
            line = _first_line(mention.uri) if mention.text is None else None
            return ChatQuery(message, session_id, mention.uri, text, line)
    return ChatQuery(message, session_id)


def replay(history: Sequence[ChatMessage]) -> list[Update]:
    """A stored conversation as the updates that showed it (session/load)."""
    return [
        update_user_message_text(turn["content"])
        if turn["role"] == "user"
        else update_agent_message_text(turn["content"])
        for turn in history
    ]


def source_link(source: Source) -> ResourceContentBlock:
    """`path:start-end` linking to the file at those lines (1-based, `#L10:20` as Zed writes)."""
    span = source.span
    uri = f"{source.uri}#L{span.start_line + 1}:{span.end_line + 1}"
    return resource_link_block(span.lines, uri, description=span.symbol)


def source_location(source: Source) -> ToolCallLocation:
    path = doc_path(source.uri)
    # ACP leaves the base open; Zed, the reference client, counts tool-call lines from 0.
    return ToolCallLocation(path=str(path) if path else source.uri, line=source.span.start_line)


def _name(uri: str) -> str:
    return uri.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1] or uri


def _first_line(uri: str) -> int | None:
    found = _LINES.search(uri)
    return int(found.group(1)) - 1 if found and int(found.group(1)) > 0 else None


def _clean(text: str) -> str:
    """Half of a UTF-16 pair (valid JSON, no character) would break the tokenizer."""
    return _LONE_SURROGATE.sub("\ufffd", text)


# -- streaming ---------------------------------------------------------------------------------


class _Trim:
    """Deltas without the answer's outer whitespace, as the session store keeps the answer.

    Trailing whitespace is held back until more text follows it, so the chunks joined are
    exactly the stored answer (`str.strip` of what the model wrote), live and on replay.
    """

    def __init__(self) -> None:
        self._started = False
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        body = text.rstrip()
        self._held = text[len(body) :]
        return body


class _Stream:
    """One turn's updates, in order, whether they come from the loop or the chat thread.

    After `close` nothing more is sent: a delta the model wrote after a cancel is dropped,
    since ACP ends a turn's updates with its response.
    """

    def __init__(self, send: Callable[[Update], Awaitable[None]]) -> None:
        self._send = send
        self._queue: asyncio.Queue[Update | None] = asyncio.Queue()
        self._trim = _Trim()
        self._open = True
        self._loop = asyncio.get_running_loop()
        self._pump = asyncio.ensure_future(self._run())

    def put(self, update: Update) -> None:
        if self._open:
            self._queue.put_nowait(update)

    def text(self, delta: str) -> None:
        if piece := self._trim.feed(delta):
            self.put(update_agent_message_text(piece))

    def from_thread(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the loop; the chat worker calls back from its own thread."""
        with contextlib.suppress(RuntimeError):  # the loop is gone: the agent is exiting
            self._loop.call_soon_threadsafe(fn, *args)

    async def close(self) -> None:
        if self._open:
            self._open = False
            self._queue.put_nowait(None)
        await self._pump

    async def _run(self) -> None:
        while (update := await self._queue.get()) is not None:
            try:
                await self._send(update)
            except Exception as exc:  # the client went away; the turn still ends cleanly
                log.warning("could not send a session update: %s", exc)


class _SearchCall:
    """Retrieval as a `search` tool call: pending, in progress, completed with locations."""

    def __init__(self, stream: _Stream, query: str) -> None:
        self._stream = stream
        self._id = f"search-{uuid.uuid4().hex[:12]}"
        self._stages = 0
        self._finished = False
        stream.put(
            start_tool_call(
                self._id,
                "Searching the index",
                kind="search",
                status="pending",
                raw_input={"query": query},
            )
        )

    def stage(self) -> None:
        """The chat's first stage is retrieval; the one after it means retrieval is over."""
        self._stages += 1
        if self._stages == 1:
            self._stream.put(update_tool_call(self._id, status="in_progress"))
        elif self._stages == 2:
            self._finish("completed", "Searched the index")

    def done(self, sources: Sequence[Source]) -> None:
        count = f"{len(sources)} snippet" + ("" if len(sources) == 1 else "s")
        self._stream.put(
            update_tool_call(
                self._id,
                title=f"Searched the index: {count}",
                status="completed",
                locations=[source_location(s) for s in sources],
            )
        )
        self._finished = True

    def failed(self) -> None:
        self._finish("failed", "Search stopped")

    def _finish(self, status: Any, title: str) -> None:
        if not self._finished:
            self._finished = True
            self._stream.put(update_tool_call(self._id, title=title, status=status))
