"""Turns raw model output into text worth showing as ghost text."""

from __future__ import annotations

_BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", "do", "then")
_HASH_COMMENTS = {"python", "ruby", "bash", "yaml", "toml", "perl", "r", "elixir"}
_QUOTES = "\"'`"


def in_comment_or_string(line_prefix: str, language: str) -> bool:
    """Whether the cursor sits in a line comment or an unclosed string on its line.

    Ghost text there is mostly noise (models happily continue prose). This reads the current
    line only, so a cursor inside a multi-line string or block comment is not detected.
    """
    marker = "#" if language in _HASH_COMMENTS else "//"
    quote = ""
    i = 0
    while i < len(line_prefix):
        ch = line_prefix[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in _QUOTES:
            quote = ch
        elif line_prefix.startswith(marker, i):
            return True
        i += 1
    return bool(quote)


def wants_multiline(line_prefix: str, line_suffix: str, setting: str) -> bool:
    """Multi-line at the start of a block or on an empty line; one line mid-expression."""
    if setting in ("always", "never"):
        return setting == "always"
    if line_suffix.strip():
        return False
    head = line_prefix.rstrip()
    return not head or head.endswith(_BLOCK_OPENERS)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def cut_at_block_end(text: str, line_prefix: str) -> str:
    """Stop where the code dedents past the cursor's block (the model ran into the next one)."""
    lines = text.split("\n")
    base = _indent(line_prefix) if line_prefix.strip() else len(line_prefix)
    kept = [lines[0]]
    for line in lines[1:]:
        if line.strip() and _indent(line) < base:
            break
        kept.append(line)
    return "\n".join(kept)


def drop_suffix_overlap(text: str, suffix: str) -> str:
    """Never re-type what already follows the cursor (e.g. a closing bracket on the line)."""
    tail = suffix.split("\n", 1)[0].strip()
    if tail and text.rstrip().endswith(tail):
        return text.rstrip()[: -len(tail)]
    first_next = suffix.lstrip("\n").split("\n", 1)[0].strip()
    if first_next and "\n" in text:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if i and line.strip() == first_next:
                return "\n".join(lines[:i])
    return text


def postprocess(raw: str, line_prefix: str, line_suffix: str, suffix: str, multiline: bool) -> str:
    text = raw.replace("\r\n", "\n")
    if not multiline:
        text = text.split("\n", 1)[0]
    else:
        text = cut_at_block_end(text, line_prefix)
    text = drop_suffix_overlap(text, suffix if multiline else line_suffix)
    text = "\n".join(line.rstrip() for line in text.split("\n")).rstrip()
    return text if text.strip() else ""
