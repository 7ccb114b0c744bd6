"""The chat feature: params checked, deltas streamed as $/progress, private files left out."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from lsp_ai.lsp.features.chat import chat
from tests.unit.lsp.conftest import Harness, settle


@pytest.mark.parametrize(
    "params",
    [
        None,
        {},
        {"message": ""},
        {"message": "q", "sessionId": 3},
        {"message": "q", "position": {"line": -1, "character": 0}},
    ],
)
async def test_bad_params_are_refused_before_any_work(harness: Harness, params: object) -> None:
    with pytest.raises(JsonRpcInvalidParams, match=r"\$/chat"):
        await chat(harness.ls, params)
    assert harness.chat_model.calls == 0


async def test_the_answer_streams_as_progress_and_comes_back_whole(harness: Harness) -> None:
    (harness.root / "tax.py").write_text("def add_tax(total):\n    return total * 1.2\n")
    await settle(harness.ls)
    answer = await chat(harness.ls, {"message": "how is tax added?", "partialResultToken": "p1"})
    await settle(harness.ls)
    deltas = [p.value["delta"] for p in harness.messages("$/progress") if p.token == "p1"]
    assert "".join(deltas) == answer["content"] == "It adds tax."
    assert len(deltas) == 3 and answer["sessionId"]
    assert [s["path"] for s in answer["sources"]] == ["tax.py"]
    assert harness.assistant.recorder.last("chat")["outcome"] == "answered"  # type: ignore[index]


async def test_a_private_current_file_never_reaches_the_prompt(harness: Harness) -> None:
    uri = harness.open(".env", "SECRET_TOKEN=do-not-send-4242\n")
    await settle(harness.ls)
    await chat(harness.ls, {"message": "what is here?", "textDocument": {"uri": uri}})
    assert harness.chat_model.calls == 1
    assert "do-not-send-4242" not in harness.chat_model.prompts[0]
