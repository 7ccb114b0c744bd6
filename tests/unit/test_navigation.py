"""The assistant's code navigation: definitions, the call graph, outlines, bounded reads, filters.

Real parts: the file filter, the index on LanceDB under tmp_path, the symbol table, the
facade; the models are the stand-ins of tests/fakes.py. What a coding agent sees of these
over MCP is tested in tests/unit/test_mcp_server.py and end to end in tests/e2e/test_mcp.py.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lsp_ai import navigation
from lsp_ai.assistant import Assistant, BadRequest
from lsp_ai.navigation import MAX_READ_LINES
from tests.conftest import make_workspace
from tests.fakes import stand_ins

# Built from parts so that this file holds no key a scanner (or lsp-ai itself) would flag.
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LSP_AI_CONFIG", str(tmp_path / "no-user-config.toml"))
    root = make_workspace(tmp_path / "repo")
    (root / "shop" / "settings.py").write_text(
        f'"""Settings."""\n\nGITHUB_TOKEN = "{GITHUB_TOKEN}"\n\n\ndef token():\n'
        "    return GITHUB_TOKEN\n"
    )
    (tmp_path / "outside.py").write_text("def outside():\n    return 'not in the workspace'\n")
    os.symlink(tmp_path / "outside.py", root / "shop" / "linked.py")
    os.symlink(root / ".env", root / "notes.txt")
    return root


@pytest.fixture
async def assistant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Assistant]:
    a = Assistant([workspace(tmp_path, monkeypatch)], models=stand_ins().by_role())
    await a.index()
    yield a
    a.close()


def file_lines(root: Path, rel: str) -> list[str]:
    return (root / rel).read_text().split("\n")


async def test_find_symbol_by_bare_and_qualified_name(assistant: Assistant) -> None:
    (bare,) = await assistant.find_symbol("restock_item")
    assert (bare.qualified, bare.kind, bare.path) == (
        "Inventory.restock_item",
        "method",
        "shop/inventory.py",
    )
    assert bare.signature == "def restock_item(self, sku: str, amount: int) -> int:"
    lines = file_lines(assistant.roots[0], bare.path)
    assert lines[bare.line].strip().startswith("def restock_item")
    assert await assistant.find_symbol("Inventory.restock_item") == [bare]
    assert await assistant.find_symbol("Cart.restock_item") == []
    assert await assistant.find_symbol("no_such_function") == []


async def test_a_name_of_nothing_is_refused(assistant: Assistant) -> None:
    for call in (assistant.find_symbol, assistant.callers, assistant.callees):
        with pytest.raises(BadRequest, match="name is empty"):
            await call(" . ")


async def test_callers_name_the_calling_line_and_function(assistant: Assistant) -> None:
    (site,) = await assistant.callers("apply_discount")
    assert site.path == "shop/pricing.py"
    assert "apply_discount(price, percent)" in site.text
    assert file_lines(assistant.roots[0], site.path)[site.line].strip() == site.text
    assert site.caller == "checkout_total"
    assert "checkout_total" in site.scope


async def test_callees_of_each_definition(assistant: Assistant) -> None:
    (found,) = await assistant.callees("checkout_total")
    assert found.definition.qualified == "checkout_total"
    assert {s.qualified for s in found.callees} == {"price_with_vat", "apply_discount"}


async def test_outline_lists_a_files_definitions_in_order(assistant: Assistant) -> None:
    defs = await assistant.outline("shop/inventory.py")
    names = [d.qualified for d in defs]
    for name in ("Item", "Inventory", "Inventory.add_item", "Inventory.restock_item"):
        assert name in names
    assert [d.line for d in defs] == sorted(d.line for d in defs)
    with pytest.raises(BadRequest, match="secret"):
        await assistant.outline(".env")


async def test_read_code_returns_the_lines_on_disk(assistant: Assistant) -> None:
    got = await assistant.read_code("shop/pricing.py", 5, 9)
    lines = file_lines(assistant.roots[0], "shop/pricing.py")
    assert got.span.text == "\n".join(lines[5:10])
    assert (got.span.start_line, got.span.end_line) == (5, 9)
    assert got.total_lines == len(lines) - 1  # the file ends with a newline
    tail = await assistant.read_code("shop/pricing.py", 20, 500)
    assert tail.span.end_line == got.total_lines - 1
    absolute = await assistant.read_code(str(assistant.roots[0] / "shop/pricing.py"), 5, 9)
    assert absolute.span == got.span


async def test_read_code_stops_after_the_most_lines_a_read_returns(assistant: Assistant) -> None:
    root = assistant.roots[0]
    (root / "long.py").write_text("".join(f"x{n} = {n}\n" for n in range(MAX_READ_LINES + 50)))
    got = await assistant.read_code("long.py", 10, MAX_READ_LINES * 2)
    assert got.span.end_line == 10 + MAX_READ_LINES - 1
    assert got.total_lines == MAX_READ_LINES + 50


@pytest.mark.parametrize(
    ("path", "start", "end", "message"),
    [
        ("../outside.py", 0, 1, "outside the workspace"),
        ("shop/../../outside.py", 0, 1, "outside the workspace"),
        ("shop/linked.py", 0, 1, "outside the workspace"),
        (".env", 0, 1, "secret"),
        ("notes.txt", 0, 1, "secret"),
        ("debug.log", 0, 1, "git ignores"),
        ("shop", 0, 1, "folder"),
        ("shop/missing.py", 0, 1, "no such file"),
        ("shop/pricing.py", 400, 410, "past its end"),
        ("shop/pricing.py", 5, 2, "not a range"),
        ("shop/pricing.py", -1, 2, "not a range"),
        ("", 0, 1, "path is empty"),
        ("shop/\x00pricing.py", 0, 1, "NUL"),
        ("shop/\ud800.py", 0, 1, "surrogate"),
    ],
)
async def test_read_code_refuses_with_the_reason(
    assistant: Assistant, path: str, start: int, end: int, message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        await assistant.read_code(path, start, end)


async def test_a_secret_in_source_is_masked_everywhere_it_goes_out(assistant: Assistant) -> None:
    read = await assistant.read_code("shop/settings.py", 0, 10)
    assert "GITHUB_TOKEN = " in read.span.text and GITHUB_TOKEN not in read.span.text
    out = [read.span.text]
    out += [h.span.text for h in await assistant.search("GITHUB_TOKEN token settings", 20)]
    out += [s.signature for s in await assistant.find_symbol("GITHUB_TOKEN")]
    out += [s.signature for s in await assistant.outline("shop/settings.py")]
    out += [c.text for c in await assistant.callers("token")]
    assert all(GITHUB_TOKEN not in text for text in out)
    assert GITHUB_TOKEN[:12] not in "\n".join(out)


async def test_search_filters_by_path_and_language(assistant: Assistant) -> None:
    js = await assistant.search("add a line to the cart quantity", 5, path_glob="web/**")
    assert js and all(h.span.path.startswith("web/") for h in js)
    py = await assistant.search("add a line to the cart quantity", 5, language="py")
    assert py and all(h.language == "python" for h in py)
    glob = await assistant.search("price", 5, path_glob="*.js")
    assert all(h.span.path.endswith(".js") for h in glob)
    with pytest.raises(BadRequest, match="language 'klingon'"):
        await assistant.search("price", 5, language="klingon")
    with pytest.raises(BadRequest, match="path_glob"):
        await assistant.search("price", 5, path_glob="!*.py")


async def test_a_token_budget_cuts_results_best_first_to_real_lines(
    assistant: Assistant,
) -> None:
    full = await assistant.search("restock amount quantity", 5)
    cut = await assistant.search("restock amount quantity", 5, max_tokens=60)
    assert cut and len(cut) <= len(full)
    assert [h.span.path for h in cut] == [h.span.path for h in full[: len(cut)]]
    assert sum(len(h.span.text) for h in cut) < sum(len(h.span.text) for h in full)
    root = assistant.roots[0]
    for h in cut:
        lines = file_lines(root, h.span.path)[h.span.start_line : h.span.end_line + 1]
        assert h.span.text == "\n".join(lines)
    with pytest.raises(BadRequest, match="max_tokens"):
        await assistant.search("restock", 5, max_tokens=10)


async def test_index_status_and_readiness(assistant: Assistant) -> None:
    assert await assistant.index_ready()
    status = await assistant.index_status()
    assert status.files == 5  # three sources, settings.py, .gitignore; no secret, no log
    assert status.chunks > 0
    assert status.model == "hash-embedder"
    assert status.last_update is not None
    assert not status.read_only and status.building is None


async def test_a_second_root_is_named_in_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = workspace(tmp_path, monkeypatch)
    other = tmp_path / "other"
    other.mkdir()
    (other / "tax.py").write_text("def tax_rate():\n    return 0.2\n")
    a = Assistant([first, other], models=stand_ins().by_role())
    try:
        await a.index()
        (found,) = await a.find_symbol("tax_rate")
        assert found.path == "other/tax.py"
        read = await a.read_code("other/tax.py", 0, 0)
        assert read.span.text == "def tax_rate():"
        assert [d.qualified for d in await a.outline("other/tax.py")] == ["tax_rate"]
    finally:
        a.close()


async def test_callers_of_a_common_name_stop_at_the_most_an_answer_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = workspace(tmp_path, monkeypatch)
    # Each caller long enough to be a chunk of its own.
    body = "".join(f"    step_{n} = {n} * 2\n" for n in range(12))
    calls = "".join(f"def use_{i}():\n{body}    return helper()\n\n\n" for i in range(150))
    (root / "many.py").write_text("def helper():\n    return 1\n\n\n" + calls)
    a = Assistant([root], models=stand_ins().by_role())
    await a.index()
    looked_up = 0
    real = navigation._call_lines

    def counting(*args: Any) -> list[navigation.CallSite]:
        nonlocal looked_up
        looked_up += 1
        return real(*args)

    monkeypatch.setattr(navigation, "_call_lines", counting)
    try:
        sites = await a.callers("helper")
    finally:
        a.close()
    assert len(sites) == navigation.MAX_RESULTS
    assert looked_up == navigation.MAX_RESULTS  # not one store lookup per caller of 150
    assert [s.line for s in sites] == sorted(s.line for s in sites)
