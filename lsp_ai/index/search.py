"""Retrieval policy, in one place: how a query becomes the hits the server returns.

For now: how the vector and full-text legs of a hybrid search are fused (`blend_fuse`). The
store only answers single-leg queries; depths and weights are chosen here.

Importing this module is cheap: the store (and with it LanceDB) is only named for types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lsp_ai.index.store import ChunkStore, StoredHit

VECTOR_WEIGHT = 0.7  # share of the vector leg in hybrid search, see blend_fuse
MIN_FUSION_DEPTH = 50  # candidates taken from each leg before fusing


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
