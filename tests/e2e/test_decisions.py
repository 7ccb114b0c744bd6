"""Decision traces on the real server: every completion and chat says what became of it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from tests.harness.env import isolated_env
from tests.harness.lsp_client import VS_CODE, LspClient, lsp_session

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(workspace: Path, home: Path) -> AsyncIterator[LspClient]:
    env = isolated_env(home) | {"LSP_AI_LOG_LEVEL": "debug"}
    async with lsp_session(workspace, env, capabilities=VS_CODE) as c:
        yield c


async def execute(client: LspClient, command: str, *args: object) -> Any:
    return await client.command_async(command, *args)


def inline_params(uri: str, line: int, character: int) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=character),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )


async def explain_last(client: LspClient, uri: str) -> dict[str, Any]:
    result = await execute(client, "lsp-ai.explainLastCompletion", uri)
    assert result["decision"]["uri"] == uri
    return result


async def test_a_shown_completion_is_explained_with_its_model_work(
    client: LspClient, workspace: Path
) -> None:
    uri = client.open_doc(workspace / "shop" / "d1.py", "def add(a, b):\n    return ")
    await client.call_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 1, 11))
    result = await explain_last(client, uri)
    decision, text = result["decision"], result["text"]
    assert decision["outcome"] in ("shown", "empty")
    assert decision["prompt_tokens"] > 0 and "prompt" not in decision
    assert text.startswith(f"Completion #{decision['id']} at d1.py:2:12")
    assert "prompt tokens" in text and "KV cache" in text
    assert any(m.message == text for m in client.messages)  # shown to the user as well
    # At debug level the same words went to the editor's log.
    await asyncio.sleep(0.5)
    assert any(text in m.message for m in client.log_messages)


async def test_comment_superseded_cancelled_and_private_are_told_apart(
    client: LspClient, workspace: Path
) -> None:
    uri = client.open_doc(workspace / "shop" / "d2.py", "x = 1  # the value of ")
    await client.call_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 0, 22))
    assert "cursor in a comment or string" in (await explain_last(client, uri))["text"]

    uri = client.open_doc(workspace / "shop" / "d3.py", "def total(items):\n    return ")
    # Three keystrokes' requests at once: the older ones are replaced by the newest.
    firsts = [
        asyncio.ensure_future(
            client.call_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 1, c))
        )
        for c in (8, 9)
    ]
    await client.call_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 1, 11))
    await asyncio.gather(*firsts)
    status = await execute(client, "lsp-ai.status")
    outcomes = [d["outcome"] for d in status["recentDecisions"] if d["kind"] == "completion"]
    assert {"superseded", "debounced"} & set(outcomes), status["recentDecisions"]
    assert all(d["explanation"] for d in status["recentDecisions"])

    future = client.send_request(
        lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 1, 10), "cancel-me"
    )
    await asyncio.sleep(0.05)
    client.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="cancel-me"))
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), 30)
        expected = {"shown", "empty"}  # the answer won the race with the cancel
    except JsonRpcException:
        expected = {"cancelled"}
    await asyncio.sleep(0.2)
    assert (await explain_last(client, uri))["decision"]["outcome"] in expected

    env_uri = client.open_doc(workspace / ".env", lang="dotenv")
    await client.call_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(env_uri, 0, 3))
    assert "a secret file" in (await explain_last(client, env_uri))["text"]


async def test_chat_decision_lists_hits_and_the_cli_reads_them_back(
    client: LspClient, workspace: Path, home: Path
) -> None:
    await client.call_async("$/chat", {"message": "What does restock_item do?"})
    status = await execute(client, "lsp-ai.status")
    chat = [d for d in status["recentDecisions"] if d["kind"] == "chat"][-1]
    assert chat["outcome"] == "answered"
    assert "Retrieval found" in chat["explanation"] and "inventory.py" in chat["explanation"]

    def trace(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lsp_ai", "trace", *args],
            capture_output=True,
            text=True,
            env=isolated_env(home),
            timeout=60,
        )

    out = trace("-n", "50", "--json", "--root", str(workspace))
    assert out.returncode == 0, out.stderr
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    assert {e["kind"] for e in entries} == {"completion", "chat"}
    assert {"private", "shown", "empty"} & {e["outcome"] for e in entries}
    # The repository context of a completion in d3.py came from the other open files.
    ran = [e for e in entries if e.get("uri", "").endswith("d3.py") and e.get("model_ms")]
    assert ran and all(any(p.endswith("d1.py") for p in e["context"]) for e in ran), ran
    words = trace("-n", "3", "--kind", "chat")
    assert words.returncode == 0 and words.stdout.startswith("Chat #"), words
    elsewhere = trace("--root", str(home))
    assert elsewhere.returncode == 1 and "no decisions" in elsewhere.stderr
