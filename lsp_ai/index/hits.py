"""The search hit every retriever returns (SPEC section 4), and the retriever seam."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SearchHit:
    path: str  # relative to the workspace root, posix separators
    start_line: int  # 0-based inclusive
    end_line: int
    symbol: str | None
    kind: str
    language: str
    score: float
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "startLine": self.start_line,
            "endLine": self.end_line,
            "symbol": self.symbol,
            "kind": self.kind,
            "language": self.language,
            "score": round(self.score, 6),
            "text": self.text,
        }


class Retriever(Protocol):
    """Anything that answers a query with hits, best first."""

    name: str

    def search(self, query: str, k: int, *, expand: bool = False) -> list[SearchHit]: ...

    def stats(self) -> dict[str, int]: ...
