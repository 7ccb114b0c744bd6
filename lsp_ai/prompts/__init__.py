"""Prompt templates kept as data files, so users can read and override them."""

from __future__ import annotations

import os
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path


def read_prompt(name: str) -> str:
    """A prompt file, from $LSP_AI_PROMPTS if the user put one there, else the packaged one."""
    override = os.environ.get("LSP_AI_PROMPTS")
    if override and (path := Path(override) / name).is_file():
        return path.read_text(encoding="utf-8")
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def fim_templates() -> dict[str, dict[str, object]]:
    return tomllib.loads(read_prompt("fim.toml"))
