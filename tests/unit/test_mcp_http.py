"""`lsp-ai mcp --http`: where it may listen, and the bearer token every request must carry.

Served for real (uvicorn, the SDK's streamable HTTP client) in tests/e2e/test_mcp.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lsp_ai.mcp_http import (
    TOKEN_ENV,
    BearerToken,
    Bind,
    BindRefused,
    check_bind,
    is_loopback,
    parse_bind,
)
from tests.harness.env import isolated_env

TOKEN = "0123456789abcdef0123456789abcdef"


def test_parse_bind() -> None:
    assert parse_bind("127.0.0.1:8765") == Bind("127.0.0.1", 8765)
    assert parse_bind("8765") == Bind("127.0.0.1", 8765)
    assert parse_bind(":8765") == Bind("127.0.0.1", 8765)
    assert parse_bind("[::1]:9000") == Bind("::1", 9000)
    assert parse_bind("[::1]:9000").url == "http://[::1]:9000/mcp"
    for bad in ("127.0.0.1", "host:port", "127.0.0.1:0", "127.0.0.1:70000", ""):
        with pytest.raises(BindRefused, match="HOST:PORT"):
            parse_bind(bad)


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host)
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.com", "10.0.0.1"):
        assert not is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "myhost.local"])
def test_a_non_loopback_bind_needs_the_flag_and_a_token(host: str) -> None:
    bind = Bind(host, 8765)
    with pytest.raises(BindRefused, match="--allow-remote"):
        check_bind(bind, allow_remote=False, token=None)
    with pytest.raises(BindRefused, match="--allow-remote"):
        check_bind(bind, allow_remote=False, token=TOKEN)  # a token alone is not consent
    with pytest.raises(BindRefused, match=TOKEN_ENV):
        check_bind(bind, allow_remote=True, token=None)
    with pytest.raises(BindRefused, match="too short"):
        check_bind(bind, allow_remote=True, token="hunter2")
    check_bind(bind, allow_remote=True, token=TOKEN)


def test_loopback_needs_neither() -> None:
    check_bind(Bind("127.0.0.1", 8765), allow_remote=False, token=None)
    check_bind(Bind("::1", 8765), allow_remote=False, token=TOKEN)


def test_the_command_refuses_a_public_bind_in_one_line(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "home")
    env.pop(TOKEN_ENV, None)
    base = [sys.executable, "-m", "lsp_ai", "mcp", "--root", str(tmp_path)]
    for extra, says in (
        (["--http", "0.0.0.0:8765"], "--allow-remote"),
        (["--http", "0.0.0.0:8765", "--allow-remote"], TOKEN_ENV),
        (["--token", TOKEN], "--http only"),
    ):
        out = subprocess.run(
            base + extra,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 1, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], out.stderr


async def _call(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, list[str]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers}
    await app(scope, receive, send)
    return sent[0]["status"], [m.get("body", b"").decode() for m in sent[1:]]


async def test_every_http_request_must_carry_the_token() -> None:
    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = BearerToken(inner, TOKEN)
    good = (b"authorization", f"Bearer {TOKEN}".encode())
    assert await _call(app, [good]) == (200, ["ok"])
    for headers in (
        [],
        [(b"authorization", b"Bearer wrong")],
        [(b"authorization", TOKEN.encode())],
        [(b"authorization", f"Bearer {TOKEN}x".encode())],
        [good, (b"authorization", b"Bearer wrong")],
    ):
        status, _ = await _call(app, headers)
        assert status == 401
    assert reached == ["/mcp"]
