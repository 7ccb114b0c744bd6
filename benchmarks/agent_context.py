"""What a coding agent reads to find a function: `search_code` against grep, side by side.

For each docstring-to-function query (the retrieval benchmark's corpora: a package's function
docs are blanked out and each doc's first sentence is the query), two ways an agent finds
the function:

- ``search_code``: the MCP tool `lsp-ai mcp` serves, called as an agent would: the query,
  ``k=10`` and a token budget (``max_tokens``: 1,000, 1,500 and 2,000, each measured). What it
  returns, as the server serialises it, is what the agent reads.
- ``grep``: what an agent does without an index. It searches the query's identifiers and
  words (stopwords dropped, as the retrieval benchmark's grep baseline), ranks files by how
  many distinct words they contain, then by matches, and reads a window of lines around
  the matches in the top ``k`` files (``WINDOW`` lines each side, at most ``WINDOWS_PER_FILE``
  windows per file, the lines with the most distinct words first, overlapping windows merged).

Per method: Recall@k (a returned result or window overlaps the function's lines), the tokens
returned per query (counted with the chat model's tokenizer, SmolLM2's), and the latency of
each call. The target: equal or better recall at no more than 40% of grep's tokens.

Tool latency: p50/p95 of each MCP tool through the real `lsp-ai mcp` over stdio (the SDK's
client), on workspaces of ``--sizes`` files (real sources from registry sdists).

Run: ``python -m benchmarks.agent_context [--quick]``; the JSON and a table go to
``<results>/agent_context[-quick].{json,md}``. ``--quick`` is one corpus (this repository's
own sources, docs blanked: no registry needed) and the tool latency on that corpus.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from benchmarks.common import (
    bench_settings,
    log,
    percentiles,
    results_dir,
    source_pool,
    source_workspace,
)
from benchmarks.doc_corpus import FetchError
from benchmarks.retrieval_quality import DOC_SOURCES, Corpus, docstring_corpus, grep_pattern
from lsp_ai.evaluation.docs import sample_targets, strip_docs
from lsp_ai.evaluation.metrics import Hit, Query, first_rank
from lsp_ai.index.discover import FileFilter, read_text

K = 10
BUDGETS = (1_000, 1_500, 2_000)  # search_code's max_tokens, as an agent would pass it
GREP = "grep"
WINDOW = 10  # lines each side of a grep match an agent reads
WINDOWS_PER_FILE = 3
TARGET_SHARE = 0.4  # search_code's tokens at most this share of grep's, at equal recall
QUICK_QUERIES, FULL_QUERIES = 40, 150
FULL_CORPORA = ("requests", "click", "ws", "chi", "bytes")
FULL_SIZES = (1_000, 10_000)
REPO = Path(__file__).resolve().parents[1]

Count = Callable[[str], int]


@dataclass(frozen=True)
class Read:
    """What one call gave the agent: the text it reads and where each piece came from."""

    text: str
    hits: list[Hit]


@dataclass
class Tally:
    ranks: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)

    def add(self, q: Query, got: Read, started: float, count: Count) -> None:
        self.ms.append((time.perf_counter() - started) * 1000)
        self.ranks.append(first_rank(got.hits, q))
        self.tokens.append(count(got.text))

    def summary(self) -> dict[str, Any]:
        # Found anywhere in what the agent read: k results, or the windows of k files.
        found = sum(1 for r in self.ranks if r)
        return {
            "recall@k": round(found / len(self.ranks), 4) if self.ranks else 0.0,
            "tokens_per_query": round(statistics.mean(self.tokens), 1) if self.tokens else 0,
            "tokens_p50": percentiles([float(t) for t in self.tokens]).get("p50", 0),
            "latency_ms": {k: v for k, v in percentiles(self.ms).items() if k in ("p50", "p95")},
            "queries": len(self.ranks),
        }


# -- grep, as an agent without an index ---------------------------------------------------


class GrepAgent:
    """Search the query's words, read windows around the matches in the best files."""

    def __init__(self, root: Path) -> None:
        self.files = [(f.path, f.rel) for f in FileFilter(root).walk()]

    def read(self, query: str, k: int) -> Read:
        pattern = grep_pattern(query)
        if pattern is None:
            return Read("", [])
        ranked: list[tuple[int, int, str, list[str], list[set[str]]]] = []
        for path, rel in self.files:
            try:
                lines = read_text(path).splitlines()
            except OSError:
                continue
            per_line = [{m.lower() for m in pattern.findall(line)} for line in lines]
            found = Counter(w for words_on in per_line for w in words_on)
            if found:
                ranked.append((-len(found), -sum(found.values()), rel, lines, per_line))
        ranked.sort(key=lambda r: r[:3])
        parts: list[str] = []
        hits: list[Hit] = []
        for _, _, rel, lines, per_line in ranked[:k]:
            for start, end in windows(per_line):
                parts.append(f"{rel}:{start + 1}-{end + 1}\n" + "\n".join(lines[start : end + 1]))
                hits.append(Hit(rel, start, end))
        return Read("\n\n".join(parts), hits)


