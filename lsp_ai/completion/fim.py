"""Lays out the fill-in-the-middle prompt for the completion model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lsp_ai.inference.base import FimTokens
from lsp_ai.languages import line_comment
from lsp_ai.prompts import fim_templates
from lsp_ai.spans import CodeSpan

TEMPLATE_NAMES = ("qwen", "starcoder", "codellama", "deepseek", "none")
_PLACEHOLDER = re.compile(r"\{(context|prefix|suffix|path|text|repo|comment)\}")

# Models without repository tokens see other files as comments headed by their path, so
# they neither mistake them for the current file nor continue them.
_COMMENTED_FILE = "{comment} Path: {path}\n{text}\n"
_COMMENTED_CURRENT = "{comment} Path: {path}\n"


def _fill(template: str, values: dict[str, str]) -> str:
    """One pass over the placeholders: code full of braces (or of "{suffix}") stays as is."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass(frozen=True)
class FimLayout:
    name: str
    template: str
    stop: tuple[str, ...]
    context_start: str = ""  # opens the repository context, e.g. Qwen's <|repo_name|>
    context_file: str = _COMMENTED_FILE  # one snippet of another file
    current_file: str = _COMMENTED_CURRENT  # the header of the file being completed
    comment_snippets: bool = True  # put the comment marker before every snippet line

    @property
    def uses_suffix(self) -> bool:
        return "{suffix}" in self.template

    def render(
        self,
        prefix: str,
        suffix: str,
        context: Sequence[CodeSpan] = (),
        *,
        path: str = "",
        language: str = "text",
        repo: str = "",
    ) -> str:
        block = self.render_context(context, path, language, repo)
        template = self.template
        if block and "{context}" not in template:  # a user's older template
            prefix = block + prefix
        return _fill(template, {"context": block, "prefix": prefix, "suffix": suffix})

    def render_context(
        self, context: Sequence[CodeSpan], path: str, language: str, repo: str
    ) -> str:
        if not context:
            return ""
        marker = line_comment(language)
        parts = [_fill(self.context_start, {"repo": repo})]
        for snip in context:
            text = snip.text
            if self.comment_snippets:
                text = "\n".join(f"{marker} {line}".rstrip() for line in text.split("\n"))
            parts.append(
                _fill(self.context_file, {"path": snip.path, "text": text, "comment": marker})
            )
        parts.append(_fill(self.current_file, {"path": path, "comment": marker}))
        return "".join(parts)


def choose_layout(setting: str, model_fim: FimTokens | None) -> FimLayout:
    """`auto` follows the model's own FIM tokens; a model without them gets prefix-only."""
    name = setting
    if setting == "auto":
        name = model_fim.style if model_fim else "none"
    table = fim_templates()
    entry = table.get(name, table["none"])
    extra = {
        key: entry[key]
        for key in ("context_start", "context_file", "current_file", "comment_snippets")
        if key in entry
    }
    return FimLayout(name, str(entry["template"]), tuple(entry.get("stop", ())), **extra)  # type: ignore[arg-type]
