"""GGUF headers read without loading a model, and the model stores searched for them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lsp_ai.inference.base import ModelError
from lsp_ai.inference.discovery import embedded_gguf, find_gguf_files, resolve_gguf
from lsp_ai.inference.gguf_header import GgufError, read_gguf_info


def write_gguf(path: Path, arch: str, tokens: list[str], file_type: int, ctx: int) -> Path:
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), arch)
    writer.add_name("test model")
    writer.add_context_length(ctx)
    writer.add_file_type(file_type)
    writer.add_token_list(tokens)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_header_of_a_fim_model(tmp_path: Path) -> None:
    tokens = ["a", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "b"]
    info = read_gguf_info(write_gguf(tmp_path / "q.gguf", "qwen2", tokens, 15, 32768))
    assert (info.architecture, info.context_length, info.quantization, info.fim) == (
        "qwen2",
        32768,
        "Q4_K_M",
        "qwen",
    )


def test_header_of_the_embedded_model() -> None:
    info = read_gguf_info(embedded_gguf())
    assert info.architecture == "llama" and info.fim is None and info.has_chat_template


def test_not_a_gguf(tmp_path: Path) -> None:
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"PK\x03\x04 zip, not gguf")
    with pytest.raises(GgufError):
        read_gguf_info(bad)


def test_ollama_models_are_found_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "ollama"
    digest = "sha256:" + "ab" * 32
    (store / "blobs").mkdir(parents=True)
    shutil.copy(embedded_gguf(), store / "blobs" / digest.replace(":", "-"))
    manifest = store / "manifests" / "registry.ollama.ai" / "library" / "tiny-coder" / "1b"
    manifest.parent.mkdir(parents=True)
    layers = [
        {"mediaType": "application/vnd.ollama.image.license", "digest": "sha256:" + "cd" * 32},
        {"mediaType": "application/vnd.ollama.image.model", "digest": digest},
    ]
    manifest.write_text(json.dumps({"layers": layers}))
    monkeypatch.setenv("OLLAMA_MODELS", str(store))
    names = {f.label: f for f in find_gguf_files()}
    assert names["tiny-coder:1b"].source == "ollama"
    assert resolve_gguf("tiny-coder:1b", "models.completion.model").name.startswith("sha256-")


def test_config_folders_are_searched(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    write_gguf(folder / "my-coder-q8.gguf", "starcoder2", ["<fim_middle>"], 7, 16384)
    found = resolve_gguf("my-coder", "models.completion.model", [str(folder)])
    assert found == folder / "my-coder-q8.gguf"
    with pytest.raises(ModelError, match="lsp-ai models"):
        resolve_gguf("no-such-model", "models.completion.model", [str(folder)])


def test_suggested_models_follow_the_tier_table() -> None:
    from lsp_ai.doctor import suggest

    assert "32B" in suggest(24, True) and "14B" in suggest(16, True)
    assert "7B-Instruct" in suggest(8, True)
    assert "on the CPU" in suggest(6, True) and "on the CPU" in suggest(48, False)
