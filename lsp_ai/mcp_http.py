"""`lsp-ai mcp --http`: the MCP tools over streamable HTTP, on the loopback interface by default.

Anyone who can reach the port can read the workspace's code, so the rules are strict: a
loopback address needs nothing more (the SDK's Host and Origin checks stop a web page from
reaching it through DNS rebinding); any other address is refused unless the user says so
(`--allow-remote`) and gives a token, which every HTTP request must then carry as
`Authorization: Bearer <token>`. A token given for a loopback address is checked the same way.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TOKEN_ENV = "LSP_AI_MCP_TOKEN"
MIN_TOKEN_CHARS = 16  # a token someone could guess protects nothing
MCP_PATH = "/mcp"


class BindRefused(ValueError):
    """An address or token the HTTP server will not run with; the message says the fix."""


@dataclass(frozen=True)
class Bind:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{MCP_PATH}"


def parse_bind(text: str) -> Bind:
    """`HOST:PORT`, `[IPv6]:PORT` or a bare `PORT` (on 127.0.0.1)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = "", text.strip()
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise BindRefused(f"--http takes HOST:PORT (e.g. 127.0.0.1:8765), got {text!r}")
    return Bind(host, int(port))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to any interface


def check_bind(bind: Bind, allow_remote: bool, token: str | None) -> None:
    """Refuse to serve code where it could be read without the user's say-so and a token."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise BindRefused(
            f"the token is too short to protect anything; use at least {MIN_TOKEN_CHARS} "
            "random characters (e.g. `openssl rand -hex 32`)"
        )
    if is_loopback(bind.host):
        return
    if not allow_remote:
        raise BindRefused(
            f"refusing to serve the workspace's code on {bind.host}, which other machines can "
            "reach; use 127.0.0.1, or pass --allow-remote together with a token "
            f"(--token or {TOKEN_ENV})"
        )
    if token is None:
        raise BindRefused(
            f"--allow-remote needs a token that clients send as a bearer token: set {TOKEN_ENV} "
            "(or pass --token)"
        )


class BearerToken:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = [v for k, v in scope.get("headers", []) if k.lower() == b"authorization"]
            # Compared in constant time, so the answer's timing tells nothing of the token.
            if len(given) != 1 or not hmac.compare_digest(given[0], self._expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b"missing or wrong token\n"})
                return
        await self.app(scope, receive, send)


def _security(bind: Bind) -> Any:
    """Host and Origin checks for a loopback address (against DNS rebinding), else none.

    Off an interface others reach, clients name the host as they see it; the token guards.
    """
    from mcp.server.transport_security import TransportSecuritySettings

    if not is_loopback(bind.host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = [bind.host if ":" not in bind.host else f"[{bind.host}]", "127.0.0.1", "localhost"]
    names.append("[::1]")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:*" for n in names] + names,
        allowed_origins=[f"http://{n}:*" for n in names] + [f"http://{n}" for n in names],
    )


async def serve_http(roots: Sequence[Path], bind: Bind, token: str | None) -> None:
    """Serve every client that connects, until SIGINT or SIGTERM."""
    import uvicorn

    from lsp_ai.mcp_server import build_server, make_assistant
    from lsp_ai.models import Role

    assistant = make_assistant(roots)
    try:
        assistant.start(roles=(Role.EMBEDDING,))
        app: Any = build_server(assistant).streamable_http_app(
            streamable_http_path=MCP_PATH, host=bind.host, transport_security=_security(bind)
        )
        if token is not None:
            app = BearerToken(app, token)
        config = uvicorn.Config(
            app, host=bind.host, port=bind.port, log_level="warning", log_config=None
        )
        log.warning("lsp-ai MCP server on %s%s", bind.url, " (token required)" if token else "")
        # uvicorn shuts down gently on SIGINT or SIGTERM, then raises the signal again for
        # the handler that was there before; a handler that does nothing lets `finally` close
        # the index and the models, and the process exit 0.
        quiet = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            await uvicorn.Server(config).serve()
        finally:
            for sig, handler in quiet.items():
                signal.signal(sig, handler)
    finally:
        assistant.close()


def _ignore(signum: int, frame: Any) -> None:
    """Stand in for the default handler while uvicorn owns the signals (see serve_http)."""
