"""The one code-span type: a line range of a workspace file with its text.

Chunks, stored rows, search hits, chat sources and completion snippets all point at a piece of
a file; each embeds a `CodeSpan` instead of repeating path, lines and text in a shape of its
own, so a hit can become a source or a snippet without copying fields by hand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeSpan:
    path: str  # relative to its workspace root, posix separators
    start_line: int  # 0-based, inclusive
    end_line: int  # 0-based, inclusive
    text: str  # the exact source text of those lines (or the part of it a snippet keeps)
    symbol: str | None = None  # qualified name of the definition it covers, if any
    scope: str = ""  # in words: "method `load` in class `Config`"

    @property
    def lines(self) -> str:
        """`path:start-end`, 1-based as editors and people count lines."""
        return f"{self.path}:{self.start_line + 1}-{self.end_line + 1}"
