"""Every editor snippet parses, names `lsp-ai serve` (or `lsp-ai acp`), and uses only real keys.

A real Neovim drives the server with the plugin in tests/e2e/test_neovim.py; the SDK's ACP
client starts the agent with the Zed snippet's arguments in tests/e2e/test_acp.py.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from lsp_ai.cli import _build_parser
from lsp_ai.config import parse_config

EDITORS = Path(__file__).resolve().parents[2] / "editors"


def assert_valid_settings(settings: dict) -> None:
    _, problems = parse_config(settings)
    assert problems == []


def test_helix_languages_toml() -> None:
    data = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    server = data["language-server"]["lsp-ai"]
    assert [server["command"], *server["args"]] == ["lsp-ai", "serve"]
    assert_valid_settings(server["config"])
    assert all("lsp-ai" in lang["language-servers"] for lang in data["language"])


def test_zed_settings_json() -> None:
    data = json.loads((EDITORS / "zed" / "settings.json").read_text())
    server = data["lsp"]["lsp-ai"]
    assert [server["binary"]["path"], *server["binary"]["arguments"]] == ["lsp-ai", "serve"]
    assert_valid_settings(server["initialization_options"])
    extension = tomllib.loads((EDITORS / "zed" / "extension" / "extension.toml").read_text())
    # Zed starts only servers an extension registers, under the id the settings use.
    registered = extension["language_servers"]["lsp-ai"]["languages"]
    for language, opts in data["languages"].items():
        assert language in registered
        assert "lsp-ai" in opts["language_servers"]
    cargo = tomllib.loads((EDITORS / "zed" / "extension" / "Cargo.toml").read_text())
    assert cargo["lib"]["crate-type"] == ["cdylib"]
    assert "zed_extension_api" in cargo["dependencies"]


def test_jetbrains_template() -> None:
    folder = EDITORS / "jetbrains"
    template = json.loads((folder / "template.json").read_text())
    assert template["programArgs"]["default"] == "lsp-ai serve"
    assert all(m["fileType"]["patterns"] and m["languageId"] for m in template["fileTypeMappings"])
    assert_valid_settings(json.loads((folder / "initializationOptions.json").read_text()))


def test_neovim_plugin_defaults_start_the_server() -> None:
    lua = (EDITORS / "neovim" / "lua" / "lsp_ai" / "init.lua").read_text()
    assert 'cmd = { "lsp-ai", "serve" }' in lua
    assert 'vim.lsp.enable("lsp_ai")' in lua


def test_agent_panel_snippets_start_the_acp_agent() -> None:
    """Zed's `agent_servers` and JetBrains' `~/.jetbrains/acp.json` run `lsp-ai acp`."""
    for path in (EDITORS / "zed" / "agent_servers.json", EDITORS / "jetbrains" / "acp.json"):
        server = json.loads(path.read_text())["agent_servers"]["lsp-ai"]
        assert server["command"] == "lsp-ai"
        assert _build_parser().parse_args(server["args"]).command == "acp"
        assert server.get("type", "custom") == "custom"  # Zed's kind for a command it runs
