"""`lsp-ai setup --yes` against the loopback hub, in an isolated HOME.

Every preset is served as the tiny FIM model (tests/harness/tiny_gguf.py), which copies the
digit it finds after the cursor.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lsp_ai.inference.presets import PRESETS
from tests.harness.hub import Hub, hub_env, lsp_ai
from tests.harness.tiny_gguf import write_tiny_fim_gguf


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Hub:
    data = write_tiny_fim_gguf(tmp_path_factory.mktemp("src") / "t.gguf").read_bytes()
    h = Hub()
    for p in PRESETS.values():
        h.add(p.repo, p.filename, data)
    return h


def test_setup_yes_pulls_writes_the_config_and_completion_uses_it(tmp_path: Path, hub: Hub) -> None:
    with hub:
        env = hub_env(tmp_path / "home", hub.url)
        config = tmp_path / "home" / "config.toml"
        config.write_text("# mine\n[completion]\nmax_tokens = 24\n")
        env["LSP_AI_CONFIG"] = str(config)
        done = lsp_ai(env, "setup", "--yes")
        assert done.returncode == 0, done.stderr
        assert "check completion" in done.stdout and "check chat" in done.stdout
        text = config.read_text()
        assert text.startswith("# mine\n[completion]\nmax_tokens = 24\n")
        models = tomllib.loads(text)["models"]
        for role in ("completion", "chat"):
            assert Path(models[role]["model"]).is_file()

        gets = len(hub.requests)
        again = lsp_ai(env, "setup", "--yes")
        assert again.returncode == 0 and "nothing changed" in again.stdout
        assert config.read_text() == text and len(hub.requests) == gets

    # The server's completion path reads the config: the tiny model answers from the suffix.
    src = tmp_path / "w" / "a.py"
    src.parent.mkdir()
    src.write_text("total = \nLIMIT = 5\n")
    done = lsp_ai(env, "complete", str(src), "--line", "0", "--character", "8")
    assert done.stdout.strip() == "5", done.stderr
