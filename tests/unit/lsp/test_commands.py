"""The commands feature: argument checks, status, and explaining the last completion."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from lsp_ai.lsp.features import commands
from tests.unit.lsp.conftest import Harness


@pytest.mark.parametrize("args", [(), ("",), ("  ",), (3,), ("q", 0), ("q", True), ("q", "5")])
async def test_search_refuses_bad_arguments(harness: Harness, args: tuple[object, ...]) -> None:
    with pytest.raises(JsonRpcInvalidParams, match=r"lsp-ai\.search"):
        await commands.search(harness.ls, *args)


def test_status_names_every_part(harness: Harness) -> None:
    status = commands.status(harness.ls)
    assert {"indexedFiles", "chunks", "pending", "models", "resources", "recentDecisions"} <= set(
        status
    )
    assert status["models"]["completion"]["state"] in ("unloaded", "loading", "ready")


def test_explain_says_so_when_nothing_was_asked(harness: Harness) -> None:
    answer = commands.explain(harness.ls, harness.uri("a.py"))
    assert answer["decision"] is None and "No completion" in answer["text"]
    assert harness.messages("window/showMessage"), "a palette command shows its answer"


def test_explain_refuses_a_uri_that_is_not_a_string(harness: Harness) -> None:
    with pytest.raises(JsonRpcInvalidParams, match=r"\[uri\?\]"):
        commands.explain(harness.ls, 42)
