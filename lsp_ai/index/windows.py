"""Line windows: how text is cut when there is no syntax to cut it by.

Files in languages without a grammar, and files that do not parse, are indexed as
overlapping windows of lines, so a definition that straddles a boundary is whole in at least
one window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Lines per window and the step between window starts.
WINDOW_LINES = 40
STEP_LINES = 30

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Passage:
    """A window of consecutive lines of one file; lines are 0-based and inclusive."""

    path: str
    start_line: int
    end_line: int
    text: str
    language: str


def split_lines(text: str) -> list[str]:
    r"""Split text into lines the way LSP counts them (\n, \r\n or \r).

    `str.splitlines` would also break on form feeds and Unicode separators, which shifts
    line numbers away from what the editor shows. A final line break ends the last line
    rather than starting an empty one.
    """
    if not text:
        return []
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def split_passages(
    path_rel: str,
    text: str,
    language: str,
    window: int = WINDOW_LINES,
    step: int = STEP_LINES,
) -> list[Passage]:
    """Cut a file into overlapping line windows covering every line.

    The last window ends at the last line; windows made only of whitespace are dropped,
    since they could never match a query.
    """
    if window < 1 or not 1 <= step <= window:
        raise ValueError(f"need 1 <= step <= window, got window={window}, step={step}")
    lines = split_lines(text)
    passages: list[Passage] = []
    start = 0
    while start < len(lines):
        end = min(start + window, len(lines)) - 1
        body = "\n".join(lines[start : end + 1])
        if body.strip():
            passages.append(Passage(path_rel, start, end, body, language))
        if end == len(lines) - 1:
            break
        start += step
    return passages
