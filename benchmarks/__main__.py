"""The whole benchmark suite in one run: `python -m benchmarks [--quick]`.

Each suite runs in its own process, one after another (never two at once: they would share
two cores), and writes its JSON into one folder, `benchmarks/results/<date>[-quick]/`. Then
`benchmarks.report` turns that folder into `report.md`, `figures.json` (every figure of every
suite) and PNG plots. A suite that fails is reported as failed; the others still run.

Quick mode is sized to finish in under 10 minutes on a 2-core CPU (9 min 57 s measured); the
full sizes took 46 minutes. Models are the embedded defaults unless `--completion-model`,
`--chat-model` or
`--embedding-model` name others (a path or a name `lsp-ai models` lists); `--gpu` offloads
every layer (`n_gpu_layers = -1`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import report
from benchmarks.common import RESULTS, log, machine


@dataclass(frozen=True)
class Suite:
    name: str
    module: str
    quick_args: tuple[str, ...]
    full_args: tuple[str, ...] = ()
    # Extra arguments from the model options, for suites that take them on the command line.
    model_args: Callable[[argparse.Namespace], list[str]] = lambda _: []


def completion_model_args(args: argparse.Namespace) -> list[str]:
    out = ["--n-gpu-layers", "-1"] if args.gpu else []
    return out + (["--model", args.completion_model] if args.completion_model else [])


SUITES = (
    # Quick sizes: the whole quick run took 10 min 39 s on 2 cores before the last cuts.
    Suite(
        "completion",
        "keystroke_replay",
        ("--quick", "--functions", "2"),
        model_args=completion_model_args,
    ),
    Suite("retrieval", "retrieval_quality", ("--quick",)),
    Suite(
        "indexing",
        "indexing",
        ("--packages", "requests==2.32.3", "--saves", "5", "--reopen-files", "100"),
    ),
    Suite("scaling", "scaling", ("--quick", "--sizes", "100", "400")),
    Suite("chat", "chat_ttft", ("--files", "300", "--questions", "4")),
    Suite("memory", "memory", ("--quick", "--files", "200")),
    # Load and soak: 45 s of mixed traffic in quick mode (2.5-3.5 min with indexing and the
    # drain on a busy 2-core machine), 300 s in the full run (8.5 min).
    Suite("soak", "soak", ("--quick",)),
    Suite("governor", "governor", ("--quick",)),
    # 1,500 file updates took 3.5 min for both runs; 450 show the trend in about a minute.
    Suite("store_memory", "store_memory", ("--updates", "450")),
    # 2 min on 2 cores (3 load levels x 2 thread settings x 2 completions); quick: 1 each.
    Suite("contention", "contention", ("--reps", "1")),
    # What an agent reads to find a function: search_code vs grep; quick is this repository's
    # own sources (no registry), full adds five packages and tool latency on 1,000/10,000 files.
    Suite("agent_context", "agent_context", ("--quick",)),
)


def model_overrides(args: argparse.Namespace) -> str:
    """The `[models.*]` tables every suite's server and CLI runs get (empty: the defaults)."""
    tables = []
    for role, model in (
        ("completion", args.completion_model),
        ("chat", args.chat_model),
        ("embedding", args.embedding_model),
    ):
        keys = [f"model = {json.dumps(model)}"] if model else []
        if args.gpu and role != "embedding":
            keys.append("n_gpu_layers = -1")
        if keys:
            tables.append(f"[models.{role}]\n" + "\n".join(keys) + "\n")
    return "\n".join(tables)


def run_suite(suite: Suite, args: argparse.Namespace, out: Path) -> dict[str, object]:
    cmd = [sys.executable, "-m", f"benchmarks.{suite.module}"]
    cmd += list(suite.quick_args if args.quick else suite.full_args) + suite.model_args(args)
    env = dict(os.environ, LSP_AI_BENCH_OUT=str(out), LSP_AI_BENCH_MODELS=model_overrides(args))
    before = set(out.glob("*.json"))
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    log(f"== {suite.name}: {' '.join(cmd[2:])}")
    started = time.perf_counter()
    with (logs / f"{suite.name}.log").open("w") as sink:
        rc = subprocess.run(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT).returncode
    took = round(time.perf_counter() - started, 1)
    files = sorted(p.name for p in set(out.glob("*.json")) - before)
    log(f"   {suite.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {took} s -> {files}")
    return {"command": cmd[2:], "exit": rc, "seconds": took, "files": files}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="bounded sizes, under 10 minutes")
    names = [s.name for s in SUITES]
    ap.add_argument("--only", help=f"comma-separated suites out of {','.join(names)}")
    ap.add_argument("--completion-model", help="a GGUF path or a name `lsp-ai models` lists")
    ap.add_argument("--chat-model")
    ap.add_argument("--embedding-model")
    ap.add_argument("--gpu", action="store_true", help="n_gpu_layers = -1 for the LLM roles")
    ap.add_argument("--out", type=Path, help="results folder (default results/<date>[-quick])")
    args = ap.parse_args()
    chosen = args.only.split(",") if args.only else names
    unknown = set(chosen) - set(names)
    if unknown:
        ap.error(f"unknown suite(s) {', '.join(sorted(unknown))}: choose from {', '.join(names)}")
    out = args.out or RESULTS / (time.strftime("%Y-%m-%d") + ("-quick" if args.quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs = {s.name: run_suite(s, args, out) for s in SUITES if s.name in chosen}
    meta = {
        "machine": machine(),
        "quick": args.quick,
        "models": model_overrides(args) or "embedded defaults",
        "started": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": round(time.perf_counter() - started, 1),
        "suites": runs,
    }
    (out / "runner.json").write_text(json.dumps(meta, indent=2) + "\n")
    path = report.build(out)
    log(f"== {len(runs)} suites in {meta['seconds']} s; report: {path}")
    if any(r["exit"] for r in runs.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
