"""The one LSP client of the tests and the benchmarks: `lsp-ai serve` on stdio pipes.

It owns the server process and speaks JSON-RPC itself, so it can do what a well-behaved
client library cannot: send broken frames (`send_bytes`), see every answer in the order it
came (`post`, `responses_until`), and outlive a server that dies or is killed (`kill`).
Besides that it is an ordinary editor:

- requests as futures (`send_request`), awaited (`call_async`) or waited on (`call`).
  Results of LSP methods come typed with lsprotocol's classes (as pygls types them),
  custom methods' results stay plain JSON (as does any result asked for `raw`); an error
  answer raises pygls' `JsonRpcException` for its code, a server gone `ServerExited`;
- what the server sends on its own is recorded: chat deltas per partialResultToken,
  work-done progress values per token (the Indexing crawl's too), window and log
  messages, the edits it applied; `on` adds a handler for any notification, and
  `wait_for`, `wait_for_async` and `wait_for_notification_async` wait on any of it;
- the server's own requests are answered as an editor with no settings would;
- the server's stderr is drained, to a file and/or a callback, its tail kept for errors;
- `init_ms` is the initialize round trip, for the benchmarks.

One reader thread receives everything, so blocking callers (threads, hypothesis) and
async callers (pytest-asyncio, the benchmarks' event loop) drive the same client.
Handlers given to `on` run on that thread: they must be quick and must not block.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, InvalidStateError
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.protocol import default_converter

SERVER_COMMAND = [sys.executable, "-m", "lsp_ai", "serve"]
# Capabilities by name: pytest-lsp's record of what VS Code sends (a test dependency).
VS_CODE = "visual_studio_code"
# What the benchmarks' editor says it supports: work-done progress (the Indexing bar).
WORK_DONE_PROGRESS = {"window": {"workDoneProgress": True}}
TIMEOUT_S = 30.0  # default wait of the blocking calls
STDERR_TAIL = 64 * 1024

_CONVERTER = default_converter()

Capabilities = dict[str, Any] | lsp.ClientCapabilities | str


def frame(body: bytes) -> bytes:
    """One message on the wire: the Content-Length header, then `body`."""
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode(message: Any) -> bytes:
    """A JSON-RPC message framed for the wire; lsprotocol objects become their JSON."""
    return frame(json.dumps(message, default=_CONVERTER.unstructure).encode())


class ServerExited(RuntimeError):
    """The server process ended before it answered."""


def capabilities_json(capabilities: Capabilities) -> dict[str, Any]:
    if isinstance(capabilities, str):
        from pytest_lsp import client_capabilities

        capabilities = client_capabilities(capabilities)
    if isinstance(capabilities, lsp.ClientCapabilities):
        return dict(_CONVERTER.unstructure(capabilities))
    return capabilities


class LspClient:
    """`python -m lsp_ai serve` (or `command`) in `env`, driven over its stdin and stdout."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        command: list[str] | None = None,
        cwd: Path | None = None,
        stderr_path: Path | None = None,
        on_stderr: Callable[[str], None] | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            command or SERVER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[Any, tuple[str, bool, Future[Any]]] = {}
        self._inbox: deque[dict[str, Any]] = deque()  # answers no future claimed
        self._handlers: dict[str, list[Callable[[Any], None]]] = {}
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.exited = False
        self.protocol_error = ""  # what was wrong with the server's output, if anything
        # What the server sent on its own.
        self.notification_counts: Counter[str] = Counter()
        self.deltas: dict[Any, list[str]] = {}  # chat text streamed per partialResultToken
        self.work_done: dict[Any, list[dict[str, Any]]] = {}  # progress values per token
        self.index_token: Any = None  # the token of the newest Indexing progress
        self.messages: list[lsp.ShowMessageParams] = []
        self.log_messages: list[lsp.LogMessageParams] = []
        self.applied_edits: list[lsp.ApplyWorkspaceEditParams] = []
        self.root: Path | None = None  # the workspace folder it was initialized on
        self.init_result: lsp.InitializeResult | None = None
        self.init_ms: float | None = None
        # Its stderr.
        self._stderr_file = stderr_path.open("ab") if stderr_path is not None else None
        self._stderr_tail = bytearray()
        self._on_stderr = on_stderr
        self._threads = [
            threading.Thread(target=self._read_loop, daemon=True, name="lsp-client-reader"),
            threading.Thread(target=self._drain_stderr, daemon=True, name="lsp-client-stderr"),
        ]
        for thread in self._threads:
            thread.start()

    # -- sending -------------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        """Exactly these bytes to the server's stdin."""
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(encode(message))

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def post(self, method: str, params: Any = None, msg_id: Any = None) -> Any:
        """Send a request whose answer goes to `responses_until`; returns its id."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def send_request(
        self, method: str, params: Any = None, msg_id: Any = None, *, raw: bool = False
    ) -> Future[Any]:
        """Send a request; the future gets its result (plain JSON if `raw`) or its error."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        future: Future[Any] = Future()
        with self._cond:
            if self.exited:
                future.set_exception(self._exited(method))
                return future
            self._pending[msg_id] = (method, raw, future)
        try:
            self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        except OSError:
            with self._cond:
                self._pending.pop(msg_id, None)
            future.set_exception(self._exited(method))
        return future

    # -- blocking calls --------------------------------------------------------------------

    def call(self, method: str, params: Any = None, timeout: float | None = None) -> Any:
        """The result of one request, waited on in this thread."""
        timeout = self.timeout if timeout is None else timeout
        future = self.send_request(method, params)
        try:
            return future.result(timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{method}: no answer in {timeout:.0f} s; stderr tail: {self.stderr_tail()}"
            ) from None

    def command(self, name: str, *args: Any, timeout: float | None = None) -> Any:
        params = {"command": name, "arguments": list(args)}
        return self.call(lsp.WORKSPACE_EXECUTE_COMMAND, params, timeout)

    def responses_until(self, msg_id: Any, timeout: float | None = None) -> list[dict[str, Any]]:
        """Every unclaimed answer received up to and including the one for `msg_id`.

        Unclaimed: answers to `post` and to raw bytes (errors with id null among them),
        in the order they came; `send_request`'s answers go to their futures.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got: list[dict[str, Any]] = []
        with self._cond:
            while True:
                while self._inbox:
                    got.append(self._inbox.popleft())
                    if got[-1].get("id") == msg_id:
                        return got
                left = deadline - time.monotonic()
                if left <= 0 or self.exited:
                    raise AssertionError(
                        f"no response to {msg_id!r} (server exit code {self.proc.poll()}); "
                        f"got {got!r}; stderr tail: {self.stderr_tail()}"
                    )
                self._cond.wait(min(left, 0.5))

    def wait_for(
        self, predicate: Callable[[LspClient], bool], timeout: float | None = None
    ) -> None:
        """Block until `predicate(client)` holds, re-checked on every message received."""
        timeout = self.timeout if timeout is None else timeout
        with self._cond:
            self._cond.wait_for(lambda: predicate(self) or self.exited, timeout)
            if predicate(self):
                return
            if self.exited:
                raise self._exited("waiting")
        raise TimeoutError(f"not within {timeout:.0f} s; stderr tail: {self.stderr_tail()}")

    def initialize(
        self,
        root: Path,
        capabilities: Capabilities = WORK_DONE_PROGRESS,
        init_options: dict[str, Any] | None = None,
        *,
        initialized: bool = True,
    ) -> lsp.InitializeResult:
        """`initialize` on `root` (its one workspace folder), then `initialized`."""
        self.root = root
        started = time.perf_counter()
        result = self.call(lsp.INITIALIZE, initialize_params(root, capabilities, init_options))
        self._initialized(result, started, initialized)
        return result

    def shutdown(self, timeout: float | None = None) -> None:
        """`shutdown` and `exit`; then the process must end."""
        self.call(lsp.SHUTDOWN, None, timeout)
        self.notify(lsp.EXIT, None)
        self._reap()

    def kill(self) -> None:
        """`kill -9`, as a crash would end it."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self._reap()

    def close(self) -> None:
        """Shut the server down if it still runs (killed if that fails), and clean up."""
        if self.proc.poll() is None and not self.exited:
            try:
                self.shutdown(timeout=10)
                return
            except (JsonRpcException, RuntimeError, OSError, TimeoutError):
                pass
        with contextlib.suppress(OSError):
            self.proc.kill()
        self._reap()

    # -- async calls -----------------------------------------------------------------------

    def call_async(
        self, method: str, params: Any = None, *, raw: bool = False, msg_id: Any = None
    ) -> asyncio.Future[Any]:
        """The request goes out now (not when awaited); await the answer."""
        return asyncio.wrap_future(self.send_request(method, params, msg_id, raw=raw))

    def command_async(self, name: str, *args: Any) -> asyncio.Future[Any]:
        params = {"command": name, "arguments": list(args)}
        return self.call_async(lsp.WORKSPACE_EXECUTE_COMMAND, params)

    async def wait_for_async(
        self, predicate: Callable[[LspClient], bool], timeout: float | None = 60.0
    ) -> None:
        """Until `predicate(client)` holds, re-checked on every message received."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while not predicate(self):
                if self.exited:
                    raise self._exited("waiting")
                waiter = (loop, asyncio.Event())
                with self._cond:
                    self._async_waiters.add(waiter)
                try:
                    if not (predicate(self) or self.exited):  # a message came meanwhile
                        await waiter[1].wait()
                finally:
                    with self._cond:
                        self._async_waiters.discard(waiter)

    async def wait_for_notification_async(self, method: str, timeout: float | None = None) -> None:
        """Until the next `method` notification arrives."""
        seen = self.notification_counts[method]
        await self.wait_for_async(lambda c: c.notification_counts[method] > seen, timeout)

    async def initialize_async(
        self,
        root: Path,
        capabilities: Capabilities = WORK_DONE_PROGRESS,
        init_options: dict[str, Any] | None = None,
        *,
        initialized: bool = True,
    ) -> lsp.InitializeResult:
        self.root = root
        started = time.perf_counter()
        params = initialize_params(root, capabilities, init_options)
        result = await self.call_async(lsp.INITIALIZE, params)
        self._initialized(result, started, initialized)
        return result

    async def shutdown_async(self, timeout: float | None = 120.0) -> None:
        async with asyncio.timeout(timeout):
            await self.call_async(lsp.SHUTDOWN, None)
        self.notify(lsp.EXIT, None)
        await asyncio.to_thread(self._reap)

    # -- documents -------------------------------------------------------------------------

    def open_doc(self, path: Path, text: str | None = None, lang: str = "python") -> str:
        """`didOpen` of `path` with `text` (default: what is on disk); returns its uri."""
        uri = path.as_uri()
        item = lsp.TextDocumentItem(
            uri=uri, language_id=lang, version=1, text=path.read_text() if text is None else text
        )
        self.notify(lsp.TEXT_DOCUMENT_DID_OPEN, lsp.DidOpenTextDocumentParams(text_document=item))
        return uri

    # -- what the server sent --------------------------------------------------------------

    def on(self, method: str, handler: Callable[[Any], None]) -> None:
        """Call `handler(params)` on each `method` notification (typed for LSP methods)."""
        self._handlers.setdefault(method, []).append(handler)

    def chat_text(self, token: Any) -> str:
        return "".join(self.deltas.get(token, []))

    @property
    def indexing(self) -> list[dict[str, Any]]:
        """The progress values of the newest Indexing crawl (begin, reports, end)."""
        return self.work_done.get(self.index_token, []) if self.index_token is not None else []

    @property
    def indexing_ended(self) -> bool:
        with self._cond:
            return bool(self.indexing) and self.indexing[-1].get("kind") == "end"

    @property
    def alive(self) -> bool:
        return not self.exited and self.proc.poll() is None

    def stderr_tail(self, n: int = 2000) -> str:
        with self._cond:
            return bytes(self._stderr_tail[-n:]).decode(errors="replace")

    # -- receiving (the reader thread) -----------------------------------------------------

    def _read_loop(self) -> None:
        assert self.proc.stdout is not None
        try:
            while (message := self._read_message(self.proc.stdout)) is not None:
                self._dispatch(message)
        except Exception as exc:  # the server wrote something that is not JSON-RPC
            self.protocol_error = f"{type(exc).__name__}: {exc}"
        finally:
            with self._cond:
                self.exited = True
                pending, self._pending = self._pending, {}
            for method, _, future in pending.values():
                with contextlib.suppress(InvalidStateError):
                    future.set_exception(self._exited(method))
            self._wake()

    def _read_message(self, stream: IO[bytes]) -> dict[str, Any] | None:
        length = None
        while line := stream.readline():
            if not line.strip():
                if length is None:
                    raise ValueError("the server wrote a header without Content-Length")
                return dict(json.loads(stream.read(length)))
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return None  # end of stream: the server exited

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            self._answer_server_request(message)
        elif "method" in message:
            self._on_notification(message["method"], message.get("params"))
        else:
            self._on_response(message)
        self._wake()

    def _on_response(self, message: dict[str, Any]) -> None:
        with self._cond:
            try:
                claimed = self._pending.pop(message.get("id"), None)
            except TypeError:  # an unhashable id, echoed from bytes a fuzz test sent
                claimed = None
            if claimed is None:
                self._inbox.append(message)
                return
        method, raw, future = claimed
        if future.cancelled():
            return
        try:
            if "error" in message:
                error = _CONVERTER.structure(message["error"], lsp.ResponseError)
                future.set_exception(JsonRpcException.from_error(error))
            elif raw:
                future.set_result(message.get("result"))
            else:
                future.set_result(_typed_result(method, message))
        except InvalidStateError:  # cancelled by its caller meanwhile
            pass
        except Exception as exc:  # a result lsprotocol cannot read: the caller sees why
            with contextlib.suppress(InvalidStateError):
                future.set_exception(exc)

    def _on_notification(self, method: str, params: Any) -> None:
        typed = _typed_params(method, params)
        with self._cond:
            self.notification_counts[method] += 1
            if method == lsp.PROGRESS and isinstance(params, dict):
                self._record_progress(params.get("token"), params.get("value"))
            elif method == lsp.WINDOW_SHOW_MESSAGE:
                self.messages.append(typed)
            elif method == lsp.WINDOW_LOG_MESSAGE:
                self.log_messages.append(typed)
        for handler in list(self._handlers.get(method, ())):
            try:
                handler(typed)
            except Exception:
                traceback.print_exc()

    def _record_progress(self, token: Any, value: Any) -> None:
        if isinstance(value, dict) and "delta" in value:
            self.deltas.setdefault(token, []).append(value["delta"])
        elif isinstance(value, dict):
            if value.get("kind") == "begin" and value.get("title") == "Indexing":
                self.index_token = token
            self.work_done.setdefault(token, []).append(value)

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        """As an editor with no settings: progress bars, edits applied, nothing configured."""
        method, params = message["method"], message.get("params")
        result: Any = None
        if method == lsp.WORKSPACE_CONFIGURATION and isinstance(params, dict):
            result = [None] * len(params.get("items") or [])
        elif method == lsp.WORKSPACE_APPLY_EDIT:
            with self._cond:
                self.applied_edits.append(_typed_params(method, params))  # recorded, not applied
            result = {"applied": True}
        elif method == lsp.WINDOW_SHOW_DOCUMENT:
            result = {"success": True}
        with contextlib.suppress(OSError):  # the server may be gone already
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def _drain_stderr(self) -> None:
        """Read stderr to its end: a full pipe would block the server's next log line."""
        assert self.proc.stderr is not None
        pending = b""
        while chunk := os.read(self.proc.stderr.fileno(), 65536):
            with self._cond:
                self._stderr_tail += chunk
                del self._stderr_tail[:-STDERR_TAIL]
            if self._stderr_file is not None:
                self._stderr_file.write(chunk)
                self._stderr_file.flush()
            if self._on_stderr is not None:
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._on_stderr(line.decode(errors="replace").rstrip())
        if pending and self._on_stderr is not None:
            self._on_stderr(pending.decode(errors="replace").rstrip())

    # -- helpers ---------------------------------------------------------------------------

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
            waiters = list(self._async_waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                loop.call_soon_threadsafe(event.set)

    def _exited(self, what: str) -> ServerExited:
        why = f"; {self.protocol_error}" if self.protocol_error else ""
        return ServerExited(
            f"{what}: the server exited (code {self.proc.poll()}){why}; "
            f"stderr tail: {self.stderr_tail()}"
        )

    def _initialized(self, result: Any, started: float, send: bool) -> None:
        self.init_ms = (time.perf_counter() - started) * 1000
        self.init_result = result
        if send:
            self.notify(lsp.INITIALIZED, {})

    def _reap(self, timeout: float = 60.0) -> None:
        """Wait for the process to end (killed past `timeout`), then for the threads."""
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for thread in self._threads:
                thread.join(10)
            with contextlib.suppress(OSError):
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            if self._stderr_file is not None:
                self._stderr_file.close()


def initialize_params(
    root: Path, capabilities: Capabilities, init_options: dict[str, Any] | None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "processId": os.getpid(),
        "rootUri": root.as_uri(),
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        "capabilities": capabilities_json(capabilities),
    }
    if init_options is not None:
        params["initializationOptions"] = init_options
    return params


def _typed_result(method: str, message: dict[str, Any]) -> Any:
    """The result as pygls' client types it: lsprotocol's class for an LSP method."""
    response_type = lsp.METHOD_TO_TYPES.get(method, (None, None))[1]
    if response_type is None:
        return message.get("result")
    answer = {"jsonrpc": "2.0", "id": message["id"], "result": message.get("result")}
    return _CONVERTER.structure(answer, response_type).result


def _typed_params(method: str, params: Any) -> Any:
    types = lsp.METHOD_TO_TYPES.get(method)
    if types is None or types[2] is None:
        return params
    try:
        return _CONVERTER.structure(params, types[2])
    except Exception:  # not what the spec says: left as it came, for the caller to see
        return params


@asynccontextmanager
async def lsp_session(
    root: Path,
    env: dict[str, str],
    *,
    capabilities: Capabilities = WORK_DONE_PROGRESS,
    init_options: dict[str, Any] | None = None,
    command: list[str] | None = None,
    on_stderr: Callable[[str], None] | None = None,
    on_initialize: Callable[[LspClient], Awaitable[None]] | None = None,
) -> AsyncIterator[LspClient]:
    """A started, initialized server on `root`; shut down (or killed) at the end.

    `on_initialize` runs between the initialize answer and `initialized`, which is when
    the server starts loading its models and indexing.
    """
    client = LspClient(env, command=command, on_stderr=on_stderr)
    try:
        await client.initialize_async(root, capabilities, init_options, initialized=False)
        if on_initialize is not None:
            await on_initialize(client)
        client.notify(lsp.INITIALIZED, {})
        yield client
    except BaseException:
        await asyncio.to_thread(client.close)
        raise
    try:
        await client.shutdown_async()
    finally:
        if client.proc.poll() is None:
            await asyncio.to_thread(client.close)
