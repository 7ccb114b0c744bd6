"""The server's own overhead per keystroke, this tree against an older commit, in one run.

Runs the keystroke replay (`--quick`, the `repo_context` run: the one with the raw
llama-cpp-python call on the same prompts) alternately against the server of a base commit
and the server of this working tree, `--rounds` times each, on the same typing. The replay
code is this tree's in both; only the `lsp_ai` package differs (the base is checked out into a
temporary git worktree and put first on the path, for the replay process and the server it
starts). Per round it reports, over the requests the model answered:
- server time minus model time (`server_ms - model_ms`): what the server adds around the model;
- client latency minus the raw call on the same prompt (`client_ms - raw_ms`).

Run: `python -m benchmarks.overhead_ab [--base e8a8c5a] [--rounds 2]`
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import log, write_result

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("server_minus_model_ms", "client_minus_raw_ms", "raw_llama_ms")


def package_tree(work: Path, label: str, lsp_ai: Path) -> Path:
    """A folder holding this tree's benchmarks and tests beside the given `lsp_ai` package."""
    tree = work / label
    tree.mkdir()
    for name in ("benchmarks", "tests", "pyproject.toml"):
        (tree / name).symlink_to(ROOT / name)
    (tree / "lsp_ai").symlink_to(lsp_ai)
    return tree


def replay(tree: Path, out: Path) -> dict[str, Any]:
    """One quick replay with `tree` first on the path; its repo_context summary."""
    env = dict(os.environ, LSP_AI_BENCH_OUT=str(out), PYTHONPATH=str(tree))
    cmd = [sys.executable, "-m", "benchmarks.keystroke_replay", "--quick", "--runs", "repo_context"]
    subprocess.run(cmd, cwd=tree, env=env, check=True)
    (result,) = out.glob("keystroke_replay*.json")
    summary: dict[str, Any] = json.loads(result.read_text())["repo_context"]
    return {k: summary.get(k, {}) for k in FIGURES} | {"n": summary.get("model_requests")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="e8a8c5a", help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lsp-ai-ab-"))
    base = work / "base-checkout"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base),
                    args.base], check=True)  # fmt: skip
    try:
        trees = {
            "base": package_tree(work, "base", base / "lsp_ai"),
            "this": package_tree(work, "this", ROOT / "lsp_ai"),
        }
        rounds: list[dict[str, Any]] = []
        for i in range(args.rounds):
            for label, tree in trees.items():
                log(f"round {i + 1}: {label}")
                rounds.append(
                    {"round": i + 1, "server": label} | replay(tree, work / f"{label}{i}")
                )
                log(json.dumps(rounds[-1]))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)])
        shutil.rmtree(work, ignore_errors=True)
    path = write_result("overhead_ab", {"base": args.base, "rounds": rounds})
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
