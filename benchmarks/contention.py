"""Completion time while other processes keep cores busy: auto threads vs every core.

A developer's machine compiles, runs tests and serves a browser while lsp-ai completes.
This runs the completion model (`LlamaCppModel`, the embedded SmolLM2 unless `--model`)
beside 0, 1, ... `cores` processes that spin on a core each, twice per setting: with the
thread count fixed at every core, and in auto mode (`n_threads = 0`), which leaves out the
cores others keep busy. Each request is a cold prompt (~450 tokens, a new first line so the
KV cache holds nothing of it) and 32 generated tokens.

Run: `python -m benchmarks.contention [--reps 2] [--model PATH]`
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, write_result
from lsp_ai.concurrency import CancelToken
from lsp_ai.governor import CpuLoad, cores
from lsp_ai.inference.base import GenerationParams
from lsp_ai.inference.discovery import embedded_gguf
from lsp_ai.inference.llama_cpp import LlamaCppModel

SPIN = "while True: pass"
BODY = "def parse(text):\n" + "    value = text.strip()\n" * 75


def timed(model: LlamaCppModel, n: int) -> tuple[float, int]:
    """Seconds for one cold completion, and the threads it ran on."""
    prompt = f"# request {n}: {time.time_ns()}\n{BODY}    return"
    started = time.perf_counter()
    "".join(model.stream(prompt, GenerationParams(32), CancelToken()))
    return time.perf_counter() - started, model.threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    path = args.model or embedded_gguf()
    n = cores()
    models = {
        "every core": LlamaCppModel(path, role="completion", n_ctx=2048, n_threads=n),
        "auto": LlamaCppModel(path, role="completion", n_ctx=2048, adapt_threads=True),
    }
    levels: dict[str, Any] = {}
    count = 0
    try:
        for busy in range(n + 1):
            spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
            try:
                time.sleep(2 * CpuLoad.MIN_WINDOW_S)  # let the load show in a reading
                row: dict[str, Any] = {}
                for label, model in models.items():
                    runs = []
                    for _ in range(args.reps):
                        count += 1
                        runs.append(timed(model, count))
                    row[label] = {
                        "seconds": [round(s, 2) for s, _ in runs],
                        "median_s": round(statistics.median(s for s, _ in runs), 2),
                        "threads": [t for _, t in runs],
                    }
                row["ratio"] = round(row["auto"]["median_s"] / row["every core"]["median_s"], 2)
                levels[str(busy)] = row
                log(f"contention: {busy} busy processes: {row}")
            finally:
                for p in spinners:
                    p.kill()
                    p.wait()
    finally:
        for model in models.values():
            model.close()
    result = {"model": str(path), "cores": n, "reps": args.reps, "busy_processes": levels}
    log(f"wrote {write_result('contention', result)}")


if __name__ == "__main__":
    main()
