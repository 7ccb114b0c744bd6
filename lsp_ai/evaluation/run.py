"""`lsp-ai eval`: run the tasks against the configured models and index, and score them.

Everything runs on the parts the server's assistant uses (`Wiring`), configured as the user
configured them, except that the index is a fresh one of the temporary copy, in the same
temporary folder, so the user's own index is neither read nor written. Completion runs each
task twice: with repository context and without it (``completion.repo_context``).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lsp_ai.completion.engine import CompletionRequest
from lsp_ai.concurrency import CancelToken
from lsp_ai.config import Config, config_to_dict
from lsp_ai.evaluation.docs import MIN_FUNCTION_LINES, MIN_SENTENCE_WORDS
from lsp_ai.evaluation.metrics import Hit, Query, first_rank, line_scores, mrr_at, recall_at
from lsp_ai.evaluation.tasks import CompletionTask, RetrievalTask, TaskSet, build_tasks
from lsp_ai.inference.base import ModelError
from lsp_ai.inference.discovery import resolve_gguf
from lsp_ai.inference.factory import embedder_name
from lsp_ai.wiring import Wiring

Progress = Callable[[int, int], None]
KINDS = ("retrieval", "completion")
SIMILARITY = "1 - Levenshtein distance / length of the longer string (first line, stripped)"
# (label, completion.repo_context), in the order each task runs them
CONTEXT_RUNS = (("repo_context", True), ("no_context", False))


class NoTasks(Exception):
    """The repository offers nothing to evaluate; the message says what eval needs."""


@dataclass(frozen=True)
class EvalOptions:
    limit: int = 50  # tasks per kind
    seed: int = 0
    k: int = 10  # search depth: Recall@k and MRR@k
    kinds: tuple[str, ...] = KINDS


def _silent(label: str) -> Progress:
    return lambda done, total: None


def evaluate(
    cfg: Config, root: Path, opts: EvalOptions, progress: Callable[[str], Progress] = _silent
) -> dict[str, Any]:
    """Build the tasks from ``root``, run them, and return the JSON report."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="lsp-ai-eval-") as tmp:
        copy = Path(tmp) / root.name  # the prompt shows the repository's name: keep it
        tasks = build_tasks(
            root,
            copy,
            limit=opts.limit,
            seed=opts.seed,
            exclude=cfg.index.exclude,
            max_file_bytes=cfg.index.max_file_bytes,
        )
        if "retrieval" not in opts.kinds:
            tasks.retrieval = []
        if "completion" not in opts.kinds:
            tasks.completion = []
        _check(root, tasks, opts.kinds)
        timings["tasks"] = time.perf_counter() - started
        run_cfg = replace(
            cfg,
            index=replace(cfg.index, db_path=str(Path(tmp) / "index")),
            completion=replace(cfg.completion, repo_context=True),
        )
        wiring = Wiring(run_cfg, [copy])
        try:
            clock = time.perf_counter()
            wiring.index.build(progress("Indexing a copy"))
            timings["index"] = time.perf_counter() - clock
            clock = time.perf_counter()
            retrieval = _retrieval(wiring, tasks.retrieval, opts.k, progress("Retrieval"))
            timings["retrieval"] = time.perf_counter() - clock
            clock = time.perf_counter()
            completion = _completion(wiring, run_cfg, tasks.completion, progress("Completion"))
            timings["completion"] = time.perf_counter() - clock
            stats = wiring.index.stats()
            models = _models(wiring, cfg)
        finally:
            wiring.close()
    timings["total"] = time.perf_counter() - started
    return {
        "root": str(root),
        "seed": opts.seed,
        "limit": opts.limit,
        "k": opts.k,
        "config": {
            "models": models,
            "settings": config_to_dict(cfg),
            "index": "a temporary copy of ROOT (the files the index would hold, docs blanked)",
            "search": "hybrid (as chat retrieval and `lsp-ai search`)",
            "edit_similarity": SIMILARITY,
        },
        "counts": {
            "files": tasks.files,
            "indexed_files": stats["indexed_files"],
            "chunks": stats["chunks"],
            "documented_functions": tasks.documented,
            "import_lines": tasks.import_lines,
            "retrieval_tasks": len(tasks.retrieval),
            "completion_tasks": len(tasks.completion),
        },
        "metrics": {"retrieval": retrieval[0], "completion": completion[0]},
        "tasks": {"retrieval": retrieval[1], "completion": completion[1]},
        "timings_s": {name: round(s, 2) for name, s in timings.items()},
    }


