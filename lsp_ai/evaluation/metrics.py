"""Scores for retrieval (Recall@k, MRR) and completion (exact match, edit similarity).

Shared by `lsp-ai eval` and the benchmarks, so that a figure a user gets on their own code
means the same as the one in the benchmark tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    text: str
    path: str  # target file, relative to the corpus root
    lines: tuple[int, int] | None = None  # 0-based inclusive target range; None: whole file


@dataclass(frozen=True)
class Hit:
    path: str
    start_line: int
    end_line: int


def is_correct(hit: Hit, q: Query, file_level: bool = False) -> bool:
    """Same file, and (unless judged by file) lines overlapping the target's."""
    if hit.path != q.path:
        return False
    if file_level or q.lines is None:
        return True
    return hit.start_line <= q.lines[1] and hit.end_line >= q.lines[0]


def first_per_file(hits: Sequence[Hit]) -> list[Hit]:
    """Each file's first hit, in the order files first appear."""
    firsts: dict[str, Hit] = {}
    for hit in hits:
        firsts.setdefault(hit.path, hit)
    return list(firsts.values())


def first_rank(hits: Sequence[Hit], q: Query, file_level: bool = False) -> int:
    """1-based position of the first correct hit in the whole list; 0 when there is none.

    ``file_level`` judges by path only and counts each file once, at its first hit.
    """
    if file_level:
        hits = first_per_file(hits)
    for rank, hit in enumerate(hits, 1):
        if is_correct(hit, q, file_level):
            return rank
    return 0


def recall_at(ranks: Sequence[int], k: int) -> float:
    """Share of queries whose first correct hit is in the top ``k`` (ranks as `first_rank`)."""
    return round(sum(1 for r in ranks if 0 < r <= k) / len(ranks), 4) if ranks else 0.0


def mrr_at(ranks: Sequence[int], k: int) -> float:
    """Mean reciprocal rank of the first correct hit, counting only the top ``k``."""
    return round(sum(1 / r for r in ranks if 0 < r <= k) / len(ranks), 4) if ranks else 0.0


def edit_similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / length of the longer string."""
    if not a and not b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1 - prev[-1] / max(len(a), len(b))


def first_line(text: str) -> str:
    """What a one-line suggestion is judged on: its first line, stripped."""
    return text.split("\n", 1)[0].strip()


def line_scores(suggestion: str, expected: str) -> tuple[bool, float]:
    """(exact match, edit similarity) of a suggestion's first line against the expected rest."""
    head, want = first_line(suggestion), expected.strip()
    return head == want, edit_similarity(head, want)
