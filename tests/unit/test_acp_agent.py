"""The ACP front-end's conversions and framing, and the facade calls it relies on.

The protocol end to end, on the real models, is tests/e2e/test_acp.py; here are the parts
that need no model: which mentioned file becomes chat context, how deltas are trimmed, and
what a malformed line is answered with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from acp.helpers import embedded_text_resource, resource_block, resource_link_block, text_block
from acp.schema import PromptRequest
from pydantic import ValidationError

from lsp_ai.acp_agent import _Trim, chat_query
from lsp_ai.acp_stdio import PARSE_ERROR, fields, parse
from lsp_ai.assistant import Assistant
from tests.fakes import private_workspace, stand_ins

SECRET = "API_TOKEN=not-for-any-model-9876"


@pytest.fixture
def assistant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Assistant]:
    root = private_workspace(tmp_path, monkeypatch)
    (root / "app.py").write_text("def main():\n    return 1\n")
    (root / ".env").write_text(SECRET + "\n")
    (tmp_path / "outside.txt").write_text("not in the workspace\n")
    (root / "escape.txt").symlink_to(tmp_path / "outside.txt")
    a = Assistant([root], models=stand_ins().by_role())
    yield a
    a.close()


def test_a_link_is_read_only_inside_the_workspace_and_never_for_a_secret(
    assistant: Assistant, tmp_path: Path
) -> None:
    root = assistant.roots[0]
    assert assistant.mentioned_file((root / "app.py").as_uri()) == "def main():\n    return 1\n"
    assert assistant.mentioned_file((root / ".env").as_uri()) is None
    assert assistant.mentioned_file((root / ".env").as_uri(), SECRET) is None  # even embedded
    assert assistant.mentioned_file((tmp_path / "outside.txt").as_uri()) is None
    assert assistant.mentioned_file((root / "escape.txt").as_uri()) is None  # symlink out
    assert assistant.mentioned_file((root / "missing.py").as_uri()) is None
    # The editor's own copy of a file outside the workspace is the user's to give.
    assert assistant.mentioned_file((tmp_path / "outside.txt").as_uri(), "shown") == "shown"


def test_the_first_mention_the_facade_allows_is_the_current_file(assistant: Assistant) -> None:
    root = assistant.roots[0]
    env, app = (root / ".env").as_uri(), (root / "app.py").as_uri()
    blocks = [
        text_block("What does this do?"),
        resource_block(embedded_text_resource(env, SECRET)),
        resource_link_block("app.py", app + "#L2:2"),
    ]
    query = chat_query(assistant, "s1", blocks)
    assert query.message == "What does this do? @.env @app.py"
    assert (query.uri, query.line, query.session_id) == (app + "#L2:2", 1, "s1")
    assert query.text == "def main():\n    return 1\n"
    only_secret = chat_query(assistant, "s1", blocks[:2])
    assert only_secret.uri is None and only_secret.text is None


@pytest.mark.parametrize(
    "deltas",
    [["  \n", "Hello", " ", "world", "\n\n"], ["", "a", "  ", "", "b  "], [" ", "\t"], ["x"]],
)
def test_chunks_join_to_the_answer_the_session_store_keeps(deltas: list[str]) -> None:
    trim = _Trim()
    assert "".join(trim.feed(d) for d in deltas) == "".join(deltas).strip()


@pytest.mark.parametrize(
    ("line", "msg_id", "code"),
    [
        (b"not json", None, PARSE_ERROR),
        (b"\xff\xfe", None, PARSE_ERROR),
        (b"[1, 2]", None, -32600),
        (b'{"jsonrpc": "2.0", "id": 1.5, "method": "initialize"}', None, -32600),
        (b'{"jsonrpc": "1.0", "id": 3, "method": "initialize"}', 3, -32600),
        (b'{"jsonrpc": "2.0", "id": 4, "method": 7}', 4, -32600),
        (b'{"jsonrpc": "2.0", "id": 5, "method": "x", "params": "s"}', 5, -32600),
        (b'{"jsonrpc": "2.0", "id": 6}', 6, -32600),
        (b"[" * 100_000, None, PARSE_ERROR),
    ],
)
def test_a_line_that_is_no_message_gets_the_error_that_answers_it(
    line: bytes, msg_id: object, code: int
) -> None:
    message, problem = parse(line)
    assert message is None and problem is not None
    assert problem[:2] == (msg_id, code)


def test_a_message_passes_as_it_is() -> None:
    data = {"jsonrpc": "2.0", "id": "a", "method": "session/new", "params": {"cwd": "/"}}
    assert parse(json.dumps(data).encode()) == (data, None)


def test_schema_errors_are_one_line_naming_the_fields() -> None:
    with pytest.raises(ValidationError) as err:
        PromptRequest.model_validate({"sessionId": 7, "prompt": [{"type": "text"}] * 5})
    said = fields(err.value)
    assert "\n" not in said
    assert said.startswith("sessionId: ") and "prompt.0.text" in said and "more)" in said