def _check(root: Path, tasks: TaskSet, kinds: Sequence[str]) -> None:
    if not tasks.files:
        raise NoTasks(f"no files to evaluate in {root} (empty, or everything in it is ignored)")
    if tasks.retrieval or tasks.completion:
        return
    docs = (
        "documented functions (a docstring or doc comment of at least "
        f"{MIN_SENTENCE_WORDS} words on {MIN_FUNCTION_LINES}+ lines of Python, JS/TS, Go or Rust)"
    )
    imports = "lines that use a name imported from another file (Python, JS/TS)"
    if tuple(kinds) == ("retrieval",):
        raise NoTasks(f"no documented functions found in {root}; eval needs {docs}")
    if tuple(kinds) == ("completion",):
        raise NoTasks(f"no imported names used in {root}; completion tasks need {imports}")
    raise NoTasks(
        f"no documented functions or imported names found in {root}; eval needs {docs}, "
        f"or {imports}"
    )


def _latency(ms: Sequence[float]) -> dict[str, float]:
    return {"mean": round(statistics.mean(ms), 1), "p50": round(statistics.median(ms), 1)}


def cutoffs(k: int) -> list[int]:
    """The Recall@ columns reported: 1, 5 and 10 where the search goes that deep, and k."""
    return sorted({c for c in (1, 5, 10) if c <= k} | {k})


