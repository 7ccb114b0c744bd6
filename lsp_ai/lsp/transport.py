"""JSON-RPC over a byte stream, hardened against whatever a client sends.

pygls' own read loop has three failure modes this replaces:
- a body that is not JSON is logged and dropped, so a request in it is never answered;
- a request whose params have the wrong types fails while it is parsed, before pygls knows
  it is a request, so the client waits forever for a response;
- a wrong Content-Length desynchronises the stream for good: every later message is read
  from the wrong offset.
Here every message that cannot be handled gets the JSON-RPC error that names the problem
(an id of null when the id itself is unreadable), and the reader finds the next header again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from cattrs import transform_error
from cattrs.errors import ClassValidationError
from lsprotocol import types as lsp
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

# Larger messages are refused: a 64 MiB didOpen is already beyond what editors sync.
MAX_MESSAGE_BYTES = 64 * 2**20
# Header blocks are a few dozen bytes; more than this without a blank line is not a header.
MAX_HEADER_BYTES = 8192
# A body that stops arriving for this long, with the next header already inside it, had a
# Content-Length larger than what was sent. Clients write a message in one go, so a real
# pause of this length mid-body does not happen.
STALL_S = 1.0
READ_CHUNK = 65536
# LSP messages nest a few levels (settings a few more); anything deeper is refused before
# any code walks it, since walking it recursively (cattrs, logging) could exhaust the stack.
MAX_DEPTH = 64

_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)[ \t]*(?:\r\n|$)", re.IGNORECASE)
_HEADER_START = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
_DECODER = json.JSONDecoder()
# JSON may escape half of a UTF-16 surrogate pair alone ("\ud800"): valid JSON, but no
# character. Python keeps it in the string, and it breaks every encoder downstream (the
# tokenizer, LanceDB, the log file). Only bodies holding such an escape are walked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class FramingError:
    """Bytes that were not a well-framed JSON message: answered with an error of id null."""

    code: int
    message: str


@dataclass(frozen=True)
class Message:
    data: Any  # the decoded JSON, not yet checked to be a JSON-RPC message


Event = Message | FramingError


class FrameParser:
    """Splits a byte stream into JSON messages; never raises, never stays out of step.

    Sans-IO: `feed` takes whatever bytes arrived and returns the messages and framing errors
    found so far; `stalled` is called when no byte came for `STALL_S` in the middle of a body.
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._length: int | None = None  # the body's length once its header has been read
        self._stalled = False

    @property
    def mid_body(self) -> bool:
        return self._length is not None

    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        events: list[Event] = []
        if self._stalled and self._length is not None:
            self._resync_inside_body(events)  # what comes after a pause starts a new message
        while self._next(events):
            pass
        return events

    def stalled(self) -> list[Event]:
        events: list[Event] = []
        if self._length is not None:
            self._stalled = True
            self._resync_inside_body(events)
            while self._next(events):
                pass
        return events

    def _next(self, events: list[Event]) -> bool:
        """Take one header or one body off the buffer; False when more bytes are needed."""
        if self._length is not None:
            if len(self._buf) < self._length:
                return False
            body = bytes(self._buf[: self._length])
            del self._buf[: self._length]
            self._length = None
            self._stalled = False
            events.append(self._decode(body))
            return True
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEADER_BYTES:
                # No header in sight: keep only a tail that may hold the start of one.
                del self._buf[: len(self._buf) - MAX_HEADER_BYTES // 2]
            return False
        block = bytes(self._buf[:end])
        del self._buf[: end + 4]
        matches = list(_CONTENT_LENGTH.finditer(block))
        if not matches:
            events.append(
                FramingError(JsonRpcParseError.CODE, "message header without a Content-Length")
            )
            return True
        if matches[-1].start() > 0 and block[: matches[-1].start()].strip():
            log.warning("skipped %d stray bytes before a message header", matches[-1].start())
        length = int(matches[-1].group(1))
        if length > self.max_bytes:
            events.append(
                FramingError(
                    JsonRpcInvalidRequest.CODE,
                    f"message of {length} bytes is over the {self.max_bytes}-byte limit",
                )
            )
            return True  # its body is skipped as stray bytes until the next header
        self._length = length
        return True

    def _decode(self, body: bytes) -> Event:
        """A body as JSON.

        A Content-Length too large takes in the start of the next message: what follows a
        complete JSON value goes back to be read as that message.
        """
        try:
            text = body.decode("utf-8")
            data, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
        except RecursionError:  # the JSON reader itself recurses: thousands of levels
            return FramingError(
                JsonRpcParseError.CODE, f"message body nests deeper than {MAX_DEPTH} levels"
            )
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            found = _HEADER_START.search(body, 1)
            if found is None:
                return FramingError(JsonRpcParseError.CODE, f"message body is not JSON: {exc}")
            self._buf[:0] = body[found.start() :]
            return FramingError(
                JsonRpcParseError.CODE,
                f"message body ended after {found.start()} of its {len(body)} bytes "
                "(wrong Content-Length)",
            )
        if _SURROGATE_ESCAPE.search(body) and not _deeper_than(data, MAX_DEPTH):
            data = _without_lone_surrogates(data)  # one too deep is refused whole anyway
        rest = text[end:].encode("utf-8").lstrip()
        if rest:
            log.warning("a Content-Length was %d bytes too large; read on from there", len(rest))
            self._buf[:0] = rest
        return Message(data)

    def _resync_inside_body(self, events: list[Event]) -> None:
        """A body that stopped arriving ends where a new header starts inside it."""
        found = _HEADER_START.search(self._buf, 1)
        if found is None:
            return
        body = bytes(self._buf[: found.start()])
        del self._buf[: found.start()]
        self._length = None
        self._stalled = False
        events.append(self._decode(body))


class Dispatcher:
    """Turns bodies into pygls messages, answering whatever pygls would drop or hang on."""

    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.protocol = server.protocol

    def handle(self, event: Event) -> None:
        if isinstance(event, FramingError):
            self.reply(None, event.code, event.message)
            return
        data = event.data
        if (problem := _envelope_problem(data)) is None and _deeper_than(data, MAX_DEPTH):
            problem = f"a message may nest at most {MAX_DEPTH} levels deep"
        if problem is not None:
            msg_id = data.get("id") if isinstance(data, dict) else None
            self.reply(msg_id if _valid_id(msg_id) else None, JsonRpcInvalidRequest.CODE, problem)
            return
        if (refusal := self._lifecycle_refusal(data)) is not None:
            code, text = refusal
            if "id" in data:
                self.reply(data["id"], code, text)
            else:
                log.warning("dropped notification: %s", text)
            return
        try:
            message = self.protocol.structure_message(data)
        except JsonRpcException as exc:
            self._structure_failed(data, exc)
            return
        self.protocol.handle_message(message)

    def _lifecycle_refusal(self, data: dict[str, Any]) -> tuple[int, str] | None:
        """Messages that LSP's lifecycle rules forbid; pygls would run, drop or re-run them."""
        method = data.get("method")
        if method is None or method == lsp.EXIT:
            return None
        initialized = getattr(self.protocol, "client_capabilities", None) is not None
        if not initialized and method != lsp.INITIALIZE:
            return JsonRpcServerNotInitialized.CODE, f"{method} before initialize"
        if initialized and method == lsp.INITIALIZE:
            text = "initialize was already received; it is sent once per session"
            return JsonRpcInvalidRequest.CODE, text
        if self.protocol._shutdown:
            return JsonRpcInvalidRequest.CODE, f"{method} after shutdown; only exit is accepted"
        return None

    def _structure_failed(self, data: dict[str, Any], exc: JsonRpcException) -> None:
        method = data.get("method")
        cause = exc.__cause__
        detail = (
            "; ".join(transform_error(cause, path="params")[:3])
            if isinstance(cause, ClassValidationError)
            else str(cause or exc)
        )
        text = f"invalid params for {method}: {detail}"
        if "id" in data and method is not None:
            self.reply(data["id"], JsonRpcInvalidParams.CODE, text)
        elif method is not None:
            log.warning("ignored notification: %s", text)
        else:
            log.warning("ignored response %r: %s", data.get("id"), detail)

    def reply(self, msg_id: Any, code: int, message: str) -> None:
        log.warning("answered error %d: %s", code, message)
        self.protocol._send_data(
            {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        )


def _without_lone_surrogates(data: Any) -> Any:
    """`data` with each lone surrogate in its strings replaced by U+FFFD (same length).

    Called only on data at most MAX_DEPTH deep, so the recursion is bounded.
    """
    if isinstance(data, str):
        return _LONE_SURROGATE.sub("\ufffd", data)
    if isinstance(data, list):
        return [_without_lone_surrogates(v) for v in data]
    if isinstance(data, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in data.items()}
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether `data` nests more than `limit` levels of objects and arrays (no recursion)."""
    level: list[Any] = [data]  # the containers at depth 1, then 2, ...
    for _ in range(limit):
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or type(value) is int


def _envelope_problem(data: Any) -> str | None:
    """What makes `data` not a JSON-RPC 2.0 message, or None."""
    if not isinstance(data, dict):
        kind = "a batch (array)" if isinstance(data, list) else type(data).__name__
        return f"a message must be a JSON object, got {kind}; LSP has no batches"
    if data.get("jsonrpc") != "2.0":
        return 'a message needs "jsonrpc": "2.0"'
    if "id" in data and not _valid_id(data["id"]):
        return "id must be a string, an integer or null"
    if "method" in data:
        if not isinstance(data["method"], str):
            return "method must be a string"
        if "params" in data and not isinstance(data["params"], dict | list | None):
            return "params must be an object or an array"
        return None
    if "id" in data and ("result" in data or "error" in data):
        return None
    return "a message needs a method (request or notification) or a result or error"


async def pump(
    server: LanguageServer, read: Callable[[], Awaitable[bytes]], stop: threading.Event
) -> None:
    """Read, frame and dispatch until end of stream or `stop`."""
    parser = FrameParser()
    dispatcher = Dispatcher(server)
    while not stop.is_set():
        try:
            chunk = await asyncio.wait_for(read(), STALL_S if parser.mid_body else None)
        except TimeoutError:
            events = parser.stalled()
        else:
            if not chunk:
                break
            try:
                events = parser.feed(chunk)
            except Exception:  # a framing bug costs the bytes buffered so far, not the session
                log.exception("reading the message stream failed; dropping what was buffered")
                parser, events = FrameParser(), []
        for event in events:
            try:
                dispatcher.handle(event)
            except Exception:  # one message's trouble never ends the session
                log.exception("message handling failed")


def pump_stdin(fd: int, deliver: Callable[[bytes], None]) -> None:
    """Each chunk of `fd` to `deliver` on the running loop, b"" at the end, from a thread.

    `os.read` returns what is available instead of waiting for a full count, which is what
    lets a parser notice a body that stopped short; a thread works for a pipe, a file or a
    terminal alike. The ACP agent reads its stdin this way too.
    """
    loop = asyncio.get_running_loop()

    def run() -> None:
        while True:
            try:
                chunk = os.read(fd, READ_CHUNK)
            except OSError:
                chunk = b""
            loop.call_soon_threadsafe(deliver, chunk)
            if not chunk:
                return

    threading.Thread(target=run, name="stdin", daemon=True).start()


def _thread_reader(stdin: BinaryIO) -> Callable[[], Awaitable[bytes]]:
    """Chunks of stdin as they arrive (b"" at the end)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    pump_stdin(stdin.fileno(), queue.put_nowait)
    return queue.get


def serve_stdio(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    stop = threading.Event()
    server._stop_event = stop
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        await pump(server, _thread_reader(stdin), stop)

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the client closed the connection")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def serve_tcp(server: LanguageServer, host: str, port: int) -> None:
    """One client at a time on HOST:PORT, as pygls does it, with the hardened reader."""
    stop = threading.Event()
    server._stop_event = stop

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)
        await pump(server, lambda: reader.read(READ_CHUNK), stop)
        server.shutdown()

    async def main() -> None:
        listener = await asyncio.start_server(connection, host, port)
        server._server = listener
        async with listener:
            with contextlib.suppress(asyncio.CancelledError):
                await listener.serve_forever()

    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        asyncio.run(main())
