"""Retrieval quality of the codebase index, method against method, on the same queries.

Measured per method and corpus: Recall@1, Recall@5, Recall@10, MRR@10 (reciprocal rank of
the first correct hit in the top 10, 0 otherwise), p50/p95 query latency, plus "R@list" (a
correct hit anywhere in the returned list, which for ``hybrid+graph`` includes the
call-graph neighbours appended after the top k) and the mean number of hits returned.

Methods (all share one index per corpus; see ``methods_for``):

- ``bm25``: ``IndexService.search(mode="fts")``, LanceDB full-text BM25;
- ``vector``: ``mode="vector"``, MiniLM cosine similarity;
- ``hybrid``: ``mode="hybrid"``, the two fused by reciprocal rank;
- ``hybrid+rerank``: ``hybrid`` with its top 30 reordered by a cross-encoder
  (``lsp_ai/index/rerank.py``). Only with ``--reranker DIR`` (a sentence-transformers
  ``CrossEncoder`` folder): none ships with the project, so without one the method is not
  run and the results say so (``not_measured``);
- ``hybrid+graph``: ``mode="hybrid", expand=True``; expansion hits are judged at their
  position in the returned list (they come after the top k, so only R@list can move);
- ``grep baseline``: what a user does by hand (``git grep -c -i -w word...``), in Python:
  files ranked by how many distinct query words (stopwords dropped) they contain, then by
  total matches. Its hits are whole files.

Corpora:

1. CoSQA (``../shared/eval-data/cosqa``): web queries against Python functions, one function
   per file ``corpus/f{retrieval_idx}.py``; a hit is correct when its path is the target file.
   Full: 500 queries over all 6,267 functions. ``--quick``: the first 60 queries over their
   targets plus random distractors, 600 functions.
2. Docstring to function (``benchmarks/doc_corpus.py``) on packages nobody here wrote,
   fetched from their registries while the benchmark runs: Python sdists from PyPI
   (``pip download``), JavaScript from npm (``npm pack``), Go and Rust source packages from
   Debian (``apt-get download``, unpacked with ``dpkg-deb -x``; no root needed and nothing is
   installed). Every function doc is blanked out of the indexed copy (line numbers stay);
   the first sentence of a documented function is the query and the function's lines the
   answer (a hit is correct when its path matches and its lines overlap). Ambiguous
   sentences are dropped; at most 150 queries per package (40 with ``--quick``),
   ``random.Random(0)``. The whole package (tests and docs too) is indexed. A second,
   file-level table judges every method by path only (index hits de-duplicated by file) so
   grep compares like with like. A package that cannot be fetched (no npm, no apt) is
   skipped and the reason recorded under ``failed``.

   Quick: requests (Python), ws (JavaScript), chi (Go), bytes (Rust). Full: also click,
   attrs, express, cobra and log.

Cost: indexing is bounded by the CPU embedder (MiniLM, roughly 25-40 chunks/s on 2 idle
cores, half that when other work competes). Quick mode embeds about 2,450 chunks (CoSQA
600, requests 723, ws 181, chi 399, bytes 550): about 3 minutes on an idle machine; full
mode about 11,900 (CoSQA 6,271), 10-20 minutes. Fetching takes seconds per package. Every
corpus gets a fresh temporary database, so no run reuses an old index.

Run: ``python -m benchmarks.retrieval_quality [--quick] [--corpora NAME,...] [--skip-cosqa]
[--skip-docstrings] [--reranker DIR]``. Tables are printed and written to
``<results>/retrieval_quality[-quick][-cosqa|-docstrings].md`` (``<results>`` is
``$LSP_AI_BENCH_OUT`` or ``benchmarks/results/<date>``; the suffixes keep quick and partial
runs from overwriting a full one); every figure goes to the ``.json`` beside it:

.. code-block:: text

    {
      "machine": {...}, "mode": "quick" | "full", "k": 10,
      "methods": ["bm25", "vector", "hybrid", "hybrid+graph", "grep baseline"],
      "not_measured": {"hybrid+rerank": "why"},          # {} when every method ran
      "reranker": "DIR",                                  # only with --reranker
      "corpora": {
        "<corpus>": {                                     # "cosqa", "requests", "ws", ...
          "kind": "cosqa" | "docstrings",
          "language": "python" | "javascript" | "go" | "rust",
          "source": {"registry": "pypi"|"npm"|"debian"|"eval-data", "package": str,
                     "version": str},                     # the version actually fetched
          "files": int, "chunks": int, "queries": int,    # indexed files and chunks
          "build_s": float, "embed_s": float, "model_load_s": float,
          ...                                             # kind-specific counts
          "methods": {
            "<method>": {"recall@1": float, "recall@5": float, "recall@10": float,
                         "mrr": float, "latency_ms": {"p50": float, "p95": float},
                         "recall@list": float, "hits_per_query": float, "queries": int}
          },
          "file_level": {"<method>": {... same keys ...}},  # docstring corpora only
          "ranks": {"<method>": [int, ...]}   # per query: 1-based rank of the first
        }                                     # correct hit in the returned list, 0 = none
      },
      "pooled": {                             # all docstring queries together
        "docstrings": {"corpora": [...], "methods": {...}, "file_level": {...}},
        "by_language": {"<language>": {"corpora": [...], "methods": {...}}}
      },
      "failed": {"<corpus>": "why it was skipped"},
      "wall_s": float, "loadavg_1min": {"start": float, "end": float}
    }
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import EVAL_DATA, bench_settings, percentiles, results_dir, write_result
from benchmarks.doc_corpus import FetchError, Source, fetch
from lsp_ai.config import parse_config
from lsp_ai.evaluation.docs import sample_targets, strip_docs
from lsp_ai.evaluation.metrics import Hit, Query, first_rank, mrr_at, recall_at
from lsp_ai.index.discover import FileFilter, read_text
from lsp_ai.index.rerank import CrossEncoderReranker
from lsp_ai.index.service import IndexService
from lsp_ai.inference.base import ModelError
from lsp_ai.inference.factory import embedder_name
from lsp_ai.wiring import Wiring

#: Words a person would leave out of a grep: common English and code keywords.
STOPWORDS: frozenset[str] = frozenset(
    {
        # English
        "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
        "how", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "that", "the",
        "there", "this", "to", "was", "we", "what", "where", "which", "who", "why", "with",
        "you", "your",
        # code
        "def", "else", "elif", "end", "false", "fn", "func", "if", "import", "let", "const",
        "nil", "none", "null", "pass", "return", "self", "true", "var", "void",
    }
)  # fmt: skip

COSQA = EVAL_DATA / "cosqa"
K = 10
QUICK_COSQA_QUERIES = 60
QUICK_COSQA_FUNCTIONS = 600
MAX_DOC_QUERIES = {"quick": 40, "full": 150}

_GO = "usr/share/gocode/src/github.com"
_CARGO = "usr/share/cargo/registry"
#: Docstring corpora, pinned. Debian versions are bookworm's; another release's archive may
#: only offer another version, which is then used and recorded.
DOC_SOURCES: list[Source] = [
    Source("requests", "python", "pypi", "requests", "2.32.3"),
    Source("click", "python", "pypi", "click", "8.1.7"),
    Source("attrs", "python", "pypi", "attrs", "24.2.0"),
    Source("ws", "javascript", "npm", "ws", "8.18.0"),
    Source("express", "javascript", "npm", "express", "4.21.1"),
    Source("chi", "go", "debian", "golang-github-go-chi-chi-dev", "5.0.7-1", f"{_GO}/go-chi/chi"),
    Source("cobra", "go", "debian", "golang-github-spf13-cobra-dev", "1.6.1-1",
           f"{_GO}/spf13/cobra"),
    Source("bytes", "rust", "debian", "librust-bytes-dev", "1.2.1-1", f"{_CARGO}/bytes-*"),
    Source("log", "rust", "debian", "librust-log-dev", "0.4.17-3", f"{_CARGO}/log-*"),
]  # fmt: skip
#: One package per language: the quick run's share of the above.
QUICK_CORPORA = ("requests", "ws", "chi", "bytes")

RERANK = "hybrid+rerank"
NO_RERANKER = (
    "not measured: no cross-encoder is available offline; pass --reranker DIR "
    "(a sentence-transformers CrossEncoder folder) to measure it"
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- queries, hits, methods --------------------------------------------------------------


Method = Callable[[str, int], list[Hit]]
"""A retrieval method: (query, k) -> hits, best first."""


def index_method(index: IndexService, mode: Any, expand: bool = False) -> Method:
    def search(query: str, k: int) -> list[Hit]:
        found = index.search(query, k, mode=mode, expand=expand)
        return [Hit(h.span.path, h.span.start_line, h.span.end_line) for h in found]

    return search


def methods_for(
    wiring: Wiring, root: Path, reranked: IndexService | None = None
) -> dict[str, Method]:
    """Every method compared, by name, in table order; the hook where new ones are added.

    ``reranked`` is a second `IndexService` over the same database with a cross-encoder.
    """
    methods = {
        "bm25": index_method(wiring.index, "fts"),
        "vector": index_method(wiring.index, "vector"),
        "hybrid": index_method(wiring.index, "hybrid"),
    }
    if reranked is not None:
        methods[RERANK] = index_method(reranked, "hybrid")
    methods["hybrid+graph"] = index_method(wiring.index, "hybrid", expand=True)
    methods["grep baseline"] = GrepBaseline(root).search
    return methods


# -- grep baseline -----------------------------------------------------------------------


def query_words(query: str) -> list[str]:
    """Distinct lower-case words of a query, minus stopwords and one-letter words."""
    words = (w.lower() for w in re.findall(r"\w+", query))
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in STOPWORDS))


def grep_pattern(query: str) -> re.Pattern[str] | None:
    """`grep -i -w` for any of the query's words; None when it has none worth searching."""
    words = query_words(query)
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)


