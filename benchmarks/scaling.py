"""How full-index time and peak memory grow with the size of a workspace.

Workspaces of 100, 1,000 and 10,000 files (`--quick`: 100 and 1,000) are made of real code
fetched now: the small Python files (at most `--max-bytes`, so that 10,000 files stay a
~20-minute run) of a few PyPI sdists (`common.SOURCE_PACKAGES`). When a size needs more
files than the sdists have, the pool is copied again into numbered folders, each copy with
its own path and a trailing comment naming the copy (`common.source_workspace`): the index
embeds a chunk once per distinct text, so copies that were identical would be free.
`chunks_reused` in the results shows that nothing was deduplicated.

Each size is indexed from scratch, into its own index folder, by a fresh process with its own
HOME, XDG folders and config (`tests.harness.env.isolated_env`). That process does what
`lsp-ai index ROOT` does (`IndexService.build` on the config the CLI would load), and times
its parts by wrapping the methods the crawl calls:

- `seconds`: the whole process, start to exit (interpreter, imports, model load, crawl);
  `crawl_s`: `build` alone, after the store was opened and MiniLM loaded (`open_s`);
- stages of the crawl: parse (tree-sitter chunking), vector_lookup (stored vectors by
  content hash), embed_model (MiniLM), write (LanceDB commits), ctags, save_symbols, other;
- `peak_rss_mb`: the process's peak resident set, from `os.wait4` (ru_maxrss);
- RSS (/proc/self/status) after imports, with the model loaded, along the crawl
  (`rss_by_files`) and after it; then what the crawl's state holds: RSS given back when the
  symbol table is dropped, when the LanceDB handles are closed, and when the model is
  dropped (each after gc and malloc_trim, so freed memory leaves the process).

Growth: time per chunk and RSS at each size against the smallest (`vs_smallest`), and a
verdict per metric: `linear` is false where it grew more than 1.5x from the smallest to
the largest size. `findings` says, from the measured parts, where time and memory went.

Run: `python -m benchmarks.scaling [--quick] [--sizes 100 1000 10000] [--max-bytes 3000]`
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    SOURCE_PACKAGES,
    bench_settings,
    log,
    proc_memory_mb,
    source_pool,
    source_workspace,
    write_result,
)
from tests.harness.env import isolated_env

SIZES = [100, 1_000, 10_000]
QUICK_SIZES = [100, 1_000]
MAX_BYTES = 3_000  # ~3 chunks a file: 10,000 files are ~30,000 chunks
QUICK_MAX_BYTES = 2_000  # ~2.4 chunks a file: quick is ~3 minutes
LINEAR_LIMIT = 1.5
MIN_SHARE = 0.02  # findings skip stages under this share of the crawl
SAMPLE_EVERY_S = 0.5  # RSS along the crawl, at most this often
REPO = Path(__file__).resolve().parents[1]
STAGES = ("parse", "vector_lookup", "embed_model", "write", "ctags", "save_symbols", "other")


# -- the measured process: one per size -----------------------------------------------------


def _timed(obj: Any, name: str, totals: dict[str, float], key: str) -> None:
    """Wrap `obj.name` so the time spent in it adds up in `totals[key]`."""
    inner: Callable[..., Any] = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - started

    setattr(obj, name, wrapper)


def _settled_rss() -> float:
    """RSS after freed memory went back to the system (gc, then glibc's malloc_trim)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return proc_memory_mb(os.getpid())["rss_mb"]


def _size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def worker(root: Path, out: Path) -> None:
    """Index `root` as `lsp-ai index` does (cli.cmd_index), instrumented; results to `out`."""
    from lsp_ai.config import load_config
    from lsp_ai.index.symbols import SymbolTable
    from lsp_ai.wiring import Wiring

    me = os.getpid()
    cfg, problems = load_config(root)
    if problems:
        raise SystemExit(f"config: {problems}")
    wiring = Wiring(cfg, [root])
    rss = {"imported": proc_memory_mb(me)["rss_mb"]}
    started = time.perf_counter()
    # What `build` does first: open LanceDB, and load MiniLM (a new database needs its size).
    indexes = wiring.index.indexes()
    open_s = time.perf_counter() - started
    rss["model_ready"] = proc_memory_mb(me)["rss_mb"]
    totals: dict[str, float] = defaultdict(float)
    _timed(indexes[0].embedder, "embed", totals, "embed_model")  # one embedder for all roots
    for idx in indexes:
        _timed(idx.store, "known_vectors", totals, "vector_lookup")
        _timed(idx, "_ctags", totals, "ctags")
        _timed(idx, "_save_symbols", totals, "save_symbols")
    samples: list[dict[str, float]] = []
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= SAMPLE_EVERY_S or done == total:
            last[0] = now
            mem = proc_memory_mb(me)["rss_mb"]
            samples.append({"s": round(now - build_started, 2), "files": done, "rss_mb": mem})

    build_started = time.perf_counter()
    files = wiring.index.build(progress)
    crawl_s = time.perf_counter() - build_started
    crawl = wiring.index.last_crawl
    assert crawl is not None
    chunks = wiring.index.stats()["chunks"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss["after_build"] = proc_memory_mb(me)["rss_mb"]
    rss["after_build_settled"] = _settled_rss()
    for idx in indexes:
        idx.symbols = SymbolTable()
    rss["without_symbol_table"] = _settled_rss()
    wiring.index.close()
    rss["without_lancedb"] = _settled_rss()
    wiring.models.embedding.close()
    rss["without_model"] = _settled_rss()
    db = indexes[0].db_dir
    stages = {
        "parse": crawl.parse_s,
        "vector_lookup": totals["vector_lookup"],
        "embed_model": totals["embed_model"],
        "write": crawl.write_s,
        "ctags": totals["ctags"],
        "save_symbols": totals["save_symbols"],
    }
    stages["other"] = crawl_s - sum(stages.values())
    result = {
        "indexed_files": files,
        "chunks": chunks,
        "chunks_embedded": crawl.chunks_embedded,
        "chunks_reused": crawl.chunks_reused,
        "open_s": round(open_s, 2),
        "crawl_s": round(crawl_s, 2),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "worker_peak_rss_mb": round(peak_mb, 1),
        "rss_mb": rss,
        "rss_by_files": samples,
        "db_mb": _size_mb(db),
        "symbols_json_mb": round((db / "symbols.json").stat().st_size / 2**20, 1),
    }
    out.write_text(json.dumps(result))


# -- the driver -----------------------------------------------------------------------------


def measure(size: int, pool: list[tuple[Path, str]], work: Path) -> dict[str, Any]:
    """Index a fresh `size`-file workspace in a fresh process; its row of the results."""
    here = work / f"size-{size}"
    root = here / "workspace"
    workspace = source_workspace(pool, root, size)
    env = isolated_env(here / "home", bench_settings(db=here / "db"))
    out, errors = here / "worker.json", here / "worker.stderr"
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--worker", str(root), str(out)]
    started = time.perf_counter()
    with errors.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=err, stderr=err)
        # wait4, not wait(): it gives this child's own peak RSS.
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"index of {size} files failed:\n{errors.read_text()[-3000:]}")
    got = json.loads(out.read_text())
    chunks = got["chunks"]
    rss = got["rss_mb"]
    peak = round(usage.ru_maxrss / 1024, 1)
    return {
        "files": size,
        **got,
        "workspace": workspace,
        "seconds": round(seconds, 2),
        "files_per_s": round(got["indexed_files"] / seconds, 2),
        "chunks_per_s": round(chunks / seconds, 2),
        "crawl_chunks_per_s": round(chunks / got["crawl_s"], 2),
        "ms_per_chunk": round(seconds * 1000 / chunks, 2),
        "crawl_ms_per_chunk": round(got["crawl_s"] * 1000 / chunks, 2),
        "stage_ms_per_chunk": {k: round(v * 1000 / chunks, 3) for k, v in got["stages_s"].items()},
        "peak_rss_mb": peak,
        # What the crawl added on top of the interpreter, libraries and loaded model.
        "crawl_rss_mb": round(peak - rss["model_ready"], 1),
        "held_after_build_mb": {
            "allocator_free": round(rss["after_build"] - rss["after_build_settled"], 1),
            "symbol_table": round(rss["after_build_settled"] - rss["without_symbol_table"], 1),
            "lancedb": round(rss["without_symbol_table"] - rss["without_lancedb"], 1),
            "embedding_model": round(rss["without_lancedb"] - rss["without_model"], 1),
            "rest": rss["without_model"],
        },
        "transient_mb": round(peak - rss["after_build"], 1),
    }


