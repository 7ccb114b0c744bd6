"""The resource governor on the real server: idle unloading, reloading, a memory budget."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.harness.env import isolated_env
from tests.harness.lsp_client import VS_CODE, LspClient, lsp_session

pytestmark = pytest.mark.e2e


async def status(client: LspClient) -> dict[str, Any]:
    result = await client.command_async("lsp-ai.status")
    assert isinstance(result, dict)
    return result


async def wait_for(client: LspClient, predicate: Any, timeout: float = 60) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while not predicate(current := await status(client)):
            await asyncio.sleep(0.5)
    return current


async def test_idle_models_unload_and_reload_and_the_budget_is_kept(
    workspace: Path, home: Path
) -> None:
    options = {"resources": {"unload_after_s": 2, "max_rss_mb": 200}}
    session = lsp_session(workspace, isolated_env(home), capabilities=VS_CODE, init_options=options)
    async with session as client:
        first = await client.call_async("$/chat", {"message": "What is a cart?"})
        assert first["content"].strip()
        # Nothing uses chat or embeddings now: both go after ~2 s; completion's model stays.
        idle = await wait_for(
            client,
            lambda s: (
                s["models"]["chat"]["state"] == s["models"]["embedding"]["state"] == "unloaded"
            ),
        )
        assert idle["models"]["completion"]["state"] == "ready"
        resources = idle["resources"]
        assert resources["maxRssMb"] == 200 and resources["rssMb"] > 200
        assert resources["overBudget"] and resources["embedBatch"] < 32
        actions = " ".join(resources["actions"])
        assert "over budget" in actions and "chat model" in actions
        assert set(resources["threads"]) == {"completion", "chat", "embedding"}
        # Asked for again, they load on demand and answer.
        again = await client.call_async("$/chat", {"message": "What is a cart?"})
        assert again["content"].strip()
        hits = await client.command_async("lsp-ai.search", "cart total", 3)
        assert hits