def windows(per_line: Sequence[set[str]]) -> list[tuple[int, int]]:
    """Merged line windows around the lines with the most distinct query words."""
    best = sorted((i for i, w in enumerate(per_line) if w), key=lambda i: (-len(per_line[i]), i))
    spans = sorted(
        (max(0, i - WINDOW), min(len(per_line) - 1, i + WINDOW)) for i in best[:WINDOWS_PER_FILE]
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# -- search_code, through the MCP tool's own code -----------------------------------------


class SearchCode:
    """The `search_code` tool as `lsp-ai mcp` runs it, on an assistant over `root`."""

    def __init__(self, root: Path, db: Path) -> None:
        from lsp_ai.assistant import Assistant

        self.assistant = Assistant([root], init_options=bench_settings(db=db))

    async def build(self) -> None:
        await self.assistant.index()

    async def read(self, query: str, k: int, budget: int) -> Read:
        """The tool's answer, as the MCP server serialises it for the agent's model."""
        from lsp_ai.mcp_server import TOOLS, SearchArgs

        args = SearchArgs(query=query, k=k, path_glob=None, language=None, max_tokens=budget)
        data = await TOOLS["search_code"].call(self.assistant, args)
        hits = [_located(r["location"]) for r in data["results"]]
        return Read(json.dumps(data, ensure_ascii=False), hits)

    def close(self) -> None:
        self.assistant.close()


def _located(location: str) -> Hit:
    """`path:12-20` (1-based, as the tool shows lines) as a 0-based hit."""
    path, _, lines = location.rpartition(":")
    start, _, end = lines.partition("-")
    return Hit(path, int(start) - 1, int(end) - 1)


# -- corpora ------------------------------------------------------------------------------


def own_corpus(tmp: Path, max_queries: int) -> Corpus:
    """This repository's Python sources with their docs blanked: no registry needed."""
    root = tmp / "lsp-ai"
    shutil.copytree(REPO / "lsp_ai", root / "lsp_ai", ignore=shutil.ignore_patterns("__pycache__"))
    targets, sentences, removed = strip_docs(root, "python")
    picked, unique = sample_targets(targets, sentences, max_queries)
    info = {"kind": "docstrings", "language": "python", "source": {"registry": "this repository"},
            "docs_removed": dict(removed), "candidate_queries": unique}  # fmt: skip
    return Corpus("lsp-ai", root, [Query(t.sentence, t.rel, t.lines) for t in picked], info)


def corpora(quick: bool, tmp: Path) -> tuple[list[Corpus], dict[str, str]]:
    if quick:
        return [own_corpus(tmp, QUICK_QUERIES)], {}
    found, failed = [own_corpus(tmp, FULL_QUERIES)], {}
    for src in (s for s in DOC_SOURCES if s.name in FULL_CORPORA):
        try:
            found.append(docstring_corpus(src, tmp, FULL_QUERIES))
        except FetchError as exc:
            failed[src.name] = str(exc)
    return found, failed


# -- the comparison -----------------------------------------------------------------------


def corpus_db(tmp: Path, corpus: Corpus) -> Path:
    return tmp / f"db-{corpus.name}"


def token_counter() -> Count:
    """SmolLM2's tokenizer (vocabulary only): what the embedded chat model would read."""
    import llama_cpp

    from lsp_ai.inference.discovery import embedded_gguf

    llm = llama_cpp.Llama(str(embedded_gguf()), vocab_only=True, verbose=False)
    return lambda text: len(llm.tokenize(text.encode(), add_bos=False, special=False))


def method_name(budget: int) -> str:
    return f"search_code@{budget}"


async def compare(
    corpus: Corpus, tmp: Path, count: Count, budgets: Sequence[int]
) -> dict[str, Any]:
    """Every query through grep and through `search_code` at each token budget."""
    log(f"{corpus.name}: {len(corpus.queries)} queries; indexing")
    search = SearchCode(corpus.root, corpus_db(tmp, corpus))
    grep = GrepAgent(corpus.root)
    tallies = {method_name(b): Tally() for b in budgets} | {GREP: Tally()}
    started = time.perf_counter()
    try:
        await search.build()
        build_s = round(time.perf_counter() - started, 1)
        await search.read(corpus.queries[0].text, K, budgets[0])  # warm-up: first FTS use
        for q in corpus.queries:
            for budget in budgets:
                t0 = time.perf_counter()
                got = await search.read(q.text, K, budget)
                tallies[method_name(budget)].add(q, got, t0, count)
            t0 = time.perf_counter()
            tallies[GREP].add(q, grep.read(q.text, K), t0, count)
    finally:
        search.close()
    methods = {n: t.summary() for n, t in tallies.items()}
    return {"methods": methods, "verdicts": verdicts(methods), "build_s": build_s, **corpus.info}


def verdicts(methods: dict[str, Any]) -> dict[str, Any]:
    """Each search_code budget against grep: its share of grep's tokens, recall difference."""
    g = methods[GREP]
    out = {}
    for name, s in methods.items():
        if name == GREP:
            continue
        share = s["tokens_per_query"] / g["tokens_per_query"] if g["tokens_per_query"] else 0.0
        out[name] = {
            "token_share": round(share, 3),
            "recall_delta": round(s["recall@k"] - g["recall@k"], 4),
            "met": s["recall@k"] >= g["recall@k"] and share <= TARGET_SHARE,
        }
    return out


def pooled(per_corpus: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Query-weighted means over the corpora."""
    methods: dict[str, Any] = {}
    for method in next(iter(per_corpus.values()))["methods"]:
        rows = [c["methods"][method] for c in per_corpus.values()]
        n = sum(r["queries"] for r in rows)

        def mean(key: str, rows: list[dict[str, Any]] = rows, n: int = n) -> float:
            return sum(r[key] * r["queries"] for r in rows) / n

        methods[method] = {
            "recall@k": round(mean("recall@k"), 4),
            "tokens_per_query": round(mean("tokens_per_query"), 1),
            "queries": n,
        }
    return {"methods": methods, "verdicts": verdicts(methods)}


# -- tool latency through the real `lsp-ai mcp` -------------------------------------------

LATENCY_CALLS = 30  # per tool


async def tool_latency(root: Path, home: Path, db: Path) -> dict[str, Any]:
    """Index `root` into `db`, then time each MCP tool over stdio, as an agent's client sees it."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    from tests.harness.env import isolated_env

    env = isolated_env(home, bench_settings(db=db))
    started = time.perf_counter()
    index = await asyncio.to_thread(
        _run_quiet, [sys.executable, "-m", "lsp_ai", "index", str(root)], env
    )
    index_s = round(time.perf_counter() - started, 1)
    files = [p for p in sorted(root.rglob("*.py")) if p.is_file() and p.stat().st_size > 200]
    words = ["parse", "request", "read the configuration", "encode json", "retry", "close"]
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "lsp_ai", "mcp", "--root", str(root)], env=env
    )
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        status = await session.call_tool("index_status", {})
        names = _symbol_names(await session.call_tool("outline", {"path": _rel(files[0], root)}))
        for i in range(LATENCY_CALLS):
            rel = _rel(files[i % len(files)], root)
            name = names[i % len(names)] if names else "main"
            calls: dict[str, dict[str, Any]] = {
                "search_code": {"query": words[i % len(words)], "k": K},
                "find_symbol": {"name": name},
                "callers": {"name": name},
                "outline": {"path": rel},
                "read_code": {"path": rel, "start_line": 1, "end_line": 40},
                "index_status": {},
            }
            for tool, args in calls.items():
                t0 = time.perf_counter()
                result = await session.call_tool(tool, args)
                timings.setdefault(tool, []).append((time.perf_counter() - t0) * 1000)
                if result.is_error:  # timed all the same, and reported
                    errors.append(f"{tool}({args}): {_text(result)[:200]}")
    return {
        "files": index.get("files", len(files)),
        "chunks": index.get("chunks"),
        "index_s": index_s,
        "status": _text(status)[:400],
        "tools_ms": {t: percentiles(v) for t, v in timings.items()},
        "tool_errors": errors[:10],
    }


