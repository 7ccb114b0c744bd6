"""A loopback stand-in for the Hugging Face hub's file downloads, for `lsp-ai models pull`.

It answers what `huggingface_hub.hf_hub_download` asks (HEAD, then GET, of
`/{repo}/resolve/{revision}/{filename}`) with the headers it reads: X-Repo-Commit, ETag and
X-Linked-Etag (an LFS file's SHA-256), X-Linked-Size, Content-Length, and ranged GETs
answered with 206. Faults are switched on per test: a wrong advertised checksum, a size
bigger than any disk, a transfer cut after some bytes.
"""

from __future__ import annotations

import hashlib
import resource
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.harness.env import isolated_env

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    data: bytes
    sha256: str = ""  # advertised; defaults to the real one
    size: int | None = None  # advertised X-Linked-Size; defaults to the real one
    cut_after: int | None = None  # the first full GET stops after this many bytes

    def __post_init__(self) -> None:
        self.sha256 = self.sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass
class Hub:
    files: dict[str, HubFile] = field(default_factory=dict)  # "owner/repo/filename"
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Range
    _server: ThreadingHTTPServer | None = None

    def add(self, repo: str, filename: str, data: bytes | Path, **faults: Any) -> HubFile:
        raw = data.read_bytes() if isinstance(data, Path) else data
        entry = self.files[f"{repo}/{filename}"] = HubFile(raw, **faults)
        return entry

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Hub:
        hub = self

        class Handler(_Handler):
            owner = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: Hub
    protocol_version = "HTTP/1.1"  # keep-alive and Content-Length, as the real hub

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows stderr of failed tests

    def _entry(self) -> HubFile | None:
        # /{owner}/{repo}/resolve/{revision}/{filename}
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None
        return self.owner.files.get("/".join([parts[0], parts[1], *parts[4:]]))

    def _not_found(self) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("X-Error-Message", "Entry not found")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _headers(self, entry: HubFile, status: int, length: int, first: int = 0) -> None:
        self.send_response(status)
        size = len(entry.data)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{entry.sha256}"')
        self.send_header("X-Linked-Etag", f'"{entry.sha256}"')
        self.send_header("X-Linked-Size", str(entry.size if entry.size is not None else size))
        self.send_header("Accept-Ranges", "bytes")
        # The hub's CDN names the file; huggingface_hub's progress bar shows this name.
        name = self.path.split("?")[0].rsplit("/", 1)[-1]
        self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{size - 1}/{size}")
        self.end_headers()

    def do_HEAD(self) -> None:
        self.owner.requests.append(("HEAD", self.path, ""))
        entry = self._entry()
        if entry is None:
            return self._not_found()
        self._headers(entry, 200, len(entry.data))

    def do_GET(self) -> None:
        ranged = self.headers.get("Range", "")
        self.owner.requests.append(("GET", self.path, ranged))
        entry = self._entry()
        if entry is None:
            return self._not_found()
        first = int(ranged.removeprefix("bytes=").split("-")[0]) if ranged else 0
        body = entry.data[first:]
        self._headers(entry, 206 if ranged else 200, len(body), first)
        if entry.cut_after is not None and not ranged:
            # Promise the whole file, send part of it, hang up: a dropped connection.
            self.wfile.write(body[: entry.cut_after])
            self.wfile.flush()
            entry.cut_after = None
            self.close_connection = True
            return
        self.wfile.write(body)


def lsp_ai(
    env: dict[str, str], *args: str, max_file_bytes: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run `python -m lsp_ai ARGS`; `max_file_bytes` makes its writes fail past that size."""

    def limit_writes() -> None:
        # A disk that fills up mid-download: writes past the limit fail with EFBIG (the
        # signal that would kill the process instead is ignored, and stays so across exec).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run(
        [sys.executable, "-m", "lsp_ai", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_writes if max_file_bytes else None,
    )


def hub_env(home: Path, endpoint: str) -> dict[str, str]:
    """An isolated environment (tests.harness.env) that downloads from `endpoint`."""
    env = isolated_env(home)
    env.update(HF_ENDPOINT=endpoint, HF_HUB_OFFLINE="0", HF_HUB_DISABLE_TELEMETRY="1")
    env.pop("HF_HOME", None)
    env.pop("HF_HUB_CACHE", None)
    return env