def _metrics(row: dict[str, Any]) -> dict[str, float]:
    """The values whose growth is judged: per-chunk times and memory."""
    out = {"ms_per_chunk": row["ms_per_chunk"], "crawl_ms_per_chunk": row["crawl_ms_per_chunk"]}
    out |= {f"{k}_ms_per_chunk": v for k, v in row["stage_ms_per_chunk"].items()}
    out |= {"peak_rss_mb": row["peak_rss_mb"], "crawl_rss_mb": row["crawl_rss_mb"]}
    return out


def _ratio(value: float, base: float) -> float | None:
    return round(value / base, 3) if base > 0 else None


def growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per metric: smallest and largest size, their ratio, and whether that is linear."""
    first, last = rows[0], rows[-1]
    base, end = _metrics(first), _metrics(last)
    verdicts = []
    for metric, value in end.items():
        ratio = _ratio(value, base[metric])
        verdict = {
            "metric": metric,
            "smallest": {"files": first["files"], "value": base[metric]},
            "largest": {"files": last["files"], "value": value},
            "ratio": ratio,
            "linear": ratio is None or ratio <= LINEAR_LIMIT,
        }
        stage = metric.removesuffix("_ms_per_chunk")
        if stage in STAGES:  # a stage that grew but takes no time hardly matters
            verdict["share_of_crawl"] = round(last["stages_s"][stage] / last["crawl_s"], 3)
        verdicts.append(verdict)
    return verdicts


def findings(rows: list[dict[str, Any]], verdicts: list[dict[str, Any]]) -> list[str]:
    """Where time and memory went, step by step between sizes, from the measured parts."""
    lines = []
    for a, b in itertools.pairwise(rows):
        step = f"{a['files']} -> {b['files']} files"
        ha, hb = a["held_after_build_mb"], b["held_after_build_mb"]
        parts = ", ".join(
            f"{k} {ha[k]:.1f} -> {hb[k]:.1f}"
            for k in ("symbol_table", "lancedb", "allocator_free", "embedding_model")
        )
        along = b["rss_by_files"]
        lines.append(
            f"RSS {step}: peak {a['peak_rss_mb']:.0f} -> {b['peak_rss_mb']:.0f} MB "
            f"({b['peak_rss_mb'] - a['peak_rss_mb']:+.0f}); with the model loaded before the "
            f"crawl {a['rss_mb']['model_ready']:.0f} -> {b['rss_mb']['model_ready']:.0f}; "
            f"at {b['files']} files, along the crawl {along[0]['rss_mb']:.0f} (file 1) -> "
            f"{along[-1]['rss_mb']:.0f} (last); held after the crawl (MB): {parts}; "
            f"transient (peak - after the crawl) "
            f"{a['transient_mb']:.0f} -> {b['transient_mb']:.0f}; on disk "
            f"{a['db_mb']:.0f} -> {b['db_mb']:.0f} MB"
        )
        sa, sb = a["stage_ms_per_chunk"], b["stage_ms_per_chunk"]
        grew = [
            k
            for k in STAGES
            if sa[k] > 0
            and sb[k] / sa[k] > LINEAR_LIMIT
            and b["stages_s"][k] >= MIN_SHARE * b["crawl_s"]
        ]
        if grew:
            detail = ", ".join(f"{k} {sa[k]:.2f} -> {sb[k]:.2f}" for k in grew)
            lines.append(f"time per chunk {step}, grew > {LINEAR_LIMIT}x (ms): {detail}")
    for v in verdicts:
        if not v["linear"]:
            s, e = v["smallest"], v["largest"]
            lines.append(
                f"not linear: {v['metric']} {s['value']} at {s['files']} files -> "
                f"{e['value']} at {e['files']} files ({v['ratio']}x)"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 small files")
    parser.add_argument("--sizes", type=int, nargs="+", help="files per workspace")
    parser.add_argument("--max-bytes", type=int, help="largest source file taken")
    parser.add_argument("--packages", nargs="+", default=SOURCE_PACKAGES)
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    sizes = sorted(args.sizes or (QUICK_SIZES if args.quick else SIZES))
    max_bytes = args.max_bytes or (QUICK_MAX_BYTES if args.quick else MAX_BYTES)
    pool = source_pool(max_bytes, args.packages)
    log(f"{len(pool)} source files of at most {max_bytes} bytes from {', '.join(args.packages)}")
    work = Path(tempfile.mkdtemp(prefix="lsp-ai-scaling-"))
    rows: list[dict[str, Any]] = []
    try:
        for size in sizes:
            row = measure(size, pool, work)
            rows.append(row)
            log(
                f"{size} files: {row['chunks']} chunks in {row['seconds']:.1f} s "
                f"(crawl {row['crawl_s']:.1f} s, {row['crawl_chunks_per_s']:.1f} chunks/s), "
                f"peak RSS {row['peak_rss_mb']:.0f} MB, "
                f"{row['chunks_reused']} chunks reused"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)  # workspaces and indexes: hundreds of MB
    for row in rows:
        base = _metrics(rows[0])
        row["vs_smallest"] = {k: _ratio(v, base[k]) for k, v in _metrics(row).items()}
    verdicts = growth(rows)
    notes = findings(rows, verdicts)
    for line in notes:
        log(line)
    data = {
        "packages": args.packages,
        "max_file_bytes": max_bytes,
        "pool_files": len(pool),
        "linear_limit": LINEAR_LIMIT,
        "sizes": rows,
        "growth": verdicts,
        "findings": notes,
    }
    log(f"wrote {write_result('scaling', data)}")


if __name__ == "__main__":
    main()
