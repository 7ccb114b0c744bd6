"""`lsp-ai setup` edits the user config as text: other keys and comments stay."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lsp_ai.setup import Machine, SetupError, configured, propose, write_models

NEW = {"completion": {"model": "/m/c.gguf"}, "chat": {"model": "/m/q.gguf", "n_gpu_layers": -1}}


def test_missing_tables_are_added_and_the_rest_kept(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('# keep me\n[index]\nfolder = "/x"\n')
    write_models(cfg, NEW)
    text = cfg.read_text()
    assert text.startswith('# keep me\n[index]\nfolder = "/x"\n')
    data = tomllib.loads(text)
    assert data["models"]["chat"] == {"model": "/m/q.gguf", "n_gpu_layers": -1}
    assert configured(cfg) == {"completion": "/m/c.gguf", "chat": "/m/q.gguf"}


def test_existing_keys_are_replaced_in_place(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[models.completion]\nmodel = "old"  # was\nn_ctx = 4096\n[chat]\nx = 1\n')
    write_models(cfg, NEW)
    data = tomllib.loads(cfg.read_text())
    assert data["models"]["completion"] == {"model": "/m/c.gguf", "n_ctx": 4096}
    assert data["chat"] == {"x": 1}


def test_a_shape_it_cannot_edit_safely_is_refused_untouched(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    before = 'models.completion.model = "old"\n'
    cfg.write_text(before)
    with pytest.raises(SetupError, match="by hand"):
        write_models(cfg, NEW)
    assert cfg.read_text() == before


@pytest.mark.parametrize(
    ("machine", "completion", "chat"),
    [
        (Machine(16, 8, 0), "qwen2.5-coder-1.5b-q4_k_m", "qwen2.5-coder-3b-instruct-q4_k_m"),
        (Machine(8, 4, 0), "qwen2.5-coder-0.5b-q8_0", "qwen2.5-coder-3b-instruct-q4_k_m"),
        (Machine(64, 16, 8), "qwen2.5-coder-1.5b-q8_0", "qwen2.5-coder-7b-instruct-q4_k_m"),
        (Machine(64, 16, 80), "qwen2.5-coder-7b-q4_k_m", "qwen2.5-coder-32b-instruct-q4_k_m"),
    ],
)
def test_the_proposal_follows_the_readme_table(
    machine: Machine, completion: str, chat: str
) -> None:
    plan = propose(machine)
    assert (plan["completion"].name, plan["chat"].name) == (completion, chat)


def test_a_role_already_configured_keeps_its_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lsp_ai import setup
    from lsp_ai.inference import pull

    cfg = tmp_path / "c.toml"
    cfg.write_text('[models.completion]\nmodel = "/mine.gguf"\n')
    monkeypatch.setenv("LSP_AI_CONFIG", str(cfg))
    pulled: list[str] = []

    def fake_pull(name: str) -> pull.Pulled:
        pulled.append(name)
        return pull.Pulled(tmp_path / f"{name}.gguf", 1, "")

    monkeypatch.setattr(pull, "pull", fake_pull)
    monkeypatch.setattr(setup, "check", lambda say: None)
    lines: list[str] = []
    assert (
        setup.run_setup(yes=True, reconfigure=False, machine=Machine(16, 8, 0), say=lines.append)
        == 0
    )
    assert pulled == ["qwen2.5-coder-3b-instruct-q4_k_m"]
    models = tomllib.loads(cfg.read_text())["models"]
    assert models["completion"]["model"] == "/mine.gguf"
    assert models["chat"]["model"].endswith("qwen2.5-coder-3b-instruct-q4_k_m.gguf")
    assert any("keeps /mine.gguf" in line for line in lines)