class GrepBaseline:
    """``git grep -c -i -w`` by hand: rank files by distinct query words, then total matches.

    Files are read from disk on every query, as grep would (the page cache keeps that cheap).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = [(f.path, f.rel) for f in FileFilter(root).walk()]

    def search(self, query: str, k: int) -> list[Hit]:
        pattern = grep_pattern(query)
        if pattern is None:
            return []
        ranked: list[tuple[int, int, str, int]] = []
        for path, rel in self.files:
            try:
                text = read_text(path)
            except OSError:
                continue
            counts = Counter(m.lower() for m in pattern.findall(text))
            if counts:
                ranked.append((-len(counts), -sum(counts.values()), rel, text.count("\n")))
        ranked.sort()
        return [Hit(rel, 0, last) for _, _, rel, last in ranked[:k]]


# -- evaluation --------------------------------------------------------------------------


@dataclass
class Runs:
    """Per-query outcomes of one method on one corpus."""

    ranks: list[int] = field(default_factory=list)
    file_ranks: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)

    def extend(self, other: Runs) -> None:
        self.ranks += other.ranks
        self.file_ranks += other.file_ranks
        self.latencies_ms += other.latencies_ms
        self.returned += other.returned


def run_method(method: Method, queries: Sequence[Query]) -> Runs:
    method(queries[0].text, K)  # warm-up, untimed: first FTS index use, first model call
    runs = Runs()
    for q in queries:
        started = time.perf_counter()
        hits = method(q.text, K)
        runs.latencies_ms.append((time.perf_counter() - started) * 1000)
        runs.ranks.append(first_rank(hits, q))
        runs.file_ranks.append(first_rank(hits, q, file_level=True))
        runs.returned.append(len(hits))
    return runs


def summarise(ranks: list[int], runs: Runs) -> dict[str, Any]:
    n = len(ranks)
    latency = percentiles(runs.latencies_ms)
    return {
        "recall@1": recall_at(ranks, 1),
        "recall@5": recall_at(ranks, 5),
        "recall@10": recall_at(ranks, K),
        "mrr": mrr_at(ranks, K),
        "latency_ms": {"p50": latency["p50"], "p95": latency["p95"]},
        "recall@list": round(sum(1 for r in ranks if r > 0) / n, 4),
        "hits_per_query": round(statistics.mean(runs.returned), 2),
        "queries": n,
    }


def summaries(results: dict[str, Runs], file_level: bool = False) -> dict[str, Any]:
    return {
        name: summarise(runs.file_ranks if file_level else runs.ranks, runs)
        for name, runs in results.items()
    }


# -- indexing ----------------------------------------------------------------------------


@dataclass
class Corpus:
    name: str
    root: Path
    queries: list[Query]
    info: dict[str, Any] = field(default_factory=dict)  # kind, language, source, counts


def evaluate(corpus: Corpus, tmp: Path, reranker: CrossEncoderReranker | None) -> dict[str, Runs]:
    """Index the corpus into a fresh database, then run every method on every query."""
    db = Path(tempfile.mkdtemp(prefix=f"db-{corpus.name}-", dir=tmp))
    cfg, problems = parse_config(bench_settings({"index": {"db_path": str(db)}}))
    assert not problems, problems
    with ExitStack() as stack:  # closed last in, first out: services, then the database
        stack.callback(shutil.rmtree, db, ignore_errors=True)
        wiring = Wiring(cfg, [corpus.root])
        stack.callback(wiring.close)
        started = time.perf_counter()
        wiring.models.embedding.get()
        model_s = time.perf_counter() - started
        log(f"[{corpus.name}] indexing {corpus.root} ...")
        started = time.perf_counter()
        files = wiring.index.build()
        build_s = time.perf_counter() - started
        crawl = wiring.index.last_crawl
        corpus.info.update(
            files=files,
            chunks=wiring.index.stats()["chunks"],
            queries=len(corpus.queries),
            build_s=round(build_s, 1),
            embed_s=round(crawl.embed_s, 1) if crawl else None,
            chunks_embedded=crawl.chunks_embedded if crawl else None,
            model_load_s=round(model_s, 1),
        )
        log(f"[{corpus.name}] {corpus.info}")
        reranked = None
        if reranker is not None:
            # A second view of the same database, its hybrid hits reordered by the model. It
            # opens after the full-text index exists: two handles that both find it missing
            # would both build it, and the second commit fails.
            wiring.index.search(corpus.queries[0].text, 1, mode="fts")
            reranked = IndexService(
                [corpus.root],
                embedder=wiring.models.embedding.get,
                embedder_name=embedder_name(cfg.models.embedding),
                db_path=str(db),
                rerank=reranker,
            )
            stack.callback(reranked.close)
            reranked.build()  # nothing to embed: every file is already in the database
        results = {}
        for name, method in methods_for(wiring, corpus.root, reranked).items():
            started = time.perf_counter()
            results[name] = run_method(method, corpus.queries)
            log(f"[{corpus.name}] {name}: {time.perf_counter() - started:.1f}s")
        return results


# -- corpora -----------------------------------------------------------------------------


def cosqa_corpus(tmp: Path, quick: bool) -> Corpus:
    """One file per CoSQA function; quick mode keeps 60 queries and 600 functions."""
    rows = json.loads((COSQA / "cosqa-retrieval-test-500.json").read_text())
    code_by_id = {
        int(i): code for code, i in json.loads((COSQA / "code_idx_map.txt").read_text()).items()
    }
    ids = sorted(code_by_id)
    if quick:
        rows = rows[:QUICK_COSQA_QUERIES]
        targets = {int(r["retrieval_idx"]) for r in rows}
        others = [i for i in ids if i not in targets]
        extra = random.Random(0).sample(others, QUICK_COSQA_FUNCTIONS - len(targets))
        ids = sorted(targets | set(extra))
    root = tmp / "cosqa"
    (root / "corpus").mkdir(parents=True)
    for i in ids:
        (root / "corpus" / f"f{i}.py").write_text(code_by_id[i] + "\n")
    queries = [Query(r["doc"], f"corpus/f{int(r['retrieval_idx'])}.py") for r in rows]
    info = {
        "kind": "cosqa",
        "language": "python",
        "source": {"registry": "eval-data", "package": "CoSQA", "version": "retrieval-test-500"},
        "functions": len(ids),
    }  # fmt: skip
    return Corpus("cosqa", root, queries, info)


def docstring_corpus(src: Source, tmp: Path, max_queries: int) -> Corpus:
    """Fetch a package, strip its function docs and sample their first sentences as queries."""
    fetched = fetch(src, tmp)
    targets, sentences, removed = strip_docs(fetched.root, src.language)
    picked, unique = sample_targets(targets, sentences, max_queries)
    if not picked:
        raise FetchError(f"no usable documented functions in {src.spec}")
    info = {
        "kind": "docstrings",
        "language": src.language,
        "source": {"registry": src.registry, "package": src.package,
                   "version": fetched.version, **fetched.info},
        "docs_removed": dict(removed),
        "candidate_queries": unique,
    }  # fmt: skip
    queries = [Query(t.sentence, t.rel, t.lines) for t in picked]
    return Corpus(src.name, fetched.root, queries, info)


# -- reporting ---------------------------------------------------------------------------


def table(title: str, rows: dict[str, dict[str, Any]], note: str = "") -> str:
    head = "| method | R@1 | R@5 | R@10 | MRR | p50 ms | p95 ms | queries | R@list | hits/query |"
    out = [f"### {title}", "", head, "|" + "---|" * 10]
    for name, s in rows.items():
        cells = [s["recall@1"], s["recall@5"], s["recall@10"], s["mrr"]]
        cells += [s["latency_ms"]["p50"], s["latency_ms"]["p95"], s["queries"]]
        cells += [s["recall@list"], s["hits_per_query"]]
        out.append(f"| {name} | " + " | ".join(f"{c}" for c in cells) + " |")
    if note:
        out += ["", note]
    return "\n".join(out) + "\n"


GREP_NOTE = (
    "grep baseline hits are whole files, so in the line-overlap table it is judged by path "
    "only; the file-level table judges every method that way (index hits de-duplicated by "
    "file, keeping each file's first position)."
)


def corpus_table(corpora: Sequence[Corpus]) -> str:
    rows = [
        "| corpus | language | source | files | chunks | queries | build s |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in corpora:
        i, s = c.info, c.info["source"]
        source = f"{s['registry']}: {s['package']} {s['version']}"
        rows.append(
            f"| {c.name} | {i['language']} | {source} | {i.get('files')} | {i.get('chunks')} "
            f"| {len(c.queries)} | {i.get('build_s')} |"
        )
    return "### Corpora\n\n" + "\n".join(rows) + "\n"


# -- main --------------------------------------------------------------------------------


@dataclass
class Report:
    """What a run has gathered so far: markdown sections and the JSON document."""

    md: list[str]
    data: dict[str, Any]
    corpora: list[Corpus] = field(default_factory=list)
    doc_results: dict[str, dict[str, Runs]] = field(default_factory=dict)

    def add(self, corpus: Corpus, results: dict[str, Runs]) -> None:
        self.corpora.append(corpus)
        entry: dict[str, Any] = {**corpus.info, "methods": summaries(results)}
        title = f"{corpus.name} ({corpus.info['language']}"
        if corpus.info["kind"] == "docstrings":
            self.doc_results[corpus.name] = results
            entry["file_level"] = summaries(results, file_level=True)
            title += ", docstring to function, line overlap)"
        else:
            title += f", {corpus.info['functions']} functions)"
        entry["ranks"] = {name: r.ranks for name, r in results.items()}
        self.data["corpora"][corpus.name] = entry
        self.md.append(table(title, entry["methods"]))

    def pool(self) -> None:
        """Pooled docstring figures: all packages, and per language."""
        if not self.doc_results:
            return
        every = pooled(self.doc_results)
        by_language: dict[str, dict[str, Any]] = {}
        for c in self.corpora:
            if c.name in self.doc_results:
                by_language.setdefault(c.info["language"], {})[c.name] = self.doc_results[c.name]
        self.data["pooled"] = {
            "docstrings": {
                "corpora": list(self.doc_results),
                "methods": summaries(every),
                "file_level": summaries(every, file_level=True),
            },
            "by_language": {
                lang: {"corpora": list(runs), "methods": summaries(pooled(runs))}
                for lang, runs in by_language.items()
            },
        }
        names = ", ".join(self.doc_results)
        pooled_data = self.data["pooled"]["docstrings"]
        self.md.append(table(f"Docstring to function, all packages ({names})",
                             pooled_data["methods"]))  # fmt: skip
        self.md.append(table("Docstring to function, all packages, file level",
                             pooled_data["file_level"], GREP_NOTE))  # fmt: skip


def pooled(results: dict[str, dict[str, Runs]]) -> dict[str, Runs]:
    out: dict[str, Runs] = {}
    for per_method in results.values():
        for name, runs in per_method.items():
            out.setdefault(name, Runs()).extend(runs)
    return out


def load_reranker(path: Path | None) -> tuple[CrossEncoderReranker | None, str | None]:
    """The cross-encoder, loaded now so a bad folder is reported before hours of indexing."""
    if path is None:
        return None, NO_RERANKER
    reranker = CrossEncoderReranker(path)
    try:
        reranker.model()
    except ModelError as exc:
        return None, f"not measured: {exc}"
    return reranker, None


def result_name(quick: bool, skip_cosqa: bool, skip_docstrings: bool) -> str:
    """``retrieval_quality`` for a full run; suffixes keep partial runs from overwriting it."""
    name = "retrieval_quality" + ("-quick" if quick else "")
    if skip_cosqa != skip_docstrings:
        name += "-docstrings" if skip_cosqa else "-cosqa"
    return name


def choose_sources(arg: str | None, quick: bool) -> list[Source]:
    names = arg.split(",") if arg else list(QUICK_CORPORA if quick else ())
    if not names:
        return DOC_SOURCES
    by_name = {s.name: s for s in DOC_SOURCES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown corpora {unknown}: choose from {', '.join(by_name)}")
    return [by_name[n] for n in names]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="bounded subsets (3-4 min)")
    names = ",".join(s.name for s in DOC_SOURCES)
    ap.add_argument(
        "--corpora",
        help=f"docstring packages, comma-separated, out of {names} "
        f"(default: all; --quick: {','.join(QUICK_CORPORA)})",
    )
    ap.add_argument("--skip-cosqa", action="store_true")
    ap.add_argument("--skip-docstrings", action="store_true")
    ap.add_argument(
        "--reranker",
        type=Path,
        help="a sentence-transformers CrossEncoder folder: adds hybrid+rerank",
    )
    args = ap.parse_args(argv)
    sources = [] if args.skip_docstrings else choose_sources(args.corpora, args.quick)
    started = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)
    mode = "quick" if args.quick else "full"
    reranker, no_rerank = load_reranker(args.reranker)
    report = Report(
        md=[f"## Retrieval quality ({mode} mode)\n"],
        data={"mode": mode, "k": K, "methods": [], "not_measured": {}, "corpora": {}, "pooled": {}},
    )
    if no_rerank:
        report.data["not_measured"][RERANK] = no_rerank
        log(f"{RERANK}: {no_rerank}")
    else:
        report.data["reranker"] = str(args.reranker)
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="lsp-ai-retrieval-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_cosqa:
            corpus = cosqa_corpus(tmp, args.quick)
            report.add(corpus, evaluate(corpus, tmp, reranker))
        for src in sources:
            try:
                corpus = docstring_corpus(src, tmp, MAX_DOC_QUERIES[mode])
            except FetchError as exc:
                log(f"[{src.name}] skipped: {exc}")
                failed[src.name] = str(exc)
                continue
            report.add(corpus, evaluate(corpus, tmp, reranker))
    report.pool()
    if report.corpora:
        first = report.data["corpora"][report.corpora[0].name]["methods"]
        report.data["methods"] = list(first)
    report.data["failed"] = failed
    report.md.append(corpus_table(report.corpora))
    if no_rerank:
        report.md.append(f"{RERANK}: {no_rerank}.\n")
    if failed:
        report.md.append(
            "Skipped: " + "; ".join(f"{name} ({why})" for name, why in failed.items()) + "\n"
        )
    report.data["wall_s"] = round(time.perf_counter() - started, 1)
    report.data["loadavg_1min"] = {"start": load_start, "end": round(os.getloadavg()[0], 2)}
    report.md.append(
        f"Wall time: {report.data['wall_s']} s. 1-minute load average at start/end: "
        f"{load_start} / {report.data['loadavg_1min']['end']} on {os.cpu_count()} cores "
        "(latencies are inflated when other processes compete for the CPU).\n"
    )
    text = "\n".join(report.md)
    print(text)
    name = result_name(args.quick, args.skip_cosqa, args.skip_docstrings)
    path = write_result(name, report.data)
    md = results_dir() / f"{name}.md"
    md.write_text(text)
    log(f"wrote {path} and {md}")


if __name__ == "__main__":
    main()
