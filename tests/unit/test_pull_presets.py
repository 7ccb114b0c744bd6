"""Names `lsp-ai models pull` accepts, and the presets' shape."""

from __future__ import annotations

import pytest

from lsp_ai.inference.presets import PRESETS
from lsp_ai.inference.pull import PullError, Source, parse_source


def test_a_preset_name_resolves_to_its_repo_and_file() -> None:
    p = PRESETS["qwen2.5-coder-1.5b-q8_0"]
    assert parse_source(p.name) == Source(p.repo, p.filename, "main")


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("hf:o/r/m.gguf", Source("o/r", "m.gguf", "main")),
        ("hf:o/r/sub/m.gguf@v1", Source("o/r", "sub/m.gguf", "v1")),
    ],
)
def test_hf_names(name: str, source: Source) -> None:
    assert parse_source(name) == source


@pytest.mark.parametrize("name", ["nope", "hf:o/r", "hf:o/r/model.bin", "hf://r/m.gguf"])
def test_anything_else_is_refused_with_the_choices(name: str) -> None:
    with pytest.raises(PullError, match=r"hf:OWNER/REPO/FILE\.gguf"):
        parse_source(name)


def test_every_role_has_a_preset_and_each_names_a_gguf() -> None:
    assert {p.role for p in PRESETS.values()} == {"completion", "chat", "next_edit", "embedding"}
    for p in PRESETS.values():
        assert p.filename.endswith(".gguf") and p.repo.count("/") == 1 and p.size > 10**8