def _retrieval(
    wiring: Wiring, tasks: list[RetrievalTask], k: int, progress: Progress
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if not tasks:
        return None, []
    wiring.index.search(tasks[0].query, k)  # untimed: the first search builds the text index
    rows: list[dict[str, Any]] = []
    for n, task in enumerate(tasks, 1):
        started = time.perf_counter()
        hits = wiring.index.search(task.query, k)
        ms = (time.perf_counter() - started) * 1000
        found = [Hit(h.span.path, h.span.start_line, h.span.end_line) for h in hits]
        rank = first_rank(found, Query(task.query, task.path, task.lines))
        top = hits[0].span.lines if hits else None
        rows.append(
            {
                "path": task.path,
                "symbol": task.symbol,
                "lines": [task.lines[0] + 1, task.lines[1] + 1],  # 1-based, as editors show
                "query": task.query,
                "rank": rank,  # of the first hit overlapping the function; 0: not in the top k
                "top_hit": top,
                "ms": round(ms, 1),
            }
        )
        progress(n, len(tasks))
    ranks = [r["rank"] for r in rows]
    metrics: dict[str, Any] = {f"recall@{c}": recall_at(ranks, c) for c in cutoffs(k)}
    metrics[f"mrr@{k}"] = mrr_at(ranks, k)
    metrics["latency_ms"] = _latency([r["ms"] for r in rows])
    return metrics, rows


def _completion(
    wiring: Wiring, cfg: Config, tasks: list[CompletionTask], progress: Progress
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if not tasks:
        return None, []
    # Untimed: the first generation after loading pays for paging the weights in, which
    # would count against whichever run goes first. Not a task: its prompt shares no prefix.
    warm = CompletionRequest("def f():\n    return ", 1, 11, "", "python", True)
    wiring.completion.complete(warm, CancelToken())
    rows: list[dict[str, Any]] = [
        {
            "path": t.path,
            "line": t.line + 1,  # 1-based, as editors show
            "character": t.character,
            "name": t.name,
            "source": t.source,
            "expected": t.expected,
        }
        for t in tasks
    ]
    configs = {
        label: replace(cfg, completion=replace(cfg.completion, repo_context=with_context))
        for label, with_context in CONTEXT_RUNS
    }
    for n, (task, row) in enumerate(zip(tasks, rows, strict=True), 1):
        # Both runs of a task back to back, so that a load spike on the machine hits both
        # alike. Each gets a new completion service (the model and index stay loaded): no
        # prompt position carried over from the previous task, each is as cold as the other.
        for label, config in configs.items():
            wiring.apply_config(config)
            row[label] = _complete(wiring, task)
        progress(n, len(tasks))
    metrics: dict[str, Any] = {}
    for label in configs:
        runs = [row[label] for row in rows]
        metrics[label] = {
            "exact_match": round(sum(r["exact"] for r in runs) / len(runs), 4),
            "edit_similarity": round(statistics.mean(r["similarity"] for r in runs), 4),
            "latency_ms": _latency([r["ms"] for r in runs]),
        }
    return metrics, rows


def _complete(wiring: Wiring, task: CompletionTask) -> dict[str, Any]:
    path = str(wiring.roots[0] / task.path)  # in the copy: its symbols are the index's
    req = CompletionRequest(task.document, task.line, task.character, path, task.language, True)
    started = time.perf_counter()
    result = wiring.completion.complete(req, CancelToken())
    ms = (time.perf_counter() - started) * 1000
    exact, similarity = line_scores(result.text, task.expected)
    return {
        "text": result.text,
        "exact": exact,
        "similarity": round(similarity, 4),
        "ms": round(ms, 1),
        "model_ms": round(result.model_ms, 1),
        "context_snippets": result.context_snippets,
    }


def _models(wiring: Wiring, cfg: Config) -> dict[str, Any]:
    """What each role resolved to: the configured names, and the loaded model's own facts."""
    status = wiring.models.status()
    completion = cfg.models.completion
    if completion.backend == "llama_cpp" and "path" not in status["completion"]:
        # Not loaded (no completion tasks): say which file it would have been.
        try:
            status["completion"]["path"] = str(
                resolve_gguf(completion.model, "models.completion.model", cfg.models.paths)
            )
        except ModelError as exc:
            status["completion"]["error"] = str(exc)
    embedding = cfg.models.embedding
    loaded = wiring.models.embedding.peek()
    return {
        "completion": {"backend": completion.backend, "model": completion.model}
        | status["completion"],
        "embedding": {
            "backend": embedding.backend,
            "model": embedding.model,
            "name": loaded.name if loaded is not None else embedder_name(embedding),
        },
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a few lines for a terminal."""
    counts, metrics, models = report["counts"], report["metrics"], report["config"]["models"]
    comp, emb = models["completion"], models["embedding"]
    comp_name = Path(str(comp.get("path") or comp.get("base_url") or comp["model"])).name
    out = [
        f"eval of {report['root']} (seed {report['seed']}, up to {report['limit']} tasks per "
        f"kind; {counts['indexed_files']} files, {counts['chunks']} chunks indexed)",
        f"models: completion {comp_name} ({comp['backend']}), embedding {emb['name']}",
    ]
    ret = metrics["retrieval"]
    if ret is None:
        out.append("retrieval: no tasks")
    else:
        scores = "  ".join(
            f"{name.upper().replace('RECALL', 'R')} {value:.2f}"
            for name, value in ret.items()
            if name != "latency_ms"
        )
        out.append(
            f"retrieval: {counts['retrieval_tasks']} of {counts['documented_functions']} "
            f"documented functions, queried by their first sentence (docs blanked)"
        )
        out.append(f"  {scores}  (search p50 {ret['latency_ms']['p50']:.0f} ms)")
    comp_metrics = metrics["completion"]
    if comp_metrics is None:
        out.append("completion: no tasks")
    else:
        out.append(
            f"completion: {counts['completion_tasks']} of {counts['import_lines']} lines that "
            "use a name imported from another file"
        )
        out.append(f"  {'':<14}{'exact':>7}{'edit sim':>10}{'mean ms':>9}")
        for label, m in comp_metrics.items():
            out.append(
                f"  {label.replace('_', ' '):<14}{m['exact_match']:>7.2f}"
                f"{m['edit_similarity']:>10.2f}{m['latency_ms']['mean']:>9.0f}"
            )
    out.append(f"({report['timings_s']['total']:.0f} s; --json for every task)")
    return "\n".join(out)
