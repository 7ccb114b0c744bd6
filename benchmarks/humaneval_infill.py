"""HumanEval single-line infilling through lsp-ai's completion engine: pass@1 and latency.

Each task is a Python file with one line missing; the document is `prompt + suffix` with
the cursor where the line goes, and the engine (the same one as the server's and `lsp-ai
complete`: FIM layout from the model's tokens, token budgets, post-processing) fills it.
pass@1 runs `prompt + completion + suffix + test` and `check(entry_point)` in a
subprocess, in a scratch folder, with a timeout. Greedy decoding, one sample per task.

The single-line task is completed with `completion.multiline = "never"`: the missing part
is known to be one line, and that is what the engine shows mid-block.

Data: `../shared/eval-data/human-eval-infilling/` (or LSP_AI_EVAL_DATA); by default the
164-task one-per-problem subset, `--full` for all 1,033 tasks.

Run: `python -m benchmarks.humaneval_infill [--model PATH.gguf] [--limit N] [--full]`
(the embedded SmolLM2 has no FIM tokens, so it sees only the prefix; pass a FIM-trained
GGUF such as Qwen2.5-Coder-1.5B to measure the FIM path).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import EVAL_DATA, log, percentiles, write_result
from lsp_ai.completion.engine import CompletionEngine, CompletionRequest
from lsp_ai.concurrency import CancelToken
from lsp_ai.inference.discovery import embedded_gguf
from lsp_ai.inference.llama_cpp import LlamaCppModel
from lsp_ai.inference.slots import ModelSlot

INFILL = EVAL_DATA / "human-eval-infilling"
TEST_TIMEOUT_S = 10


def load_tasks(full: bool) -> list[dict[str, Any]]:
    if full:
        with gzip.open(INFILL / "HumanEval-SingleLineInfilling.jsonl.gz", "rt") as fh:
            return [json.loads(line) for line in fh]
    with (INFILL / "SingleLine.one_per_problem.jsonl").open() as fh:
        return [json.loads(line) for line in fh]


def passes(task: dict[str, Any], completion: str) -> bool:
    middle = completion if completion.endswith("\n") else completion + "\n"
    program = (
        task["prompt"]
        + middle
        + task["suffix"]
        + "\n"
        + task["test"]
        + f"\ncheck({task['entry_point']})\n"
    )
    with tempfile.TemporaryDirectory(prefix="humaneval-") as scratch:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", program],
                cwd=scratch,
                capture_output=True,
                timeout=TEST_TIMEOUT_S,
                env={"PATH": os.environ.get("PATH", ""), "HOME": scratch},
            )
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def check_harness() -> None:
    """The data's own smoke test: its sample completions must pass at exactly 0.3."""
    problem = json.loads((INFILL / "example_problem.jsonl").read_text().splitlines()[0])
    samples = [json.loads(x) for x in (INFILL / "example_samples.jsonl").read_text().splitlines()]
    rate = sum(passes(problem, s["completion"]) for s in samples) / len(samples)
    log(f"harness check: pass rate {rate:.2f} on the example samples (expected 0.30)")
    if abs(rate - 0.3) > 1e-9:
        raise SystemExit("the pass@1 harness is broken")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="a GGUF file (default: the embedded model)")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--n-gpu-layers", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="first N tasks only")
    parser.add_argument("--full", action="store_true", help="all 1,033 single-line tasks")
    parser.add_argument("--check-harness", action="store_true", help="only the smoke test")
    args = parser.parse_args()
    check_harness()
    if args.check_harness:
        return

    path = args.model or embedded_gguf()
    if path is None or not Path(path).is_file():
        raise SystemExit(f"no model at {path}")
    model = LlamaCppModel(
        Path(path), role="completion", n_ctx=args.n_ctx, n_gpu_layers=args.n_gpu_layers
    )
    engine = CompletionEngine(
        ModelSlot("completion", lambda: model),
        fim_template="auto",
        max_tokens=64,
        multiline="never",
    )
    tasks = load_tasks(args.full)
    if args.limit:
        tasks = tasks[: args.limit]
    log(f"{len(tasks)} tasks on {Path(path).name} ({model.describe().get('fim') or 'no FIM'})")

    rows = []
    for i, task in enumerate(tasks):
        prompt = task["prompt"]
        line = prompt.count("\n")
        character = len(prompt) - (prompt.rfind("\n") + 1)
        req = CompletionRequest(
            prompt + task["suffix"], line, character, f"/humaneval/{i}.py", "python", True
        )
        started = time.perf_counter()
        result = engine.complete(req, CancelToken())
        ms = (time.perf_counter() - started) * 1000
        rows.append(
            {
                "task_id": task["task_id"],
                "completion": result.text,
                "exact": result.text.strip() == task["canonical_solution"].strip(),
                "ms": ms,
                "prompt_tokens": result.usage.prompt_tokens,
                "evaluated_tokens": result.usage.evaluated_tokens,
                "generated_tokens": result.usage.generated_tokens,
            }
        )
        if (i + 1) % 20 == 0:
            log(f"  {i + 1}/{len(tasks)}")
    # Tests run after all generations, two at a time, so they never share the CPU with the model.
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(
            pool.map(lambda r: passes(r[0], r[1]["completion"]), zip(tasks, rows, strict=True))
        )
    for row, ok in zip(rows, outcomes, strict=True):
        row["passed"] = ok
    summary = {
        "tasks": len(rows),
        "pass_at_1": round(sum(outcomes) / max(1, len(rows)), 3),
        "exact_match": round(sum(r["exact"] for r in rows) / max(1, len(rows)), 3),
        "latency_ms": percentiles([r["ms"] for r in rows]),
        "prompt_tokens": percentiles([r["prompt_tokens"] for r in rows]),
        "generated_tokens": percentiles([r["generated_tokens"] for r in rows]),
    }
    log(json.dumps(summary, indent=2))
    name = "humaneval_infill-" + ("embedded" if args.model is None else Path(path).stem)
    out = write_result(
        name,
        {"model": str(path), "fim": model.describe().get("fim"), **summary, "rows": rows},
    )
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
