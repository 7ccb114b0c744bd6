"""`lsp-ai acp`: the ACP agent on stdio, newline-delimited JSON-RPC, answering every message.

The SDK's connection does the dispatch; two things it leaves out are added here. A line that
is not JSON, or JSON that is not a JSON-RPC message, gets the JSON-RPC error (the SDK logs and
drops it, leaving a client waiting). Params that do not fit ACP's schema get one line naming
the fields (the SDK answers "Invalid params" with pydantic's error list as data).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

from acp.agent.router import build_agent_router
from acp.connection import Connection, MethodHandler
from acp.exceptions import RequestError
from acp.interfaces import Agent
from acp.meta import CLIENT_METHODS
from acp.schema import SessionNotification
from acp.utils import notify_model
from pydantic import ValidationError

from lsp_ai.acp_agent import INVALID_PARAMS, INVALID_REQUEST, AcpAgent, Update
from lsp_ai.assistant import Assistant
from lsp_ai.lsp.transport import pump_stdin

log = logging.getLogger(__name__)

# A prompt carries the editor's mentioned files: allow large ones, refuse the absurd.
MAX_MESSAGE_BYTES = 64 * 2**20
PARSE_ERROR = -32700


class StdioTransport:
    """ACP's message transport over a byte stream: one JSON-RPC message per line."""

    def __init__(self, reader: asyncio.StreamReader, out: BinaryIO) -> None:
        self._reader = reader
        self._out = out

    async def send(self, message: dict[str, Any]) -> None:
        # Blocking writes on the loop, as the language server's writer does: a line is
        # written whole before another coroutine runs, so lines never interleave.
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            self._out.write(data)
            self._out.flush()
        except (BrokenPipeError, ValueError) as exc:  # the client closed its end
            raise ConnectionError(f"the client closed the connection: {exc}") from exc

    async def receive(self) -> dict[str, Any] | None:
        while True:
            try:
                line = await self._reader.readline()
            except ValueError:  # over the limit: the line is dropped, reading goes on
                await self._refuse(None, INVALID_REQUEST, f"message over {MAX_MESSAGE_BYTES} bytes")
                continue
            if not line:
                return None
            if not line.strip():
                continue
            message, problem = parse(line)
            if problem is None:
                return message
            await self._refuse(*problem)

    async def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._out.flush()

    async def _refuse(self, msg_id: Any, code: int, text: str) -> None:
        log.warning("answered error %d: %s", code, text)
        error = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": text}}
        with contextlib.suppress(ConnectionError):
            await self.send(error)


def parse(line: bytes) -> tuple[dict[str, Any], None] | tuple[None, tuple[Any, int, str]]:
    """A line as a JSON-RPC message, or (id, code, text) of the error that answers it."""
    try:
        data = json.loads(line)
    except RecursionError:
        return None, (None, PARSE_ERROR, "message nests too deep to read")
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        return None, (None, PARSE_ERROR, f"message is not JSON: {exc}")
    if not isinstance(data, dict):
        kind = "a batch (array)" if isinstance(data, list) else type(data).__name__
        return None, (None, INVALID_REQUEST, f"a message must be a JSON object, got {kind}")
    msg_id = data.get("id")
    if not (msg_id is None or isinstance(msg_id, str) or type(msg_id) is int):
        return None, (None, INVALID_REQUEST, "id must be a string, an integer or null")
    problem = _envelope_problem(data)
    return (data, None) if problem is None else (None, (msg_id, INVALID_REQUEST, problem))


def _envelope_problem(data: dict[str, Any]) -> str | None:
    if data.get("jsonrpc") != "2.0":
        return 'a message needs "jsonrpc": "2.0"'
    if "method" in data:
        if not isinstance(data["method"], str):
            return "method must be a string"
        if not isinstance(data.get("params"), dict | list | None):
            return "params must be an object or an array"
        return None
    if "id" in data and ("result" in data or "error" in data):
        return None
    return "a message needs a method (request or notification) or a result or error"


class Router:
    """The SDK's router for the agent, with schema errors said in one line.

    It also keeps the requests in flight, so that a client that closes stdin right after
    its last request still gets every answer before the agent exits.
    """

    def __init__(self, agent: AcpAgent) -> None:
        # The SDK's router looks methods up by name; AcpAgent has the ones it serves, and
        # ACP's other, optional methods answer "Method not found".
        self._route: MethodHandler = build_agent_router(cast(Agent, agent))
        self.in_flight: set[asyncio.Task[Any]] = set()

    async def __call__(self, method: str, params: Any, is_notification: bool) -> Any:
        if (task := asyncio.current_task()) is not None:  # the SDK's task for this message
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)  # done once its answer is written
        try:
            return await self._route(method, params, is_notification)
        except ValidationError as exc:
            text = f"invalid params for {method}: {fields(exc)}"
            raise RequestError(INVALID_PARAMS, text) from None


def fields(exc: ValidationError) -> str:
    """`sessionId: Field required; prompt.0.text: Input should be a valid string`."""
    errors = exc.errors(include_url=False, include_input=False)
    said = [f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(said) + more


def _feed(reader: asyncio.StreamReader, fd: int) -> None:
    """Stdin into `reader` from a thread (the language server's reader)."""
    pump_stdin(fd, lambda chunk: reader.feed_data(chunk) if chunk else reader.feed_eof())


async def _serve(
    root: Path, make_assistant: Callable[[Path], Assistant], stdin: BinaryIO, out: BinaryIO
) -> None:
    reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES)
    _feed(reader, stdin.fileno())
    conn: Connection | None = None

    async def send(session_id: str, update: Update) -> None:
        assert conn is not None  # set before the first message is read
        notification = SessionNotification(session_id=session_id, update=update)
        await notify_model(conn, CLIENT_METHODS["session_update"], notification)

    agent = AcpAgent(root, make_assistant, send)
    router = Router(agent)
    conn = Connection(router, StdioTransport(reader, out), listening=False)
    try:
        await conn.main_loop()
        if router.in_flight:  # stdin is closed; stdout may still be read
            await asyncio.wait(set(router.in_flight))
    finally:
        await conn.close()  # cancels what is left; a model stops at its next token
        agent.close()


def serve_stdio(
    root: Path, make_assistant: Callable[[Path], Assistant], stdin: BinaryIO, out: BinaryIO
) -> None:
    """Serve until the client closes stdin; `root` is the workspace a session names no other."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(root, make_assistant, stdin, out))
