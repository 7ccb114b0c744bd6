"""The language server with its completion role on an OpenAI-compatible server.

A real `python -m llama_cpp.server` on 127.0.0.1 serves the embedded SmolLM2; the test
stops it mid-session and starts it again on the same port, as a team server that restarts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from tests.e2e.test_server import inline
from tests.harness.env import isolated_env
from tests.harness.llama_server import free_port, start_llama_server, stop
from tests.harness.lsp_client import VS_CODE, LspClient, lsp_session

pytestmark = pytest.mark.e2e
pytest.importorskip("llama_cpp.server.app", reason="pip install 'llama-cpp-python[server]'")


async def shown_errors(client: LspClient, at_least: int) -> list[str]:
    """Error pop-ups so far, once there are `at_least` (they may trail the response)."""
    async with asyncio.timeout(10):
        while True:
            errors = [m.message for m in client.messages if m.type == lsp.MessageType.Error]
            if len(errors) >= at_least:
                return errors
            await asyncio.sleep(0.05)


async def test_completion_through_a_model_server_that_goes_down_and_comes_back(
    workspace: Path, home: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    options = {"models": {"completion": {"backend": "openai", "baseUrl": url, "model": "smollm2"}}}
    proc = start_llama_server(port)
    try:
        session = lsp_session(
            workspace, isolated_env(home), capabilities=VS_CODE, init_options=options
        )
        async with session as client:
            uri = client.open_doc(workspace / "shop" / "remote.py", "def add(a, b):\n    return ")
            up = await inline(client, uri, 1, 11)
            assert isinstance(up, lsp.InlineCompletionList) and up.items

            stop(proc)
            down = await inline(client, uri, 1, 11)
            assert isinstance(down, lsp.InlineCompletionList) and not down.items
            errors = await shown_errors(client, 1)
            assert any("models.completion" in e and "cannot reach" in e for e in errors)
            # Still down: the next failure is not shown again (one pop-up, not one per key).
            await inline(client, uri, 1, 11)
            again = [m.message for m in client.messages if m.type == lsp.MessageType.Error]
            assert len(again) == len(errors)

            proc = start_llama_server(port)
            back = await inline(client, uri, 1, 11)
            assert isinstance(back, lsp.InlineCompletionList) and back.items
    finally:
        stop(proc)


async def test_two_servers_one_per_role(workspace: Path, home: Path) -> None:
    """The README's layout: chat on one model server, completion on another."""
    chat_port, completion_port = free_port(), free_port()
    chat_server = start_llama_server(chat_port)
    completion_server = start_llama_server(completion_port)
    options = {
        "models": {
            "chat": {
                "backend": "openai",
                "baseUrl": f"http://127.0.0.1:{chat_port}/v1",
                # The server's window is 2,048; token counts here are estimates, so leave room.
                "nCtx": 1536,
                "maxTokens": 64,
            },
            "completion": {
                "backend": "openai",
                "baseUrl": f"http://127.0.0.1:{completion_port}/v1",
            },
        }
    }
    try:
        session = lsp_session(
            workspace, isolated_env(home), capabilities=VS_CODE, init_options=options
        )
        async with session as client:
            uri = client.open_doc(workspace / "shop" / "two.py", "def sub(a, b):\n    return ")
            got = await inline(client, uri, 1, 11)
            assert isinstance(got, lsp.InlineCompletionList) and got.items
            answer = await client.call_async("$/chat", {"message": "What does apply_discount do?"})
            assert answer["content"].strip() and answer["sources"]
            status = await client.command_async("lsp-ai.status")
            models = status["models"]
            assert str(chat_port) in str(models["chat"]) and str(completion_port) in str(
                models["completion"]
            )
    finally:
        stop(chat_server)
        stop(completion_server)