def _run_quiet(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """`lsp-ai index`, its summary line parsed ("indexed N files, M chunks in ...")."""
    import subprocess

    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=7200)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr[-500:]}")
    found = re.search(r"indexed (\d+) files, (\d+) chunks", out.stdout)
    return {"files": int(found[1]), "chunks": int(found[2])} if found else {}


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def _symbol_names(result: Any) -> list[str]:
    """Definition names from an `outline` result's structured content."""
    return [d["name"] for d in (result.structured_content or {}).get("definitions", [])]


# -- the run ------------------------------------------------------------------------------


def table(per_corpus: dict[str, dict[str, Any]], pooled_row: dict[str, Any]) -> str:
    lines = [
        "| corpus | method | queries | recall | tokens/query | share of grep's tokens | p50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [*per_corpus.items(), ("**all**", pooled_row)]
    for name, c in rows:
        for method, m in c["methods"].items():
            share = c["verdicts"].get(method, {}).get("token_share", 1.0)
            p50 = m.get("latency_ms", {}).get("p50", "")
            lines.append(
                f"| {name} | {method} | {m['queries']} | {m['recall@k']:.3f} "
                f"| {m['tokens_per_query']:.0f} | {share:.2f} | {p50} |"
            )
    met = [m for m, v in pooled_row["verdicts"].items() if v["met"]]
    lines.append(
        f"\nTarget (recall at least grep's, at most {TARGET_SHARE:.0%} of its tokens): "
        + (f"met by {', '.join(met)}." if met else "not met at any budget.")
    )
    return "\n".join(lines)


def latency_table(latency: dict[str, dict[str, Any]]) -> str:
    lines = ["| files | index s | tool | p50 ms | p95 ms |", "|---|---|---|---|---|"]
    for size, run in latency.items():
        for tool, p in run.get("tools_ms", {}).items():
            lines.append(f"| {size} | {run['index_s']} | {tool} | {p['p50']} | {p['p95']} |")
    return "\n".join(lines)


async def run(
    quick: bool,
    budgets: Sequence[int],
    sizes: Sequence[int],
    work: Path | None = None,
    corpora_too: bool = True,
) -> dict[str, Any]:
    """`work`: keep the latency workspaces and their indexes there (a re-run reuses them)."""
    count = token_counter()
    with tempfile.TemporaryDirectory(prefix="agent-context-") as tmp_name:
        tmp = Path(tmp_name)
        found, failed = corpora(quick, tmp) if corpora_too else ([], {})
        per_corpus = {c.name: await compare(c, tmp, count, budgets) for c in found}
        latency: dict[str, Any] = {}
        if quick and found:  # the local corpus itself: nothing to fetch
            # The index `compare` built: `lsp-ai index` finds it current.
            corpus = found[0]
            latency[corpus.name] = await tool_latency(
                corpus.root, tmp / "home-latency", corpus_db(tmp, corpus)
            )
        pool = source_pool(6_000) if sizes else []
        kept = work or tmp
        for size in sizes:
            root = kept / f"ws-{size}"
            if not root.is_dir():
                source_workspace(pool, root, size)
            log(f"tool latency on {size} files")
            home, db = kept / f"home-{size}", kept / f"db-{size}"
            latency[str(size)] = await tool_latency(root, home, db)
    return {
        "mode": "quick" if quick else "full",
        "k": K,
        "budgets": list(budgets),
        "window_lines": WINDOW,
        "windows_per_file": WINDOWS_PER_FILE,
        "corpora": per_corpus,
        "pooled": pooled(per_corpus) if per_corpus else {},
        "failed": failed,
        "latency": latency,
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.agent_context")
    ap.add_argument("--quick", action="store_true", help="one local corpus, no registry")
    ap.add_argument("--budgets", default=",".join(map(str, BUDGETS)), help="max_tokens values")
    ap.add_argument("--sizes", help="workspace sizes for tool latency, comma-separated")
    ap.add_argument("--work", type=Path, help="keep the latency workspaces and indexes here")
    ap.add_argument("--no-corpora", action="store_true", help="tool latency only")
    args = ap.parse_args(argv)
    default: Sequence[int] = () if args.quick else FULL_SIZES
    sizes = [int(s) for s in args.sizes.split(",") if s] if args.sizes is not None else default
    started = time.perf_counter()
    budgets = [int(b) for b in args.budgets.split(",") if b]
    data = asyncio.run(run(args.quick, budgets, sizes, args.work, not args.no_corpora))
    data["wall_s"] = round(time.perf_counter() - started, 1)
    name = "agent_context-quick" if args.quick else "agent_context"
    out = results_dir()
    md = "# Agent context: search_code vs grep\n\n"
    if data["corpora"]:
        md += f"{table(data['corpora'], data['pooled'])}\n"
    if data["latency"]:
        md += f"\n## MCP tool latency (stdio)\n\n{latency_table(data['latency'])}\n"
    (out / f"{name}.md").write_text(md)
    from benchmarks.common import write_result

    path = write_result(name, data)
    print(md)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
