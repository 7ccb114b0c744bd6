"""The cross-encoder reranker, against a tiny random-weight CrossEncoder built on the fly.

No cross-encoder ships with the project or on PyPI, so the fixture writes a two-layer BERT
sequence classifier (num_labels=1) and a WordPiece vocab to disk. Its scores mean nothing,
so every ordering assertion compares against the same model's own ``predict``.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from lsp_ai.config import RerankerConfig
from lsp_ai.index.hits import SearchHit
from lsp_ai.index.rerank import CrossEncoderReranker, make_reranker
from lsp_ai.inference.base import ModelError
from lsp_ai.spans import CodeSpan

# Whole words the test texts use; anything else falls back to single-letter WordPieces.
_WORDS = [
    "def",
    "class",
    "return",
    "import",
    "from",
    "self",
    "if",
    "else",
    "for",
    "in",
    "none",
    "true",
    "false",
    "parse",
    "config",
    "load",
    "save",
    "index",
    "search",
    "query",
    "file",
    "path",
    "model",
    "score",
    "rank",
    "hit",
    "text",
    "token",
    "chunk",
    "vector",
    "embed",
    "server",
    "client",
    "request",
    "cache",
]


_TEXTS = [
    "def parse_config(path): return load(path)",
    "class Index: def search(self, query): return hits",
    "def save(model, path): model.save(path)",
    "import server from client",
    "def rank(query, hits): return sorted(hits)",
    "for chunk in chunks: embed(chunk.text)",
    "if cache is none: cache = load_cache()",
    "def token_count(text): return len(text)",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    vocab += [*"0123456789_().:,=", *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz_")]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        # Wider than BERT's 0.02 so random logits spread instead of all sitting at ~0.
        initializer_range=0.2,
    )
    config.num_labels = 1  # one relevance logit, as rerankers have (not a kwarg to mypy)
    torch.manual_seed(1234)
    BertForSequenceClassification(config).save_pretrained(folder)
    # transformers 5: the vocab file goes in `vocab=`; `vocab_file=` is silently ignored and
    # leaves a tokenizer that knows only the special tokens, so every word becomes [UNK].
    tokenizer = BertTokenizer(vocab=str(folder / "vocab.txt"))
    assert "[UNK]" not in tokenizer.tokenize(_TEXTS[0])
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> Any:
    """The same model opened directly, to compute the expected scores."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(model_dir), device="cpu", local_files_only=True)


def _hit(i: int, text: str, score: float = 0.0) -> SearchHit:
    return SearchHit(
        CodeSpan(f"src/f{i}.py", i, i + 3, text, f"sym{i}"), "function", "python", score
    )


def _hits() -> list[SearchHit]:
    # First-stage scores descend, as IndexService passes them.
    return [_hit(i, t, score=1.0 - i / 10) for i, t in enumerate(_TEXTS)]


def _expected(reference: Any, query: str, hits: list[SearchHit]) -> list[tuple[str, float]]:
    scores = reference.predict([(query, h.span.text) for h in hits], show_progress_bar=False)
    pairs = [(h.span.path, float(s)) for h, s in zip(hits, scores, strict=True)]
    return sorted(pairs, key=lambda p: -p[1])


def test_loads_offline_and_sorts_by_cross_encoder_score(
    model_dir: Path, reference: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reranker tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    reranker = CrossEncoderReranker(model_dir)
    hits = _hits()
    query = "parse the config file"

    ranked = reranker(query, hits)

    assert reranker.loaded
    assert sorted(h.span.path for h in ranked) == sorted(h.span.path for h in hits)
    scores = [h.score for h in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores), "tiny model should give distinct scores"
    expected = _expected(reference, query, hits)
    assert [h.span.path for h in ranked] == [p for p, _ in expected]
    assert scores == pytest.approx([s for _, s in expected], abs=1e-5)
    # Only the score changes; the rest of each hit is carried over untouched.
    by_path = {h.span.path: h for h in hits}
    for h in ranked:
        assert h.span == by_path[h.span.path].span
    # The order really changed from the first stage for this query (guards a no-op rerank).
    assert [h.span.path for h in ranked] != [h.span.path for h in hits]


def test_only_top_n_are_reranked_and_the_rest_keep_their_order(
    model_dir: Path, reference: Any
) -> None:
    reranker = CrossEncoderReranker(model_dir, top_n=3)
    hits = _hits()
    query = "search the index"

    ranked = reranker(query, hits)

    assert len(ranked) == len(hits)
    expected = _expected(reference, query, hits[:3])
    assert [h.span.path for h in ranked[:3]] == [p for p, _ in expected]
    assert [h.score for h in ranked[:3]] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert ranked[3:] == hits[3:]  # untouched, original scores included


def test_long_text_is_cut_to_max_chars(model_dir: Path, reference: Any) -> None:
    long_text = "def load(path): " + "return load(path) " * 200
    hits = [_hit(0, long_text), _hit(1, "class Index: pass")]
    reranker = CrossEncoderReranker(model_dir, max_chars=40)

    ranked = reranker("load", hits)

    want = reference.predict([("load", long_text[:40])], show_progress_bar=False)[0]
    assert next(h for h in ranked if h.span.path == hits[0].span.path).score == pytest.approx(
        float(want), abs=1e-5
    )


def test_empty_hits_do_not_load_the_model(model_dir: Path) -> None:
    reranker = CrossEncoderReranker(model_dir)
    assert reranker("anything", []) == []
    assert not reranker.loaded


def test_concurrent_first_calls_load_the_model_once(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sentence_transformers

    real = sentence_transformers.CrossEncoder
    loads: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "CrossEncoder", counting)
    reranker = CrossEncoderReranker(model_dir)
    results: list[list[SearchHit]] = []
    threads = [
        threading.Thread(target=lambda: results.append(reranker("query", _hits())))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(loads) == 1
    assert len(results) == 4 and all(r == results[0] for r in results)


def test_unloadable_folder_raises_model_error_naming_the_key(tmp_path: Path) -> None:
    reranker = CrossEncoderReranker(tmp_path)  # a folder, but no model in it
    with pytest.raises(ModelError, match=r"models\.reranker\.model"):
        reranker("query", [_hit(0, "x")])
    with pytest.raises(ModelError, match=r"models\.reranker\.model"):  # remembered, not retried
        reranker("query", [_hit(0, "x")])


def test_make_reranker_is_none_when_disabled(model_dir: Path) -> None:
    assert make_reranker(RerankerConfig()) is None
    assert make_reranker(RerankerConfig(enabled=False, model=str(model_dir))) is None


@pytest.mark.parametrize("model", ["", "   "])
def test_make_reranker_without_a_model_names_the_key(model: str) -> None:
    with pytest.raises(ModelError, match=r"models\.reranker\.model") as info:
        make_reranker(RerankerConfig(enabled=True, model=model))
    assert "enabled = false" in str(info.value)


def test_make_reranker_with_a_missing_folder_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"models\.reranker\.model.*not a folder"):
        make_reranker(RerankerConfig(enabled=True, model=str(tmp_path / "nope")))


def test_make_reranker_builds_a_lazy_reranker(model_dir: Path, reference: Any) -> None:
    rerank = make_reranker(RerankerConfig(enabled=True, model=str(model_dir)))
    assert isinstance(rerank, CrossEncoderReranker)
    assert not rerank.loaded
    hits = _hits()
    ranked = rerank("load the model", hits)
    assert [h.span.path for h in ranked] == [
        p for p, _ in _expected(reference, "load the model", hits)
    ]
