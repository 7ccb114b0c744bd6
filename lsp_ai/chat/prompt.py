"""Builds the chat prompt: XML sections, escaped repository text, and a token budget.

Repository text is escaped (`&`, `<`, `>`) before it goes inside a tag, so a snippet that
contains `</context_data>` or "ignore previous instructions" stays inside its snippet and
cannot pose as the prompt's own structure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lsp_ai.inference.base import ChatMessage
from lsp_ai.prompts import read_prompt
from lsp_ai.spans import CodeSpan


def quoteattr(value: str) -> str:
    """Always double-quoted (saxutils switches quote styles), with `"`, `<`, `>`, `&` escaped."""
    return '"' + escape(value, {'"': "&quot;"}) + '"'


@dataclass(frozen=True)
class Snippet:
    """A retrieved piece of the workspace for the prompt, with how well it matched."""

    span: CodeSpan
    score: float


@dataclass(frozen=True)
class CurrentFile:
    path: str
    text: str
    line: int | None = None
    character: int | None = None


@dataclass
class BuiltPrompt:
    messages: list[ChatMessage]
    snippets: list[Snippet]  # the snippets that fit, in prompt order
    dropped_snippets: int
    dropped_turns: int
    tokens: int


def render_snippet(index: int, s: Snippet) -> str:
    span = s.span
    attrs = (
        f"index={quoteattr(str(index))} score={quoteattr(f'{s.score:.3f}')} "
        f"path={quoteattr(span.path)} "
        f"lines={quoteattr(f'{span.start_line + 1}-{span.end_line + 1}')}"
    )
    return f"<retrieved_snippet {attrs}>\n{escape(span.text)}\n</retrieved_snippet>"


def render_current_file(cur: CurrentFile, max_chars: int = 4000) -> str:
    text = cur.text
    if len(text) > max_chars:  # centre the window on the cursor line
        lines = text.split("\n")
        mid = cur.line or 0
        lo = max(0, mid - 40)
        text = "\n".join(lines[lo : lo + 80])[:max_chars]
    pos = f" cursor_line={quoteattr(str(cur.line + 1))}" if cur.line is not None else ""
    return f"<current_file path={quoteattr(cur.path)}{pos}>\n{escape(text)}\n</current_file>"


def build_prompt(
    question: str,
    snippets: Sequence[Snippet],
    history: Sequence[ChatMessage],
    count_tokens: Callable[[str], int],
    budget: int,
    current: CurrentFile | None = None,
) -> BuiltPrompt:
    """Fit what we can in `budget` tokens: lowest-scoring snippets go first, then oldest turns."""
    system = "<system_instructions>\n" + read_prompt("chat_system.txt").strip() + "\n"
    system += "</system_instructions>"
    query = f"<user_query>\n{escape(question)}\n</user_query>"
    cur = render_current_file(current) if current else ""
    kept = sorted(snippets, key=lambda s: s.score, reverse=True)
    turns = list(history)
    rendered = {id(s): render_snippet(0, s) for s in kept}
    cost = {k: count_tokens(v) for k, v in rendered.items()}
    fixed = count_tokens(system) + count_tokens(query) + count_tokens(cur) + 16
    turn_cost = [count_tokens(t["content"]) + 4 for t in turns]
    dropped_snippets = dropped_turns = 0

    def total() -> int:
        return fixed + sum(cost[id(s)] for s in kept) + sum(turn_cost)

    while total() > budget and kept:
        kept.pop()
        dropped_snippets += 1
    while total() > budget and turns:
        turns.pop(0)
        turn_cost.pop(0)
        dropped_turns += 1
    context = "\n".join(render_snippet(i + 1, s) for i, s in enumerate(kept))
    user = f"<context_data>\n{context}\n</context_data>\n" + (cur + "\n" if cur else "") + query
    messages: list[ChatMessage] = [{"role": "system", "content": system}]
    messages.extend(turns)
    messages.append({"role": "user", "content": user})
    return BuiltPrompt(messages, kept, dropped_snippets, dropped_turns, total())
