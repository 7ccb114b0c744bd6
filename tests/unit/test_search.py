"""Retrieval policy on stand-in stores: root merge, depths, reranking and call-graph expansion."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from lsp_ai.index.hits import SearchHit
from lsp_ai.index.search import RERANK_TOP_N, Root, blend_fuse, rerank_head, search
from lsp_ai.index.store import StoredHit
from lsp_ai.index.symbols import ChunkCalls, Symbol, SymbolTable
from lsp_ai.spans import CodeSpan


def stored(path: str, line: int, score: float, symbol: str | None = None) -> StoredHit:
    span = CodeSpan(path, line, line + 4, f"text of {path}:{line}", symbol)
    return StoredHit(span, "python", "function", span.text, f"hash-{path}-{line}", score)


class FakeStore:
    """Answers full-text searches from a fixed list; remembers the depths it was asked for."""

    def __init__(self, hits: Sequence[StoredHit], chunks: Sequence[StoredHit] = ()) -> None:
        self.hits = list(hits)
        self.chunks = [*hits, *chunks]  # what look-ups by place can find
        self.depths: list[int] = []

    def search_fts(self, query: str, k: int) -> list[StoredHit]:
        self.depths.append(k)
        return self.hits[:k]

    def chunks_overlapping(self, path: str, line: int, end: int | None = None) -> list[StoredHit]:
        last = line if end is None else end
        found = [h for h in self.chunks if h.span.path == path]
        return [h for h in found if h.span.start_line <= last and h.span.end_line >= line]


def root(store: FakeStore, prefix: str = "", symbols: SymbolTable | None = None) -> Root:
    return Root(store, symbols or SymbolTable(), prefix)  # type: ignore[arg-type]


def no_embedding(query: str) -> list[float]:
    raise AssertionError("a full-text search must not embed the query")


def test_roots_merge_best_first_with_later_roots_named_in_paths() -> None:
    one = FakeStore([stored("a.py", 0, 0.9), stored("b.py", 0, 0.4)])
    two = FakeStore([stored("c.py", 0, 0.7), stored("d.py", 0, 0.4)])

    hits = search([root(one), root(two, "two/")], "q", 3, "fts", no_embedding)

    assert [(h.span.path, h.score) for h in hits] == [
        ("a.py", 0.9),
        ("two/c.py", 0.7),
        ("b.py", 0.4),
    ]
    assert one.depths == two.depths == [3]
    assert hits[1].span.path == "two/c.py" and hits[1].span.text == "text of c.py:0"


def test_a_reranker_sees_at_least_its_depth_and_its_order_wins() -> None:
    store = FakeStore([stored(f"f{i}.py", 0, 1.0 - i / 100) for i in range(40)])
    seen: list[int] = []

    def reverse(query: str, hits: list[SearchHit]) -> list[SearchHit]:
        seen.append(len(hits))
        return hits[::-1]

    hits = search([root(store)], "q", 2, "fts", no_embedding, rerank=reverse)

    assert store.depths == [RERANK_TOP_N] and seen == [RERANK_TOP_N]
    assert [h.span.path for h in hits] == [f"f{RERANK_TOP_N - 1}.py", f"f{RERANK_TOP_N - 2}.py"]


def test_rerank_head_reorders_only_the_head_and_keeps_the_rest() -> None:
    hits = [root(FakeStore([])).hit(stored(f"f{i}.py", 0, 1.0 - i / 10)) for i in range(4)]
    calls: list[list[str]] = []

    def scorer(query: str, texts: Sequence[str]) -> list[float]:
        calls.append(list(texts))
        return [0.1, 0.5]

    ranked = rerank_head("q", hits, scorer, top_n=2)

    assert calls == [[hits[0].span.text, hits[1].span.text]]
    assert [(h.span, h.score) for h in ranked[:2]] == [(hits[1].span, 0.5), (hits[0].span, 0.1)]
    assert ranked[2:] == hits[2:]
    assert rerank_head("q", [], scorer) == [] and len(calls) == 1


def test_blend_fuse_counts_a_row_both_legs_found_once() -> None:
    both, vec_only, fts_only = (
        stored("both.py", 0, 0.8),
        stored("v.py", 0, 0.9),
        stored("f.py", 0, 3),
    )
    fts_both = stored("both.py", 0, 5.0)

    fused = blend_fuse([("b", both), ("v", vec_only)], [("b", fts_both), ("f", fts_only)], 5)

    assert [h.span.path for h in fused] == ["v.py", "both.py", "f.py"]
    assert [h.score for h in fused] == pytest.approx([0.7, 0.3, 0.0])


def test_expansion_adds_callees_and_callers_of_the_top_hits_at_half_their_score() -> None:
    main, helper, user = (
        stored("m.py", 0, 0.8, "main"),
        stored("h.py", 10, 0.1),
        stored("u.py", 20, 0.1),
    )
    table = SymbolTable()
    table.set_file("m.py", [], [ChunkCalls("m.py", 0, 4, "main", ("helper",))])
    table.set_file(
        "h.py", [Symbol("helper", "helper", "function", "h.py", 10, 14, "def helper()", "t")], []
    )
    table.set_file("u.py", [], [ChunkCalls("u.py", 20, 24, "use", ("main",))])
    store = FakeStore([main], [helper, user])  # only `main` matches the query

    hits = search([root(store, "", table)], "q", 1, "fts", no_embedding, expand=True)

    assert [(h.span.path, h.kind, h.score) for h in hits] == [
        ("m.py", "function", 0.8),
        ("h.py", "callee", 0.4),
        ("u.py", "caller", 0.4),
    ]
