"""RAG-light and the KV cache, seen through the server's completion trace.

The real server indexes the sample repository (real tree-sitter and ctags), so the symbol
table knows what `shop/inventory.py` defines; a new file importing from it must get those
signatures in its prompt, and a second keystroke on the same line must reuse the model's
cache for everything before the cursor.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp

from tests.e2e.test_server import inline, insert_text
from tests.harness.env import isolated_env
from tests.harness.lsp_client import VS_CODE, LspClient, lsp_session

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def traced(
    workspace: Path, home: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LspClient, Path]]:
    trace = tmp_path_factory.mktemp("trace") / "completion.jsonl"
    env = isolated_env(home) | {"LSP_AI_COMPLETION_TRACE": str(trace)}
    async with lsp_session(workspace, env, capabilities=VS_CODE) as c:

        def indexed(client: LspClient) -> bool:
            return any(
                v and v[0].get("title") == "Indexing" and v[-1].get("kind") == "end"
                for v in client.work_done.values()
            )

        await c.wait_for_async(indexed, timeout=300)
        yield c, trace


def records(trace: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in trace.read_text().splitlines()]


async def test_imported_signatures_reach_the_prompt_and_typing_reuses_the_cache(
    traced: tuple[LspClient, Path], workspace: Path
) -> None:
    client, trace = traced
    text = (
        "from shop.inventory import Inventory, Item\n"
        "\n\n"
        "def low_stock(inv: Inventory) -> list[Item]:\n"
        "    return inv."
    )
    uri = client.open_doc(workspace / "shop" / "report.py", text)
    first = await inline(client, uri, 4, 15)
    assert isinstance(first, lsp.InlineCompletionList)
    insert_text(client, uri, 4, 15, "zz")  # not the suggestion: the model runs again
    await inline(client, uri, 4, 17)

    a, b = records(trace)[-2:]
    assert a["outcome"] in {"shown", "empty"} and a["context_snippets"] >= 1
    assert "# Path: shop/inventory.py" in a["prompt"]
    assert "def items_to_reorder(self) -> list[Item]:" in a["prompt"]
    assert "# Path: shop/report.py\nfrom shop.inventory import" in a["prompt"]
    # Everything up to the edit was already in the KV cache: only the line's tail is new.
    assert b["prompt"].startswith(a["prompt"])
    assert b["cached_tokens"] >= a["prompt_tokens"] - 2
    assert 0 < b["evaluated_tokens"] <= 4
    assert a["evaluated_tokens"] > 10 * b["evaluated_tokens"]


async def test_recently_visited_code_joins_the_context(
    traced: tuple[LspClient, Path], workspace: Path
) -> None:
    client, trace = traced
    client.open_doc(workspace / "web" / "cart.js", lang="javascript")
    uri = client.open_doc(workspace / "shop" / "notes.py", "def summary():\n    return ")
    await inline(client, uri, 1, 11)
    last = records(trace)[-1]
    assert "# Path: web/cart.js" in last["prompt"]


async def test_repo_context_can_be_turned_off(
    traced: tuple[LspClient, Path], workspace: Path
) -> None:
    client, trace = traced
    client.notify(
        lsp.WORKSPACE_DID_CHANGE_CONFIGURATION,
        lsp.DidChangeConfigurationParams(
            settings={"lsp-ai": {"completion": {"repoContext": False}}}
        ),
    )
    uri = client.open_doc(workspace / "shop" / "plain.py", "from shop.inventory import Item\nx = ")
    await inline(client, uri, 1, 4)
    last = records(trace)[-1]
    assert last["context_snippets"] == 0 and "# Path:" not in last["prompt"]


async def test_accepting_a_suggestion_is_answered_from_the_one_computed_ahead(
    traced: tuple[LspClient, Path], workspace: Path
) -> None:
    client, trace = traced
    text = "def total(prices):\n    result = 0\n    for p in prices:\n        "
    uri = client.open_doc(workspace / "shop" / "ahead.py", text)
    first = await inline(client, uri, 3, 8, automatic=True)
    assert isinstance(first, lsp.InlineCompletionList) and first.items
    shown = str(first.items[0].insert_text)
    # The completion worker runs one job at a time: once a request on another document is
    # answered, the speculation queued before it has finished.
    other = client.open_doc(workspace / "shop" / "other.py", "x = ")
    await inline(client, other, 0, 4)
    insert_text(client, uri, 3, 8, shown)  # the user presses Tab
    end = text + shown
    lines = end.split("\n")
    await inline(client, uri, len(lines) - 1, len(lines[-1]), automatic=True)
    last = records(trace)[-1]
    assert last["layout"] == "speculative" and last["model_ms"] == 0.0
