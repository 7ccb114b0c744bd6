"""The search hit every retriever returns (SPEC section 4), and the retriever seam."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lsp_ai.spans import CodeSpan


@dataclass(frozen=True)
class SearchHit:
    # The path is relative to the workspace root; a root after the first is named in front of
    # it ("other-root/pkg/mod.py"), so one hit list can cover every root.
    span: CodeSpan
    kind: str  # the chunk's kind; "callee" | "caller" for a call-graph neighbour
    language: str
    score: float


class Retriever(Protocol):
    """Anything that answers a query with hits, best first."""

    name: str

    def search(self, query: str, k: int, *, expand: bool = False) -> list[SearchHit]: ...

    def stats(self) -> dict[str, int]: ...
