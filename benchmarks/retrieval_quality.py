"""Retrieval quality of the codebase index, method against method, on the same queries.

Measured per method: Recall@1, Recall@5, Recall@10, MRR@10 (reciprocal rank of the first
correct hit in the top 10, 0 otherwise), p50/p95 query latency, plus "R@list" (a correct hit
anywhere in the returned list, which for ``hybrid+graph`` includes the call-graph neighbours
appended after the top k) and the mean number of hits returned.

Methods (all share one index per corpus; see ``methods_for``):

- ``bm25``: ``IndexService.search(mode="fts")``, LanceDB full-text BM25;
- ``vector``: ``mode="vector"``, MiniLM cosine similarity;
- ``hybrid``: ``mode="hybrid"``, the two fused by reciprocal rank;
- ``hybrid+graph``: ``mode="hybrid", expand=True``; expansion hits are judged at their
  position in the returned list (they come after the top k, so only R@list can move);
- ``grep baseline``: what a user does by hand (``git grep -c -i -w word...``), in Python:
  files ranked by how many distinct query words (stopwords dropped) they contain, then by
  total matches. Its hits are whole files.

Datasets:

1. CoSQA (``../shared/eval-data/cosqa``): web queries against Python functions, one function
   per file ``corpus/f{retrieval_idx}.py``; a hit is correct when its path is the target file.
   Full: 500 queries over all 6,267 functions. ``--quick``: the first 100 queries over their
   targets plus random distractors, 1,500 functions.
2. Docstring to function on PyPI sdists nobody here wrote (``pip download``): functions with
   a docstring whose first sentence has >= 3 words and a body of >= 3 lines; every such
   docstring is deleted from the copy that is indexed, and the first sentence is the query.
   A hit is correct when its path matches and its lines overlap the function's (decorators
   included). Sentences that occur on more than one function are dropped as ambiguous. At
   most 150 sampled queries per repository (50 with ``--quick``), ``random.Random(0)``.
   The whole sdist (docs and tests too) is indexed. A second, file-level table judges every
   method by path only (index hits de-duplicated by file) so grep compares like with like.

Cost: indexing is bounded by the CPU embedder (MiniLM, roughly 10-40 chunks/s on 2 cores).
Quick mode embeds ~3,400 chunks (1,500 CoSQA functions, requests, click); full mode embeds
~9,300 (6,267 functions, requests, click, attrs) and takes 10-20 minutes. Every corpus gets
a fresh temporary database, so no run reuses an old index.

Run: ``python -m benchmarks.retrieval_quality [--quick] [--repos N] [--skip-cosqa]
[--skip-docstrings]``. Tables are printed and written to
``benchmarks/results/<date>/retrieval_quality[-quick][-cosqa|-docstrings].md`` (suffixes keep
quick and partial runs from overwriting a full one); every figure goes to ``.json`` beside it.
"""

from __future__ import annotations

import argparse
import ast
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import EVAL_DATA, fetch_sdist, percentiles, results_dir, write_result
from lsp_ai.config import parse_config
from lsp_ai.index.discover import FileFilter, read_text
from lsp_ai.services import Services

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
SDISTS = ["requests==2.32.3", "click==8.1.7", "attrs==24.2.0"]
QUICK_COSQA_QUERIES = 100
QUICK_COSQA_FUNCTIONS = 1500
MAX_DOC_QUERIES = {"quick": 50, "full": 150}
MIN_SENTENCE_WORDS = 3
MIN_BODY_LINES = 3


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- queries, hits, methods --------------------------------------------------------------


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


Method = Callable[[str, int], list[Hit]]
"""A retrieval method: (query, k) -> hits, best first."""


def index_method(svc: Services, mode: Any, expand: bool = False) -> Method:
    def search(query: str, k: int) -> list[Hit]:
        found = svc.index.search(query, k, mode=mode, expand=expand)
        return [Hit(h.path, h.start_line, h.end_line) for h in found]

    return search


