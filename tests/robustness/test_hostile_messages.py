"""Hostile messages against the real server: one error reply or log line, never the process.

One bad document affects only itself. One server serves the module, on the sample repository
and the embedded models.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_workspace
from tests.harness.env import isolated_env
from tests.harness.lsp_client import LspClient, frame

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PARSE_ERROR, INVALID_REQUEST = -32700, -32600


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LspClient]:
    root = make_workspace(tmp_path_factory.mktemp("ws") / "repo")
    home = tmp_path_factory.mktemp("home")
    srv = LspClient(isolated_env(home), stderr_path=home / "server.stderr")
    srv.initialize(root, capabilities={}, init_options={"completion": {"max_tokens": 8}})
    yield srv
    srv.close()


def serves(srv: LspClient) -> None:
    status = srv.command("lsp-ai.status")
    assert isinstance(status, dict) and "indexedFiles" in status, status


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [65, 2_000, 100_000])
def test_a_deeply_nested_message_costs_one_error_not_the_process(
    server: LspClient, depth: int
) -> None:
    body = (
        b'{"jsonrpc": "2.0", "id": "deep", "method": "workspace/executeCommand", '
        b'"params": {"command": "lsp-ai.search", "arguments": ' + nested(depth) + b"}}"
    )
    server.send_bytes(frame(body))
    status_id = server.post("workspace/executeCommand", {"command": "lsp-ai.status"})
    answers = server.responses_until(status_id)
    errors = [a["error"] for a in answers[:-1]]
    assert len(errors) == 1 and errors[0]["code"] in (PARSE_ERROR, INVALID_REQUEST), answers
    assert "nest" in errors[0]["message"]
    assert "result" in answers[-1] and server.alive


def test_a_lone_surrogate_in_one_document_breaks_no_other(server: LspClient) -> None:
    assert server.root is not None
    bad = server.root / "bad.py"
    # A lone high surrogate, as JSON allows it: "\ud800" with no low half after it.
    server.send_bytes(
        frame(
            b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": '
            b'{"uri": "' + bad.as_uri().encode() + b'", "languageId": "python", "version": 1, '
            b'"text": "name = \\"\\ud800\\"\\nvalue = "}}}'
        )
    )
    good = server.root / "good.py"
    uri = server.open_doc(good, "def square(x):\n    return ")
    for target, line, character in ((uri, 1, 11), (bad.as_uri(), 1, 8)):
        result = server.call(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": target},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 1},
            },
        )
        assert result is not None  # an answer, not an error
    explained = server.command("lsp-ai.explainLastCompletion", uri)
    assert explained["decision"]["outcome"] in ("shown", "empty"), explained
    serves(server)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("textDocument/didOpen", {"textDocument": {"uri": "file:///tmp/a\u0000b.py",
                                                   "languageId": "python", "version": 1,
                                                   "text": "x = 1\n"}}),
        ("textDocument/didOpen", {"textDocument": {"uri": "relative/a.py",
                                                   "languageId": "python", "version": 1,
                                                   "text": "x = 1\n"}}),
        ("textDocument/didChange", {"textDocument": {"uri": "file:///never/opened.py",
                                                     "version": 2},
                                    "contentChanges": [{"text": "y = 2\n"}]}),
        ("textDocument/didClose", {"textDocument": {"uri": "file:///never/opened.py"}}),
        ("textDocument/didSave", {"textDocument": {"uri": "file:///tmp/a\u0000b.py"}}),
    ],
)  # fmt: skip
def test_a_bad_notification_is_logged_and_pops_up_nothing(
    server: LspClient, method: str, params: dict[str, Any]
) -> None:
    shown = len(server.messages)
    server.notify(method, params)
    serves(server)
    assert server.messages[shown:] == [], "a notification has no reply: log it, show nothing"
    assert server.alive
