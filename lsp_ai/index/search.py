"""Retrieval policy, in one place: how a query becomes the hits the server returns.

A search runs the legs its mode asks for on every root (vector, full-text, or both fused by
`blend_fuse`), merges the roots' candidates best first, lets an optional reranker reorder
the head of that list, cuts it to `k`, and, when asked, adds the call-graph neighbours of the
best hits. The store only answers single-leg queries and the symbol table only says who calls
whom; every choice about depths, weights and order is made here.

Importing this module is cheap: the store (and with it LanceDB) is only named for types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from lsp_ai.index.hits import SearchHit

if TYPE_CHECKING:
    from lsp_ai.index.store import ChunkStore, StoredHit
    from lsp_ai.index.symbols import SymbolTable

Mode = Literal["hybrid", "vector", "fts"]
#: A second stage over the merged hits: (query, hits best first) -> hits best first.
Rerank = Callable[[str, list[SearchHit]], list[SearchHit]]
#: A relevance model: (query, texts) -> one score per text, higher is better.
Scorer = Callable[[str, Sequence[str]], list[float]]

VECTOR_WEIGHT = 0.7  # share of the vector leg in hybrid search, see blend_fuse
MIN_FUSION_DEPTH = 50  # candidates taken from each leg before fusing
#: Hits a reranker reorders; with one set, every root gives at least this many candidates.
RERANK_TOP_N = 30
EXPAND_TOP = 3  # best hits whose call-graph neighbours are added
NEIGHBOURS_PER_RELATION = 3  # callees, and callers, taken per expanded hit
NEIGHBOUR_SCORE_SHARE = 0.5  # a neighbour scores this share of the hit it came from


@dataclass(frozen=True)
class Root:
    """One workspace root as search sees it: its chunks, its call graph, its name in paths."""

    store: ChunkStore
    symbols: SymbolTable
    prefix: str = ""  # "" for the first root, "<folder name>/" for each other one

    def key(self, rel: str) -> str:
        """A path of this root as hits show it."""
        return self.prefix + rel

    def hit(self, h: StoredHit, kind: str | None = None, score: float | None = None) -> SearchHit:
        span = replace(h.span, path=self.key(h.span.path)) if self.prefix else h.span
        return SearchHit(span, kind or h.kind, h.language, h.score if score is None else score)


def search(
    roots: Sequence[Root],
    query: str,
    k: int,
    mode: Mode,
    embed: Callable[[str], Sequence[float]],
    *,
    rerank: Rerank | None = None,
    expand: bool = False,
) -> list[SearchHit]:
    """Best-first hits over every root; `expand` adds call-graph neighbours of the top hits.

    `embed` turns the query into a vector; a full-text search does not call it.
    """
    vector = embed(query) if mode != "fts" else []
    depth = max(k, RERANK_TOP_N) if rerank else k
    found: list[tuple[Root, StoredHit]] = []
    for root in roots:
        found.extend((root, h) for h in search_root(root.store, query, vector, depth, mode))
    found.sort(key=lambda rh: -rh[1].score)  # stable: roots in order on equal scores
    hits = [root.hit(h) for root, h in found]
    if rerank:
        hits = rerank(query, hits)
    hits = hits[:k]
    if expand:
        hits = _expand(hits, found)
    return hits


def search_root(
    store: ChunkStore, query: str, vector: Sequence[float], k: int, mode: Mode
) -> list[StoredHit]:
    """The best `k` chunks of one root for `mode`, best first."""
    if mode == "vector":
        return store.search_vector(vector, k)
    if mode == "fts":
        return store.search_fts(query, k)
    return hybrid(store, query, vector, k)


def hybrid(store: ChunkStore, query: str, vector: Sequence[float], k: int) -> list[StoredHit]:
    """Vector and full-text results fused by a weighted score blend (see `blend_fuse`).

    Each leg contributes its top ``max(2k, 50)`` candidates so a row that is merely good in
    both lists can still surface above rows that top only one.
    """
    if k <= 0:
        return []
    depth = max(2 * k, MIN_FUSION_DEPTH)
    return blend_fuse(store.vector_candidates(vector, depth), store.fts_candidates(query, depth), k)


def blend_fuse(
    vector_list: Sequence[tuple[str, StoredHit]],
    fts_list: Sequence[tuple[str, StoredHit]],
    k: int,
    vector_weight: float = VECTOR_WEIGHT,
) -> list[StoredHit]:
    """Weighted sum of each list's min-max normalised scores; absent from a list counts 0.

    The lists hold (row identity, hit) pairs, so a row both legs found is fused into one hit.
    Chosen over reciprocal rank fusion by measurement (benchmarks/retrieval_quality.py):
    with MiniLM embeddings the full-text leg is much weaker than the vector leg on
    natural-language queries, and equal-weight RRF let it drag hybrid below vector alone on
    CoSQA (MRR 0.454 vs 0.521 over 500 queries). Scores keep how far apart candidates are,
    which ranks do not, and the 0.7 weight made hybrid beat both legs on CoSQA and on the
    docstring-to-function sets of requests and click. Ties keep first-seen order (vector
    list first), so results are deterministic.
    """
    scores: dict[str, float] = {}
    hits: dict[str, StoredHit] = {}
    for weight, ranked in ((vector_weight, vector_list), (1.0 - vector_weight, fts_list)):
        if not ranked:
            continue
        values = [hit.score for _, hit in ranked]
        low, high = min(values), max(values)
        for key, hit in ranked:
            norm = (hit.score - low) / (high - low) if high > low else 1.0
            scores[key] = scores.get(key, 0.0) + weight * norm
            hits.setdefault(key, hit)
    best = sorted(scores, key=lambda key: -scores[key])[:k]
    return [replace(hits[key], score=scores[key]) for key in best]


def rerank_head(
    query: str, hits: list[SearchHit], scorer: Scorer, top_n: int = RERANK_TOP_N
) -> list[SearchHit]:
    """Every hit: the first `top_n` re-sorted by `scorer`, then the rest in their order.

    Reranked hits carry the scorer's score. Hits past `top_n` keep their first-stage order
    and score, since the model never saw them; `search` cuts the list to its `k` afterwards,
    which is usually well under `top_n`. No hits, no call to the scorer.
    """
    if not hits:
        return []
    head, tail = hits[:top_n], hits[top_n:]
    scored = zip(scorer(query, [h.span.text for h in head]), head, strict=True)
    # sorted() is stable, so equal scores keep the first stage's order.
    ranked = sorted(scored, key=lambda sh: -sh[0])
    return [replace(h, score=s) for s, h in ranked] + tail


def neighbours(
    root: Root, hit: StoredHit, limit: int = NEIGHBOURS_PER_RELATION
) -> list[tuple[str, StoredHit]]:
    """Chunks of what `hit` calls and of what calls it: ("callee" | "caller", chunk)."""
    out: list[tuple[str, StoredHit]] = []
    span = hit.span
    for sym in root.symbols.callees(span.path, span.start_line, span.end_line)[:limit]:
        found = root.store.chunks_overlapping(sym.path, sym.line)
        if found:
            out.append(("callee", found[0]))
    name = (span.symbol or "").rsplit(".", 1)[-1]
    at = (span.path, span.start_line)
    if name:
        for caller in root.symbols.callers(name)[:limit]:
            found = root.store.chunks_overlapping(caller.path, caller.start_line, caller.end_line)
            if found and (found[0].span.path, found[0].span.start_line) != at:
                out.append(("caller", found[0]))
    return out


def _expand(hits: list[SearchHit], found: list[tuple[Root, StoredHit]]) -> list[SearchHit]:
    """`hits` followed by the call-graph neighbours of the first few not already among them."""
    seen = {(h.span.path, h.span.start_line) for h in hits}
    extra: list[SearchHit] = []
    by_key = {(root.key(h.span.path), h.span.start_line): (root, h) for root, h in found}
    for hit in hits[:EXPAND_TOP]:
        where = by_key.get((hit.span.path, hit.span.start_line))
        if where is None:
            continue
        root, stored = where
        for relation, n in neighbours(root, stored):
            key = (root.key(n.span.path), n.span.start_line)
            if key not in seen:
                seen.add(key)
                extra.append(root.hit(n, relation, hit.score * NEIGHBOUR_SCORE_SHARE))
    return hits + extra