def methods_for(svc: Services, root: Path) -> dict[str, Method]:
    """Every method compared, by name; the hook where new ones are added.

    A reranked variant (``lsp_ai/index/rerank.py``) is left to whoever adds it: build an
    ``IndexService`` over the same ``db_path`` with ``rerank=make_reranker(...)`` and add
    ``"hybrid+rerank": index_method(<that service>, "hybrid")`` here.
    """
    return {
        "bm25": index_method(svc, "fts"),
        "vector": index_method(svc, "vector"),
        "hybrid": index_method(svc, "hybrid"),
        "hybrid+graph": index_method(svc, "hybrid", expand=True),
        "grep baseline": GrepBaseline(root).search,
    }


# -- grep baseline -----------------------------------------------------------------------


def query_words(query: str) -> list[str]:
    """Distinct lower-case words of a query, minus stopwords and one-letter words."""
    words = (w.lower() for w in re.findall(r"\w+", query))
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in STOPWORDS))


class GrepBaseline:
    """``git grep -c -i -w`` by hand: rank files by distinct query words, then total matches.

    Files are read from disk on every query, as grep would (the page cache keeps that cheap).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = [(f.path, f.rel) for f in FileFilter(root).walk()]

    def search(self, query: str, k: int) -> list[Hit]:
        words = query_words(query)
        if not words:
            return []
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)
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


def is_correct(hit: Hit, q: Query, file_level: bool = False) -> bool:
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


def summarise(ranks: list[int], runs: Runs) -> dict[str, float]:
    n = len(ranks)

    def recall(k: int) -> float:
        return round(sum(1 for r in ranks if 0 < r <= k) / n, 4)

    return {
        "r@1": recall(1),
        "r@5": recall(5),
        "r@10": recall(K),
        "mrr@10": round(sum(1 / r for r in ranks if 0 < r <= K) / n, 4),
        "r@list": round(sum(1 for r in ranks if r > 0) / n, 4),
        "hits_per_query": round(statistics.mean(runs.returned), 2),
        "p50_ms": percentiles(runs.latencies_ms)["p50"],
        "p95_ms": percentiles(runs.latencies_ms)["p95"],
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
    info: dict[str, Any] = field(default_factory=dict)


def evaluate(corpus: Corpus, tmp: Path) -> dict[str, Runs]:
    """Index the corpus into a fresh database, then run every method on every query."""
    db = Path(tempfile.mkdtemp(prefix=f"db-{corpus.name}-", dir=tmp))
    cfg, problems = parse_config({"index": {"db_path": str(db)}})
    assert not problems, problems
    svc = Services(cfg, [corpus.root])
    try:
        started = time.perf_counter()
        svc.slots.embedding.get()
        model_s = time.perf_counter() - started
        log(f"[{corpus.name}] indexing {corpus.root} ...")
        started = time.perf_counter()
        files = svc.index.build()
        build_s = time.perf_counter() - started
        crawl = svc.index.last_crawl
        corpus.info.update(
            indexed_files=files,
            chunks=svc.index.stats()["chunks"],
            build_s=round(build_s, 1),
            embed_s=round(crawl.embed_s, 1) if crawl else None,
            chunks_embedded=crawl.chunks_embedded if crawl else None,
            model_load_s=round(model_s, 1),
        )
        log(f"[{corpus.name}] {corpus.info}")
        results = {}
        for name, method in methods_for(svc, corpus.root).items():
            started = time.perf_counter()
            results[name] = run_method(method, corpus.queries)
            log(f"[{corpus.name}] {name}: {time.perf_counter() - started:.1f}s")
        return results
    finally:
        svc.close()
        shutil.rmtree(db, ignore_errors=True)


# -- CoSQA -------------------------------------------------------------------------------


def cosqa_corpus(tmp: Path, quick: bool) -> Corpus:
    """One file per CoSQA function; quick mode keeps 100 queries and 1,500 functions."""
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
    return Corpus("cosqa", root, queries, {"functions": len(ids), "queries": len(queries)})


# -- docstring to function ---------------------------------------------------------------


@dataclass(frozen=True)
class DocTarget:
    rel: str
    sentence: str
    lines: tuple[int, int]  # 0-based inclusive, in the file with docstrings removed


def first_sentence(doc: str) -> str:
    para = " ".join(doc.strip().split("\n\n")[0].split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", para)
    return (match.group(1) if match else para).strip()


def split_keepends(src: str) -> list[str]:
    r"""Lines with their endings, broken where ``ast`` counts lines (\n, \r\n, \r)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", src)


def functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def removable_docstring(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]
) -> tuple[str, int, int] | None:
    """(first sentence, first line, last line) of a docstring that can be cut cleanly."""
    body = fn.body
    if len(body) < 2 or not isinstance(body[0], ast.Expr):
        return None
    doc = body[0]
    if not (isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
        return None
    end = doc.end_lineno or doc.lineno
    own_lines = lines[doc.lineno - 1][: doc.col_offset].strip() == "" and body[1].lineno > end
    body_lines = (fn.end_lineno or fn.lineno) - body[1].lineno + 1
    sentence = first_sentence(ast.get_docstring(fn) or "")
    if not own_lines or body_lines < MIN_BODY_LINES or len(sentence.split()) < MIN_SENTENCE_WORDS:
        return None
    return sentence, doc.lineno, end


def strip_file(path: Path, rel: str) -> list[DocTarget]:
    """Delete qualifying docstrings in place; the functions' new line ranges are re-parsed."""
    src = read_text(path)
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return []
    lines = split_keepends(src)
    cut: dict[int, tuple[str, int, int]] = {}
    for i, fn in enumerate(functions(tree)):
        found = removable_docstring(fn, lines)
        if found:
            cut[i] = found
    if not cut:
        return []
    dropped = {n for _, start, end in cut.values() for n in range(start, end + 1)}
    new_src = "".join(line for n, line in enumerate(lines, 1) if n not in dropped)
    old_fns, new_fns = functions(tree), functions(ast.parse(new_src))
    assert [f.name for f in old_fns] == [f.name for f in new_fns], rel
    path.write_text(new_src)
    targets = []
    for i, (sentence, _, _) in cut.items():
        fn = new_fns[i]
        start = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
        targets.append(DocTarget(rel, sentence, (start - 1, (fn.end_lineno or fn.lineno) - 1)))
    return targets


def docstring_corpus(repo: Path, max_queries: int) -> Corpus:
    """Strip docstrings across the repo and sample unambiguous first sentences as queries."""
    targets: list[DocTarget] = []
    for f in FileFilter(repo).walk():
        if f.rel.endswith(".py"):
            targets += strip_file(f.path, f.rel)
    counts = Counter(t.sentence.lower() for t in targets)
    unique = sorted(
        (t for t in targets if counts[t.sentence.lower()] == 1), key=lambda t: (t.rel, t.lines)
    )
    picked = random.Random(0).sample(unique, min(max_queries, len(unique)))
    queries = [Query(t.sentence, t.rel, t.lines) for t in picked]
    info = {
        "docstrings_removed": len(targets),
        "candidate_queries": len(unique),
        "queries": len(queries),
    }
    return Corpus(repo.name, repo, queries, info)


# -- reporting ---------------------------------------------------------------------------


def table(title: str, rows: dict[str, dict[str, float]], note: str = "") -> str:
    head = "| method | R@1 | R@5 | R@10 | MRR | p50 ms | queries | R@list | hits/query |"
    out = [f"### {title}", "", head, "|" + "---|" * 9]
    for name, s in rows.items():
        cells = [s["r@1"], s["r@5"], s["r@10"], s["mrr@10"], s["p50_ms"], s["queries"]]
        cells += [s["r@list"], s["hits_per_query"]]
        out.append(f"| {name} | " + " | ".join(f"{c}" for c in cells) + " |")
    if note:
        out += ["", note]
    return "\n".join(out) + "\n"


GREP_NOTE = (
    "grep baseline hits are whole files, so in the line-overlap table it is judged by path "
    "only; the file-level table judges every method that way (index hits de-duplicated by "
    "file, keeping each file's first position)."
)


def corpus_sizes(corpora: Sequence[Corpus]) -> str:
    rows = ["| corpus | files | chunks | build s | queries |", "|---|---|---|---|---|"]
    for c in corpora:
        i = c.info
        rows.append(
            f"| {c.name} | {i.get('indexed_files')} | {i.get('chunks')} | {i.get('build_s')} "
            f"| {len(c.queries)} |"
        )
    return "### Corpora\n\n" + "\n".join(rows) + "\n"


# -- main --------------------------------------------------------------------------------


def run_cosqa(tmp: Path, quick: bool, report: list[str], data: dict[str, Any]) -> Corpus:
    corpus = cosqa_corpus(tmp, quick)
    results = evaluate(corpus, tmp)
    rows = summaries(results)
    report.append(table(f"CoSQA ({corpus.info['functions']} functions)", rows))
    data["cosqa"] = {
        "corpus": corpus.info,
        "methods": rows,
        "ranks": {name: r.ranks for name, r in results.items()},
    }
    return corpus


def run_docstrings(
    tmp: Path, quick: bool, repos: int, report: list[str], data: dict[str, Any]
) -> list[Corpus]:
    max_queries = MAX_DOC_QUERIES["quick" if quick else "full"]
    corpora: list[Corpus] = []
    combined: dict[str, Runs] = {}
    per_repo: dict[str, Any] = {}
    failed: list[str] = []
    for spec in SDISTS[:repos]:
        repo = fetch_sdist(spec, tmp)
        if repo is None:
            failed.append(spec)
            continue
        corpus = docstring_corpus(repo, max_queries)
        results = evaluate(corpus, tmp)
        corpora.append(corpus)
        per_repo[spec] = {
            "corpus": corpus.info,
            "methods": summaries(results),
            "file_level": summaries(results, file_level=True),
            "ranks": {name: r.ranks for name, r in results.items()},
        }
        for name, runs in results.items():
            combined.setdefault(name, Runs()).extend(runs)
    data["docstrings"] = {
        "repos": per_repo,
        "failed_downloads": failed,
        "methods": summaries(combined) if combined else {},
        "file_level": summaries(combined, file_level=True) if combined else {},
    }
    if combined:
        names = ", ".join(per_repo)
        report.append(table(f"Docstring to function, line overlap ({names})", summaries(combined)))
        report.append(
            table(
                "Docstring to function, file level",
                summaries(combined, file_level=True),
                GREP_NOTE,
            )
        )
        for spec, figures in per_repo.items():
            report.append(table(f"{spec} (line overlap)", figures["methods"]))
    if failed:
        report.append(f"Downloads that failed: {', '.join(failed)}\n")
    return corpora


def result_name(quick: bool, skip_cosqa: bool, skip_docstrings: bool) -> str:
    """``retrieval_quality`` for a full run; suffixes keep partial runs from overwriting it."""
    name = "retrieval_quality" + ("-quick" if quick else "")
    if skip_cosqa != skip_docstrings:
        name += "-docstrings" if skip_cosqa else "-cosqa"
    return name


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="bounded subsets (~5-10 min)")
    ap.add_argument("--repos", type=int, default=None, help="sdists to use (quick 2, full 3)")
    ap.add_argument("--skip-cosqa", action="store_true")
    ap.add_argument("--skip-docstrings", action="store_true")
    args = ap.parse_args(argv)
    repos = args.repos if args.repos is not None else (2 if args.quick else 3)
    started = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)
    report = [f"## Retrieval quality ({'quick' if args.quick else 'full'} mode)\n"]
    data: dict[str, Any] = {"mode": "quick" if args.quick else "full", "k": K}
    corpora: list[Corpus] = []
    with tempfile.TemporaryDirectory(prefix="lsp-ai-retrieval-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_cosqa:
            corpora.append(run_cosqa(tmp, args.quick, report, data))
        if not args.skip_docstrings and repos > 0:
            corpora += run_docstrings(tmp, args.quick, repos, report, data)
    report.append(corpus_sizes(corpora))
    data["wall_s"] = round(time.perf_counter() - started, 1)
    data["loadavg_1min"] = {"start": load_start, "end": round(os.getloadavg()[0], 2)}
    report.append(
        f"Wall time: {data['wall_s']} s. 1-minute load average at start/end: "
        f"{load_start} / {data['loadavg_1min']['end']} on {os.cpu_count()} cores "
        "(latencies are inflated when other processes compete for the CPU).\n"
    )
    text = "\n".join(report)
    print(text)
    name = result_name(args.quick, args.skip_cosqa, args.skip_docstrings)
    path = write_result(name, data)
    md = results_dir() / f"{name}.md"
    md.write_text(text)
    log(f"wrote {path} and {md}")


if __name__ == "__main__":
    main()
