"""Unit tests for lsp_ai.config: defaults, layering, fail-soft validation, masking."""

import sys
from pathlib import Path
from typing import Any

import pytest

from lsp_ai.config import (
    Config,
    config_to_dict,
    deep_merge,
    load_config,
    parse_config,
    read_toml_file,
    user_config_path,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never let the developer's own ~/.config/lsp-ai/config.toml leak into a test.
    monkeypatch.setenv("LSP_AI_CONFIG", str(tmp_path / "absent-user-config.toml"))


def test_defaults() -> None:
    cfg = Config()
    assert cfg.models.completion.backend == "llama_cpp"
    assert cfg.models.completion.fim_template == "auto"
    assert cfg.models.completion.n_ctx == 2048
    assert cfg.models.completion.temperature == 0.0
    assert cfg.models.chat.n_ctx == 8192
    assert cfg.models.chat.max_tokens == 512
    assert cfg.models.chat.temperature == 0.2
    assert cfg.models.embedding.backend == "sentence_transformers"
    assert cfg.models.embedding.n_ctx == 512
    assert cfg.models.reranker.enabled is False
    assert cfg.index.exclude == ()
    assert cfg.index.max_file_bytes == 1_000_000
    assert cfg.completion.max_tokens == 64
    assert cfg.completion.multiline == "auto"
    assert cfg.chat.top_k == 8


def test_load_config_without_sources_gives_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_user_config(tmp_path, monkeypatch)
    assert load_config(tmp_path) == (Config(), [])


def test_each_layer_wins_over_the_previous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = _write(
        tmp_path / "user.toml",
        "[models.completion]\nn_ctx = 1000\nn_threads = 2\n"
        "[chat]\ntop_k = 3\n[completion]\nmax_tokens = 10\n[index]\nmax_file_bytes = 5\n",
    )
    monkeypatch.setenv("LSP_AI_CONFIG", str(user))
    _write(
        tmp_path / ".lsp-ai.toml",
        "[models.completion]\nn_ctx = 2000\n[chat]\ntop_k = 4\n[completion]\nmax_tokens = 20\n",
    )
    init = {"models": {"completion": {"n_ctx": 3000}}, "chat": {"top_k": 5}}
    settings = {"lsp-ai": {"models": {"completion": {"n_ctx": 4000}}}}

    cfg, messages = load_config(tmp_path, init_options=init, settings=settings)

    assert messages == []
    assert cfg.models.completion.n_ctx == 4000  # settings
    assert cfg.chat.top_k == 5  # initializationOptions
    assert cfg.completion.max_tokens == 20  # project file
    assert cfg.index.max_file_bytes == 5  # user file
    assert cfg.models.completion.n_threads == 2  # untouched above the user file


def test_settings_accepted_without_section_wrapper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_user_config(tmp_path, monkeypatch)
    cfg, messages = load_config(tmp_path, settings={"chat": {"topK": 2}})
    assert messages == []
    assert cfg.chat.top_k == 2


def test_bad_value_in_higher_layer_keeps_lower_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _write(tmp_path / "user.toml", "[models.completion]\nn_ctx = 1000\n")
    monkeypatch.setenv("LSP_AI_CONFIG", str(user))
    project = _write(tmp_path / ".lsp-ai.toml", "[models.completion]\nn_ctx = 0\nn_threads = 3\n")

    cfg, messages = load_config(
        tmp_path,
        init_options={"chat": {"top_k": "many"}},
        settings={"completion": {"multiline": "sometimes"}},
    )

    assert cfg.models.completion.n_ctx == 1000
    assert cfg.models.completion.n_threads == 3  # the rest of the layer still applies
    assert cfg.chat.top_k == 8
    assert cfg.completion.multiline == "auto"
    assert messages == [
        f"{project}: models.completion.n_ctx must be a positive integer (got 0)",
        'initializationOptions: chat.top_k must be a positive integer (got "many")',
        'settings: completion.multiline must be one of auto, always, never (got "sometimes")',
    ]


def test_messages_name_key_and_reason() -> None:
    _, messages = parse_config(
        {"models": {"completion": {"n_ctx": -5, "fim_template": "foo", "temperature": 3}}}
    )
    assert messages == [
        "models.completion.n_ctx must be a positive integer (got -5)",
        "models.completion.fim_template must be one of auto, qwen, starcoder, codellama, "
        'deepseek, none (got "foo")',
        "models.completion.temperature must be a number from 0 to 2 (got 3)",
    ]


def test_parse_config_applies_on_base() -> None:
    base, _ = parse_config({"chat": {"top_k": 3}})
    cfg, messages = parse_config({"completion": {"max_tokens": 9}}, base)
    assert messages == []
    assert (cfg.chat.top_k, cfg.completion.max_tokens) == (3, 9)


def test_camel_case_aliases() -> None:
    cfg, messages = parse_config(
        {
            "models": {
                "completion": {"nCtx": 4096, "fimTemplate": "qwen", "nGpuLayers": -1},
                "chat": {"baseUrl": "http://x", "apiKey": "k", "maxTokens": 100},
                "embedding": {"queryPrefix": "q: ", "documentPrefix": "d: "},
            },
            "index": {"maxFileBytes": 10, "dbPath": "/tmp/db"},
            "chat": {"topK": 4},
        }
    )
    assert messages == []
    assert cfg.models.completion.n_ctx == 4096
    assert cfg.models.completion.fim_template == "qwen"
    assert cfg.models.completion.n_gpu_layers == -1
    assert cfg.models.chat.base_url == "http://x"
    assert cfg.models.chat.api_key == "k"
    assert cfg.models.chat.max_tokens == 100
    assert cfg.models.embedding.query_prefix == "q: "
    assert cfg.models.embedding.document_prefix == "d: "
    assert (cfg.index.max_file_bytes, cfg.index.db_path, cfg.chat.top_k) == (10, "/tmp/db", 4)


def test_unknown_keys_are_reported_and_ignored() -> None:
    cfg, messages = parse_config({"models": {"completion": {"nctx": 1}}, "colour": "red"})
    assert cfg == Config()
    assert messages == [
        "unknown key models.completion.nctx (ignored)",
        "unknown key colour (ignored)",
    ]


def test_non_table_section() -> None:
    cfg, messages = parse_config({"models": 3, "chat": {"top_k": 2}})
    assert cfg.chat.top_k == 2
    assert messages == ["models must be a table (got 3)"]


def test_null_means_not_set() -> None:
    cfg, messages = parse_config({"chat": {"top_k": None}, "index": None})
    assert (cfg, messages) == (Config(), [])


def test_invalid_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _write(tmp_path / ".lsp-ai.toml", "[models.completion\nn_ctx = 1\n")
    assert read_toml_file(tmp_path / "missing.toml") == ({}, [])
    data, messages = read_toml_file(bad)
    assert data == {}
    assert len(messages) == 1
    assert messages[0].startswith(f"{bad}: cannot read config: ")
    assert messages[0].endswith("; fix the file or remove it")

    monkeypatch.setenv("LSP_AI_CONFIG", str(bad))
    cfg, messages = load_config(None, init_options={"chat": {"top_k": 2}})
    assert cfg.chat.top_k == 2
    assert len(messages) == 1 and messages[0].startswith(f"{bad}: cannot read config: ")


def test_unreadable_config_path(tmp_path: Path) -> None:
    _, messages = read_toml_file(tmp_path)  # a directory, not a file
    assert len(messages) == 1 and "cannot read config" in messages[0]


def test_openai_requires_base_url() -> None:
    cfg, messages = parse_config({"models": {"chat": {"backend": "openai"}}})
    assert cfg.models.chat.backend == "llama_cpp"
    assert messages == ['models.chat.base_url is required when backend is "openai"']

    cfg, messages = parse_config(
        {"models": {"chat": {"backend": "openai", "base_url": "http://localhost:8080/v1"}}}
    )
    assert messages == []
    assert cfg.models.chat.backend == "openai"

    # Clearing base_url later keeps the earlier, consistent pair.
    cleared, messages = parse_config({"models": {"chat": {"base_url": ""}}}, cfg)
    assert cleared.models.chat == cfg.models.chat
    assert messages == ['models.chat.base_url is required when backend is "openai"']


def test_bool_and_float_rejected_for_int() -> None:
    cfg, messages = parse_config(
        {"models": {"completion": {"n_ctx": True, "n_threads": 4.0}}, "chat": {"top_k": 2048.0}}
    )
    assert cfg == Config()
    assert messages == [
        "models.completion.n_ctx must be a positive integer (got true)",
        "models.completion.n_threads must be a non-negative integer (0 means auto) (got 4.0)",
        "chat.top_k must be a positive integer (got 2048.0)",
    ]


def test_temperature_accepts_int_and_rejects_bool() -> None:
    cfg, messages = parse_config({"models": {"chat": {"temperature": 1}}})
    assert messages == [] and cfg.models.chat.temperature == 1.0
    assert isinstance(cfg.models.chat.temperature, float)
    _, messages = parse_config({"models": {"chat": {"temperature": False}}})
    assert messages == ["models.chat.temperature must be a number from 0 to 2 (got false)"]


def test_api_key_masked() -> None:
    cfg, _ = parse_config({"models": {"chat": {"api_key": "sk-secret"}}})
    out = config_to_dict(cfg)
    assert out["models"]["chat"]["api_key"] == "***"
    assert out["models"]["completion"]["api_key"] == ""
    assert "sk-secret" not in repr(cfg)
    assert "sk-secret" not in str(out)
    _, messages = parse_config({"models": {"chat": {"api_key": 12345}}})
    assert messages == ["models.chat.api_key must be a string (got int)"]


def test_config_to_dict_is_plain() -> None:
    cfg, _ = parse_config({"index": {"exclude": ["*.min.js"]}})
    out = config_to_dict(cfg)
    assert out["index"] == {
        "db_path": "",
        "exclude": ["*.min.js"],
        "max_file_bytes": 1_000_000,
        "secret_patterns": [],
    }
    assert out["models"]["completion"]["n_ctx"] == 2048
    assert set(out) == {"models", "index", "completion", "chat", "resources"}


def test_exclude_validation() -> None:
    cfg, messages = parse_config({"index": {"exclude": ["build/", "*.lock"]}})
    assert messages == []
    assert cfg.index.exclude == ("build/", "*.lock")

    for bad in ("build/", ["ok", 3]):
        kept, messages = parse_config({"index": {"exclude": bad}}, cfg)
        assert kept.index.exclude == ("build/", "*.lock")
        assert len(messages) == 1
        assert messages[0].startswith("index.exclude must be a list of strings")


def test_deep_merge() -> None:
    base: dict[str, Any] = {
        "models": {"chat": {"n_ctx": 1, "model": "a"}},
        "index": {"exclude": ["x"]},
    }
    override: dict[str, Any] = {"models": {"chat": {"n_ctx": 2}}, "index": {"exclude": ["y"]}}
    assert deep_merge(base, override) == {
        "models": {"chat": {"n_ctx": 2, "model": "a"}},
        "index": {"exclude": ["y"]},
    }
    assert base["models"]["chat"]["n_ctx"] == 1  # inputs untouched


def test_user_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSP_AI_CONFIG", str(tmp_path / "mine.toml"))
    assert user_config_path() == tmp_path / "mine.toml"
    if sys.platform.startswith("linux"):
        monkeypatch.delenv("LSP_AI_CONFIG")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        assert user_config_path() == tmp_path / "xdg" / "lsp-ai" / "config.toml"


def test_every_model_role_checks_the_shared_keys_with_one_rule() -> None:
    """The model keys are declared once (ModelConfig); each role only changes defaults."""
    from dataclasses import fields

    from lsp_ai.config import (
        ChatModelConfig,
        CompletionModelConfig,
        EmbeddingModelConfig,
        ModelConfig,
    )

    shared = {f.name for f in fields(ModelConfig)} - {"backend"}  # embedding has more backends
    for section in (CompletionModelConfig, ChatModelConfig, EmbeddingModelConfig):
        rules = {f.name: f.metadata["rule"] for f in fields(section)}
        for name in shared:
            assert rules[name] is {f.name: f.metadata["rule"] for f in fields(ModelConfig)}[name]
    _, problems = parse_config({"models": {"embedding": {"n_ctx": 0}, "chat": {"n_ctx": 0}}})
    assert problems == [
        "models.embedding.n_ctx must be a positive integer (got 0)",
        "models.chat.n_ctx must be a positive integer (got 0)",
    ]
