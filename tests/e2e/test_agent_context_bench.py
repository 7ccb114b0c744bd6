"""The agent-context benchmark in its quick size: both methods measured, every tool answered.

The figures (recall, tokens, latency) are the benchmark's; this checks that it measures what
it says: real hits from `search_code` and grep on the same queries, and every MCP tool
answering over stdio without a tool error.
"""

from __future__ import annotations

import pytest

from benchmarks.agent_context import BUDGETS, GREP, run

pytestmark = pytest.mark.e2e


async def test_quick_run_measures_both_methods_and_every_tool() -> None:
    data = await run(quick=True, budgets=BUDGETS, sizes=())

    (corpus,) = data["corpora"].values()
    methods = corpus["methods"]
    assert set(methods) == {GREP, *(f"search_code@{b}" for b in BUDGETS)}
    for row in methods.values():
        assert row["queries"] >= 20
        assert row["tokens_per_query"] > 0
    # The index finds some of the functions: a broken search_code would find none.
    assert methods[f"search_code@{BUDGETS[-1]}"]["recall@k"] > 0.2
    # A larger budget never reads less.
    tokens = [methods[f"search_code@{b}"]["tokens_per_query"] for b in sorted(BUDGETS)]
    assert tokens == sorted(tokens)
    assert set(data["pooled"]["verdicts"]) == {f"search_code@{b}" for b in BUDGETS}
    (latency,) = data["latency"].values()
    assert latency["tool_errors"] == []
    tools = {"search_code", "find_symbol", "callers", "outline", "read_code", "index_status"}
    assert set(latency["tools_ms"]) == tools
    assert all(p["n"] > 0 for p in latency["tools_ms"].values())
