"""A byte-level JSON-RPC client: sends exactly the bytes a test gives, reads what comes back.

pytest-lsp's client serialises well-formed messages only; the fuzz tests need to send
broken frames and wrongly typed params, and to see every message the server writes.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from tests.conftest import SERVER_COMMAND, isolated_env


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode(message: dict[str, Any]) -> bytes:
    return frame(json.dumps(message).encode())


class RawServer:
    """`python -m lsp_ai serve` on pipes; every message it sends lands in `inbox`."""

    def __init__(
        self,
        root: Path,
        home: Path,
        init_options: dict[str, Any] | None = None,
        *,
        initialize: bool = True,
    ) -> None:
        self.root = root
        self.stderr_path = home / "server.stderr"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            SERVER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=isolated_env(home),
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        assert self.proc.stdout is not None
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        if initialize:
            self.initialize(init_options)

    def initialize(self, init_options: dict[str, Any] | None = None) -> None:
        self.init_result = self.call(
            "initialize",
            {
                "processId": None,
                "rootUri": self.root.as_uri(),
                "workspaceFolders": [{"uri": self.root.as_uri(), "name": self.root.name}],
                "capabilities": {},
                "initializationOptions": init_options or {},
            },
        )
        self.notify("initialized", {})

    def _read(self, out: IO[bytes]) -> None:
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None, "the server wrote a header without Content-Length"
            message = json.loads(out.read(length))
            if "method" in message and "id" in message:
                # A request from the server (progress, configuration): answered with null.
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)
            else:
                self.inbox.put(message)

    def send_bytes(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(encode(message))

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any) -> int:
        msg_id = next(self._ids)
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def responses_until(self, msg_id: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every response received up to and including the one for `msg_id`."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(
                    f"no response to {msg_id!r} (server exit code {self.proc.poll()}); "
                    f"got {got!r}; stderr tail: {self.stderr_tail()}"
                )
            try:
                message = self.inbox.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            got.append(message)
            if message.get("id") == msg_id:
                return got

    def call(self, method: str, params: Any, timeout: float = 30.0) -> Any:
        msg_id = self.request(method, params)
        answer = self.responses_until(msg_id, timeout)[-1]
        if "error" in answer:
            raise AssertionError(f"{method} failed: {answer['error']}")
        return answer["result"]

    def status(self) -> dict[str, Any]:
        """A normal request that must always work: the proof the server still serves."""
        result = self.call("workspace/executeCommand", {"command": "lsp-ai.status"})
        assert isinstance(result, dict) and "indexedFiles" in result, result
        return result

    def stderr_tail(self, n: int = 2000) -> str:
        self._stderr.flush()
        return self.stderr_path.read_bytes()[-n:].decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("shutdown", None, timeout=10)
                self.notify("exit", None)
                self.proc.wait(timeout=10)
            except (AssertionError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
