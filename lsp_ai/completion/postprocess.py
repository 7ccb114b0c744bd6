"""Turns raw model output into text worth showing as ghost text."""

from __future__ import annotations

from lsp_ai.languages import line_comment

_BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", "do", "then")
_QUOTES = "\"'`"


def _code_of(line: str, marker: str) -> tuple[str, str]:
    """The characters of `line` outside strings and before a line comment.

    Also how the line ends: "" in code, "comment", or the quote of a string still open.
    """
    code: list[str] = []
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in _QUOTES:
            quote = ch
        elif line.startswith(marker, i):
            return "".join(code), "comment"
        else:
            code.append(ch)
        i += 1
    return "".join(code), quote


def in_comment_or_string(line_prefix: str, language: str) -> bool:
    """Whether the cursor sits in a line comment or an unclosed string on its line.

    Ghost text there is mostly noise (models happily continue prose). This reads the current
    line only, so a cursor inside a multi-line string or block comment is not detected.
    """
    return _code_of(line_prefix, line_comment(language))[1] != ""


def completion_shape(line_prefix: str, line_suffix: str, setting: str) -> str:
    """What a suggestion may span, from where the cursor is.

    - "block": at the start of a block or on an empty line, several lines;
    - "line": mid-line, the rest of this line only;
    - "next_line": at the end of a line that has code, either the rest of the line or,
      when the line looks finished, a line break and the next line (what you want right
      after accepting a whole line).
    `completion.multiline = "always" | "never"` forces "block" or "line".
    """
    if setting in ("always", "never"):
        return "block" if setting == "always" else "line"
    if line_suffix.strip():
        return "line"
    head = line_prefix.rstrip()
    return "block" if not head or head.endswith(_BLOCK_OPENERS) else "next_line"


def shape_done(text: str, shape: str, line_prefix: str) -> bool:
    """Whether generation can stop: what comes next would be cut anyway."""
    if shape == "block":
        return block_ended(_skip_blank(text, line_prefix), line_prefix)
    if shape == "next_line" and text.startswith("\n"):
        return "\n" in text[1:]
    return "\n" in _skip_blank(text, line_prefix)


def _skip_blank(text: str, line_prefix: str) -> str:
    """Drop a model's leading line breaks on a blank line, and the indentation already typed.

    There, "leave this line blank and go on below" is the same suggestion as going on here.
    """
    if line_prefix.strip() or not text.startswith("\n"):
        return text
    rest = text.lstrip("\n")
    return rest[len(line_prefix) :] if rest.startswith(line_prefix) else rest


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


def block_ended(text: str, line_prefix: str) -> bool:
    """Whether a finished line of `text` already left the cursor's block: stop generating."""
    done = text[: text.rfind("\n") + 1]
    return "\n" in done and cut_at_block_end(done, line_prefix) != done


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


_CLOSES = {")": "(", "]": "[", "}": "{"}
BRACKET_SCAN_CHARS = 4000  # of the prefix: a literal opened further up is not seen


def open_brackets(prefix: str, language: str = "text") -> list[str]:
    """Brackets still open at the end of `prefix`, outside strings and line comments.

    A line-by-line scan: good enough to know what a suggestion may close, and a string it
    misreads only makes the check below more lenient, or stricter for that one line.
    """
    stack: list[str] = []
    marker = line_comment(language)
    for line in prefix[-BRACKET_SCAN_CHARS:].split("\n"):
        for ch in _code_of(line, marker)[0]:
            if ch in "([{":
                stack.append(ch)
            elif ch in _CLOSES and stack and stack[-1] == _CLOSES[ch]:
                stack.pop()
    return stack


def cut_unmatched_closer(text: str, stack: list[str]) -> str:
    """Stop before a bracket that closes nothing open: the model ran past the expression."""
    stack = list(stack)
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in _QUOTES:
            quote = ch
        elif ch == "\n":
            quote = ""
        elif ch in "([{":
            stack.append(ch)
        elif ch in _CLOSES:
            if not stack or stack[-1] != _CLOSES[ch]:
                return text[:i]
            stack.pop()
    return text


def postprocess(
    raw: str,
    line_prefix: str,
    line_suffix: str,
    suffix: str,
    multiline: bool | str,
    open_before: list[str] | None = None,
) -> str:
    """`multiline`: a shape from `completion_shape` (True/False mean "block"/"line").

    `open_before`: the brackets open at the cursor (`open_brackets` of the prefix).
    """
    shape = multiline if isinstance(multiline, str) else ("block" if multiline else "line")
    text = raw.replace("\r\n", "\n")
    if shape == "block":
        text = cut_at_block_end(_skip_blank(text, line_prefix), line_prefix)
    elif shape == "next_line" and text.startswith("\n"):
        following = text[1:].split("\n", 1)[0]
        text = "\n" + following if following.strip() else ""
    else:
        text = _skip_blank(text, line_prefix).split("\n", 1)[0]
    if open_before is not None and not text.startswith("\n"):
        text = cut_unmatched_closer(text, open_before)
    text = drop_suffix_overlap(text, line_suffix if shape == "line" else suffix)
    text = "\n".join(line.rstrip() for line in text.split("\n")).rstrip()
    return text if text.strip() else ""
