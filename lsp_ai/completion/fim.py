"""Lays out the fill-in-the-middle prompt for the completion model."""

from __future__ import annotations

from dataclasses import dataclass

from lsp_ai.inference.base import FimTokens
from lsp_ai.prompts import fim_templates

TEMPLATE_NAMES = ("qwen", "starcoder", "codellama", "deepseek", "none")


@dataclass(frozen=True)
class FimLayout:
    name: str
    template: str
    stop: tuple[str, ...]

    @property
    def uses_suffix(self) -> bool:
        return "{suffix}" in self.template

    def render(self, prefix: str, suffix: str) -> str:
        # str.replace, not str.format: code is full of braces.
        return self.template.replace("{prefix}", prefix).replace("{suffix}", suffix)


def choose_layout(setting: str, model_fim: FimTokens | None) -> FimLayout:
    """`auto` follows the model's own FIM tokens; a model without them gets prefix-only."""
    name = setting
    if setting == "auto":
        name = model_fim.style if model_fim else "none"
    table = fim_templates()
    entry = table.get(name, table["none"])
    return FimLayout(name, str(entry["template"]), tuple(entry.get("stop", ())))  # type: ignore[arg-type]
