"""No credential in any log line, trace, editor message or error, at any log level.

The API keys travel in `initializationOptions` and `workspace/didChangeConfiguration`, and
pygls prints whole messages when the log level is debug; every server points at a loopback
port nobody listens on, so nothing leaves the machine.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from lsp_ai.config import load_config
from lsp_ai.inference.base import ModelError
from lsp_ai.inference.openai_compat import Endpoint
from lsp_ai.logs import CallbackHandler, setup_logging
from tests.harness.env import isolated_env
from tests.harness.lsp_client import LspClient

INIT_KEY = "sk-init-options-7f3a9c21e5"
SETTINGS_KEY = "sk-did-change-b81d04aa6c"
HEADER_KEY = "sk-header-9e2b71f0d3"


def closed_loopback_port() -> int:
    """A loopback port that was free a moment ago: a connection to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def all_remote(base_url: str, key: str) -> dict[str, object]:
    """Every role on the openai backend: no model to load, every call refused on loopback."""
    role = {"backend": "openai", "base_url": base_url, "api_key": key}
    return {"models": {"completion": role, "chat": role, "embedding": role}}


@pytest.mark.timeout(180)
def test_server_at_debug_level_logs_no_api_key(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("def area(w, h):\n    return w * h\n")
    home = tmp_path / "home"
    env = isolated_env(home)
    env["LSP_AI_LOG_LEVEL"] = "debug"
    base_url = f"http://127.0.0.1:{closed_loopback_port()}/v1"

    client = LspClient(env)
    try:
        client.initialize(root, init_options=all_remote(base_url, INIT_KEY))
        settings = {"lsp-ai": {"models": {"chat": {"apiKey": SETTINGS_KEY}}}}
        client.notify(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION, {"settings": settings})
        uri = client.open_doc(root / "app.py")
        client.call(
            lsp.TEXT_DOCUMENT_COMPLETION,
            {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}},
        )
        time.sleep(1.0)  # the failed crawl and the config reload reach the log
        client.shutdown()
    finally:
        client.close()

    (log_file,) = home.rglob("lsp-ai.log")
    logged = log_file.read_text()
    assert "initializationOptions" in logged or "initialization_options" in logged  # debug on
    shown = [m.message for m in client.log_messages + client.messages]
    assert shown  # the editor did receive log lines
    for text in (logged, *shown, client.stderr_tail(1_000_000)):
        assert INIT_KEY not in text and SETTINGS_KEY not in text


@pytest.fixture
def logging_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`setup_logging` at debug level with its log file under `tmp_path`; restored after."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("pygls").level)
    path = setup_logging(logging.DEBUG)
    assert path is not None
    yield path
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.getLogger("pygls").setLevel(saved[2])


def test_every_handler_masks_keys_by_name_and_bearer_tokens(
    logging_to: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forwarded: list[str] = []
    editor = CallbackHandler(lambda record, text: forwarded.append(text), logging.DEBUG)
    ours = logging.getLogger("lsp_ai.test_secrets")
    ours.addHandler(editor)
    try:
        pygls = logging.getLogger("pygls.protocol")
        pygls.debug("Received %s", {"initializationOptions": {"apiKey": "sk-pygls-0001"}})
        ours.debug("headers %s", {"Authorization": f"Bearer {HEADER_KEY}"})
        ours.warning('raw "api_key": "sk-json-0002", password=hunter2-secret, max_tokens=64')
        try:
            raise RuntimeError("token=sk-traceback-0003")
        except RuntimeError:
            ours.exception("failed")
    finally:
        ours.removeHandler(editor)

    text = logging_to.read_text() + capsys.readouterr().err + "\n".join(forwarded)
    for secret in ("sk-pygls-0001", HEADER_KEY, "sk-json-0002", "hunter2", "sk-traceback-0003"):
        assert secret not in text
    assert "max_tokens=64" in text  # a token count is not a token
    assert "Bearer ***" in text


@pytest.fixture
def echoing_server() -> Iterator[str]:
    """A loopback server that refuses every request and echoes the key back, as some do."""

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"invalid key: {self.headers.get('Authorization', '')[7:]}".encode()
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_key_echoed_by_the_server_is_not_in_the_error(
    echoing_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LSP_AI_CONFIG", str(tmp_path / "none.toml"))  # not the developer's
    # The key as the user configures it: load_config remembers it for masking.
    cfg, _ = load_config(None, init_options=all_remote(echoing_server, HEADER_KEY))
    endpoint = Endpoint(cfg.models.chat.base_url, cfg.models.chat.api_key, "chat")
    with pytest.raises(ModelError) as caught:
        endpoint.get_json("/models")
    assert "401" in str(caught.value) and HEADER_KEY not in str(caught.value)
