"""Cuts the text around the cursor to the model's budget, at line boundaries.

Whole lines keep the prompt stable while the user types on the current line: everything
before the cursor line stays byte-identical between keystrokes, so llama.cpp's KV cache
reuses it and only the current line is evaluated again. The first kept line also stays put
as new lines are typed (`keep_from`): when the prefix outgrows its budget it is cut to
three quarters of it, so the next cut, and the full re-evaluation it costs, is many lines away.
"""

from __future__ import annotations

from dataclasses import dataclass

# Code averages 3-4 characters per token; counting characters keeps tokenization off the
# keystroke path, and a small overshoot is absorbed by the n_ctx headroom.
CHARS_PER_TOKEN = 3.5
REFILL = 0.75  # share of the prefix budget used after a cut


@dataclass(frozen=True)
class CursorContext:
    prefix: str  # text before the cursor, whole lines plus the current line's head
    suffix: str  # text after the cursor, the current line's tail plus whole lines
    line_prefix: str  # the current line up to the cursor
    line_suffix: str  # the current line after the cursor
    first_line: int = 0  # document line the prefix starts at


def split_at(text: str, line: int, character: int) -> tuple[str, str]:
    """Split a document at a 0-based (line, character), clamping out-of-range positions."""
    lines = text.split("\n")
    line = max(0, min(line, len(lines) - 1))
    character = max(0, min(character, len(lines[line])))
    offset = sum(len(x) + 1 for x in lines[:line]) + character
    return text[:offset], text[offset:]


def cursor_context(
    text: str,
    line: int,
    character: int,
    prefix_tokens: int,
    suffix_tokens: int,
    keep_from: int | None = None,
) -> CursorContext:
    """The prefix and suffix around a position; `keep_from` is the last call's `first_line`."""
    before, after = split_at(text, line, character)
    head, _, line_prefix = before.rpartition("\n")
    line_suffix, _, tail = after.partition("\n")
    budget = int(prefix_tokens * CHARS_PER_TOKEN) - len(line_prefix)
    first_line, kept_head = _stable_head(head, budget, keep_from) if "\n" in before else (0, "")
    budget = int(suffix_tokens * CHARS_PER_TOKEN) - len(line_suffix)
    kept_tail = keep_first_lines(tail, budget)
    prefix = (kept_head + "\n" if "\n" in before else "") + line_prefix
    suffix = line_suffix + ("\n" + kept_tail if "\n" in after else "")
    return CursorContext(prefix, suffix, line_prefix, line_suffix, first_line)


def _stable_head(head: str, budget: int, keep_from: int | None) -> tuple[int, str]:
    """Whole lines before the cursor line, from `keep_from` while they fit the budget."""
    if len(head) <= budget:
        return 0, head
    if keep_from is not None and keep_from > 0:
        offset = _line_offset(head, keep_from)
        # Still within budget, and not left with a sliver after the cursor moved up.
        if offset is not None and budget * REFILL / 2 <= len(head) - offset <= budget:
            return keep_from, head[offset:]
    kept = _keep_last_lines(head, int(budget * REFILL))
    return head.count("\n") - kept.count("\n") if kept else head.count("\n") + 1, kept


def _line_offset(text: str, line: int) -> int | None:
    pos = 0
    for _ in range(line):
        pos = text.find("\n", pos) + 1
        if pos == 0:
            return None
    return pos


def _keep_last_lines(text: str, budget: int) -> str:
    if len(text) <= budget:
        return text
    if budget <= 0:
        return ""
    cut = text.find("\n", len(text) - budget)
    return text[cut + 1 :] if cut >= 0 else ""


def keep_first_lines(text: str, budget: int) -> str:
    """The whole lines at the start of `text` that fit in `budget` characters."""
    if len(text) <= budget:
        return text
    if budget <= 0:
        return ""
    cut = text.rfind("\n", 0, budget)
    return text[:cut] if cut >= 0 else ""
