"""The code-action feature: what is offered where, argument checks, and the applied edit."""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from lsp_ai.lsp.features.actions import code_action, run_code_action
from tests.unit.lsp.conftest import Harness

WHOLE_TWO_LINES = lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(2, 0))


def titles(h: Harness, uri: str, only: list[str] | None = None) -> list[str]:
    params = lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=WHOLE_TWO_LINES,
        context=lsp.CodeActionContext(diagnostics=[], only=only),
    )
    return [a.title for a in code_action(h.ls, params)]


def test_comment_writing_actions_need_a_known_comment_syntax(harness: Harness) -> None:
    assert len(titles(harness, harness.uri("a.py"))) == 3
    assert titles(harness, harness.uri("notes.md")) == ["lsp-ai: Refactor this code"]


def test_only_the_asked_kinds_are_offered_and_none_in_a_secret(harness: Harness) -> None:
    assert titles(harness, harness.uri("a.py"), ["refactor.rewrite"]) == [
        "lsp-ai: Write a docstring",
        "lsp-ai: Refactor this code",
    ]
    uri = harness.open(".env", "A=1\nB=2\n")
    assert titles(harness, uri) == []


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("explain",),
        (
            "dance",
            "file:///a.py",
            {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
        ),
        (
            "explain",
            "file:///a.py",
            {"start": {"line": 3, "character": 0}, "end": {"line": 1, "character": 0}},
        ),
        ("explain", "file:///a.py", "lines 1-2"),
    ],
)
async def test_bad_arguments_are_refused_with_the_expected_shape(
    harness: Harness, args: tuple[object, ...]
) -> None:
    with pytest.raises(JsonRpcInvalidParams, match=r"takes \[action, uri, range\]"):
        await run_code_action(harness.ls, *args)
    assert harness.chat_model.calls == 0


async def test_a_docstring_is_applied_as_a_versioned_edit_of_whole_lines(
    harness: Harness,
) -> None:
    harness.chat_model.answer = '"""Add tax to a total."""'
    uri = harness.open("a.py", "def total(x):\n    return x * 1.2\n")
    where = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 18}}
    answer = await run_code_action(harness.ls, "docstring", uri, where)
    assert answer["applied"] is True and harness.chat_model.calls == 1
    (params,) = harness.edits
    assert params.edit.changes is not None  # this client did not ask for versioned edits
    (edit,) = params.edit.changes[uri]
    assert '"""Add tax to a total."""' in edit.new_text
    assert edit.range.start.character == 0 and edit.range.end.character == 0


async def test_a_secret_is_refused_before_the_model(harness: Harness) -> None:
    uri = harness.open(".env", "A=1\nB=2\n")
    where = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}
    with pytest.raises(JsonRpcInvalidParams, match="never sends it to a model"):
        await run_code_action(harness.ls, "refactor", uri, where)
    assert harness.chat_model.calls == 0
