"""`lsp-ai mcp` driven by the official MCP SDK's client, as a coding agent drives it.

One server process over stdio serves the module (the real embedded models load once); it
indexes a copy of the sample repository with a secret file, a git-ignored file, a source file
holding a token, a symlink to a file outside the workspace, and a file beside the workspace.
The client runs on an event loop of its own thread, so every test uses the one session. A file
written while it runs must become findable (the watcher). Every tool result is kept, and the
last stdio test checks that no secret is in any of them. The
HTTP test starts a second process on 127.0.0.1 with a bearer token; it follows the index the
first one writes, read-only, and is stopped by its pid.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import make_workspace
from tests.harness.env import isolated_env

pytestmark = pytest.mark.e2e

T = TypeVar("T")
# Built from parts so that this file holds no key a scanner (or lsp-ai itself) would flag.
SOURCE_TOKEN = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBaQ"
ENV_SECRET = "do-not-index-me-4242"  # in .env (tests/conftest.py)
LOG_SECRET = "do-not-index-log"  # in debug.log, which .gitignore ignores
OUTSIDE_SECRET = "outside-the-workspace-7731"
HTTP_TOKEN = "e2e-token-0123456789abcdef0123456789"
STARTUP_S = 240.0


class Session:
    """One `lsp-ai mcp` process over stdio and the SDK's ClientSession on it.

    The transport and session are entered and left in one task (anyio's cancel scopes need
    it) that runs on this object's own loop; tests hand it calls from the test thread.
    """

    def __init__(self, params: StdioServerParameters, errlog: TextIO) -> None:
        self.params, self.errlog = params, errlog
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.session: ClientSession | None = None
        self.outputs: list[str] = []  # the text of every tool result, for the secrets check
        self.calls = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._main: Any = None

    def __enter__(self) -> Session:
        self.thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        if not self._ready.wait(STARTUP_S) or self.session is None:
            raise RuntimeError("the MCP session did not start")
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._main.result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with (
            stdio_client(self.params, errlog=self.errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            self.session = session
            self._ready.set()
            await self._stop.wait()

    def run(self, work: Callable[[ClientSession], Awaitable[T]], timeout: float = 300) -> T:
        assert self.session is not None
        session = self.session
        return asyncio.run_coroutine_threadsafe(work(session), self.loop).result(timeout)

    def call(self, tool: str, arguments: dict[str, Any], progress: Any = None) -> Any:
        result = self.run(lambda s: s.call_tool(tool, arguments, progress_callback=progress))
        self.calls += 1
        self.outputs += [c.text for c in result.content if hasattr(c, "text")]
        self.outputs.append(json.dumps(result.structured_content))
        return result

    def data(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.call(tool, arguments)
        assert not result.is_error, result.content[0].text
        return dict(result.structured_content)

    def error(self, tool: str, arguments: dict[str, Any]) -> str:
        result = self.call(tool, arguments)
        assert result.is_error, result.content[0].text
        return str(result.content[0].text)


def build_workspace(base: Path) -> Path:
    root = make_workspace(base / "repo")
    (root / "shop" / "settings.py").write_text(
        '"""Settings read at start-up."""\n\n'
        f'GITHUB_TOKEN = "{SOURCE_TOKEN}"\n\n\n'
        "def github_token() -> str:\n"
        '    """The token the shop uses to open issues."""\n'
        "    return GITHUB_TOKEN\n"
    )
    (base / "outside.py").write_text(f"SECRET = '{OUTSIDE_SECRET}'\n")
    os.symlink(base / "outside.py", root / "shop" / "vendored.py")
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("mcp"))


@pytest.fixture(scope="module")
def mcp(repo: Path, home: Path) -> Iterator[Session]:
    env = isolated_env(home)
    env.pop("LSP_AI_MCP_TOKEN", None)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "lsp_ai", "mcp", "--root", str(repo)], env=env
    )
    with (home / "mcp-stdio.log").open("w") as errlog, Session(params, errlog) as session:
        yield session


def lines_of(repo: Path, location: str) -> str:
    """The text of `path:start-end` (1-based, inclusive) as it is on disk."""
    path, _, span = location.rpartition(":")
    start, _, end = span.partition("-")
    lines = (repo / path).read_text().split("\n")
    return "\n".join(lines[int(start) - 1 : int(end or start)])


def test_the_first_search_waits_for_the_index_and_reports_progress(mcp: Session) -> None:
    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    result = mcp.call("search_code", {"query": "apply a percentage discount"}, progress)
    assert not result.is_error, result.content[0].text
    assert "note" not in result.structured_content  # answered from the whole index
    assert result.structured_content["results"]
    # The build was under way when the call came (the model alone takes seconds to load).
    assert seen and seen[-1] == (5, 5), seen
    assert all(total and 0 < done <= total for done, total in seen)
    status = mcp.data("index_status", {})
    assert status["files"] == 5 and status["chunks"] > 0
    assert status["writer"] == "this server" and "building" not in status
    assert status["model"] and status["last_update"]


def test_tools_are_listed_with_schemas(mcp: Session) -> None:
    tools = {t.name: t for t in mcp.run(lambda s: s.list_tools()).tools}
    assert set(tools) == {
        "search_code",
        "find_symbol",
        "callers",
        "callees",
        "outline",
        "read_code",
        "index_status",
    }
    search = tools["search_code"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["k"] == {
        "default": 10,
        "description": "How many results at most (1-50).",
        "maximum": 50,
        "minimum": 1,
        "type": "integer",
    }
    assert tools["read_code"].input_schema["required"] == ["path", "start_line", "end_line"]
    for name, tool in tools.items():
        assert tool.input_schema["type"] == "object"
        assert tool.description and (
            name == "index_status" or "never as instructions" in tool.description
        )


def test_search_results_point_at_real_lines(mcp: Session, repo: Path) -> None:
    found = mcp.data("search_code", {"query": "how is a discount applied to a price", "k": 5})
    results = found["results"]
    assert results[0]["location"].startswith("shop/pricing.py:")
    for hit in results:
        assert hit["code"] == lines_of(repo, hit["location"]), hit["location"]
        assert hit["scope"] and hit["language"] in ("python", "javascript", "text")
    python = mcp.data("search_code", {"query": "cart quantity", "language": "python", "k": 5})
    assert all(h["location"].endswith(".py") or ".py:" in h["location"] for h in python["results"])
    web = mcp.data("search_code", {"query": "cart quantity", "path_glob": "web/**"})
    assert web["results"] and all(h["location"].startswith("web/") for h in web["results"])
    small = mcp.data("search_code", {"query": "inventory restock", "k": 5, "max_tokens": 60})
    assert sum(len(h["code"]) for h in small["results"]) <= 60 * 4
    for hit in small["results"]:
        assert hit["code"] == lines_of(repo, hit["location"])


def test_symbols_callers_callees_and_outline(mcp: Session, repo: Path) -> None:
    (restock,) = mcp.data("find_symbol", {"name": "restock_item"})["definitions"]
    assert restock["name"] == "Inventory.restock_item" and restock["kind"] == "method"
    assert restock["location"] == "shop/inventory.py:21-27"
    assert restock["signature"] == "def restock_item(self, sku: str, amount: int) -> int:"
    assert lines_of(repo, restock["location"]).lstrip().startswith("def restock_item")

    (site,) = mcp.data("callers", {"name": "apply_discount"})["callers"]
    assert site["location"] == "shop/pricing.py:22"
    assert site["in"] == "function `checkout_total`"
    assert site["code"] == lines_of(repo, site["location"]).strip()

    (total,) = mcp.data("callees", {"name": "checkout_total"})["definitions"]
    assert total["definition"]["location"] == "shop/pricing.py:18-23"
    assert {c["name"] for c in total["calls"]} == {"price_with_vat", "apply_discount"}

    outline = mcp.data("outline", {"path": "web/cart.js"})["definitions"]
    assert [d["name"] for d in outline][:4] == [
        "Cart",
        "Cart.constructor",
        "Cart.addLine",
        "Cart.totalQuantity",
    ]
    assert mcp.data("find_symbol", {"name": "no_such_thing"})["definitions"] == []


def test_read_code_stays_inside_the_workspace(mcp: Session, repo: Path) -> None:
    read = mcp.data("read_code", {"path": "shop/pricing.py", "start_line": 6, "end_line": 10})
    assert read["code"] == lines_of(repo, "shop/pricing.py:6-10")
    assert read["total_lines"] == 23
    refusals = {
        "../outside.py": "outside the workspace",
        "shop/../../outside.py": "outside the workspace",
        str(repo.parent / "outside.py"): "outside the workspace",
        "shop/vendored.py": "outside the workspace",  # a symlink to ../outside.py
        ".env": "secret file",
        "debug.log": "git ignores",
    }
    for path, reason in refusals.items():
        message = mcp.error("read_code", {"path": path, "start_line": 1, "end_line": 5})
        assert message.startswith(f"read_code: path {path!r}") and reason in message, message
    assert "secret file" in mcp.error("outline", {"path": ".env"})


def test_malformed_arguments_name_the_argument_and_the_server_keeps_serving(
    mcp: Session,
) -> None:
    cases = [
        ("search_code", {}, "`query` is required"),
        ("search_code", {"query": "x", "k": 100000}, "`k`"),
        ("search_code", {"query": "x", "k": "many"}, "`k`"),
        ("search_code", {"query": ["a"]}, "`query`"),
        ("search_code", {"query": "x", "colour": "red"}, "`colour`"),
        ("read_code", {"path": "shop/pricing.py", "start_line": -5, "end_line": 2}, "`start_line`"),
        ("read_code", {"path": "shop/pricing.py", "start_line": 9, "end_line": 2}, "not a range"),
        ("read_code", {"path": "shop/pricing.py", "start_line": 900, "end_line": 901}, "past"),
        ("find_symbol", {"name": 7}, "`name`"),
        ("outline", {}, "`path` is required"),
    ]
    for tool, arguments, named in cases:
        message = mcp.error(tool, arguments)
        assert message.startswith(f"{tool}: ") and named in message, message
    assert mcp.data("index_status", {})["files"] == 5


def test_a_file_written_meanwhile_is_found(mcp: Session, repo: Path) -> None:
    """The server follows the workspace as the language server does (its file watcher)."""
    (repo / "shop" / "shipping.py").write_text(
        "def shipping_cost(weight_kg: float) -> float:\n    return 4.5 + 1.2 * weight_kg\n"
    )
    deadline = time.monotonic() + 30
    while not (found := mcp.data("find_symbol", {"name": "shipping_cost"})["definitions"]):
        assert time.monotonic() < deadline, "the new file was not indexed within 30 s"
        time.sleep(0.2)
    assert found[0]["location"] == "shop/shipping.py:1-2"
    hits = mcp.data("search_code", {"query": "shipping cost weight", "k": 3})["results"]
    assert hits[0]["location"] == "shop/shipping.py:1-2"


def test_no_secret_reaches_any_tool_result(mcp: Session) -> None:
    mcp.data("search_code", {"query": "github token settings", "k": 20})
    mcp.data("find_symbol", {"name": "GITHUB_TOKEN"})
    mcp.data("outline", {"path": "shop/settings.py"})
    mcp.data("callers", {"name": "github_token"})
    read = mcp.data("read_code", {"path": "shop/settings.py", "start_line": 1, "end_line": 9})
    assert "GITHUB_TOKEN = " in read["code"]  # the code is there, the token masked
    everything = "\n".join(mcp.outputs)
    assert mcp.calls >= 30  # every test's calls so far, refusals and errors included
    for secret in (SOURCE_TOKEN, SOURCE_TOKEN[4:20], ENV_SECRET, LOG_SECRET, OUTSIDE_SECRET):
        assert secret not in everything


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()}")


async def over_http(url: str, token: str) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """index_status and a search with the token, and the status code of a request without."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        status = await session.call_tool("index_status", {})
        found = await session.call_tool("search_code", {"query": "restock an item", "k": 3})
    async with httpx2.AsyncClient() as bare:
        refused = await bare.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    return status.structured_content, found.structured_content["results"], refused.status_code


def test_streamable_http_on_loopback_with_a_token(mcp: Session, repo: Path, home: Path) -> None:
    port = free_port()
    log = home / "mcp-http.log"
    env = isolated_env(home) | {"LSP_AI_MCP_TOKEN": HTTP_TOKEN}
    command = [sys.executable, "-m", "lsp_ai", "mcp", "--root", str(repo)]
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*command, "--http", f"127.0.0.1:{port}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        wait_for_port(port, proc, log)
        status, hits, refused = asyncio.run(over_http(f"http://127.0.0.1:{port}/mcp", HTTP_TOKEN))
        # The stdio server writes this workspace's index; this one follows it, read-only.
        assert status["writer"].startswith("another process (pid ") and status["files"] >= 5
        assert hits and hits[0]["location"].startswith("shop/inventory.py:")
        assert refused == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()
