"""Chat time to first token through the real server, split into its parts.

A ~1,000-file workspace (CoSQA's Python functions, one per file) is indexed by the server,
then `$/chat` is asked CoSQA's questions one after another. For each it reports:
- time to first streamed delta at the client (request sent to first `$/progress` delta);
- the server's split (from LSP_AI_CHAT_TRACE): retrieval (query embedding, hybrid search,
  call-graph expansion), prompt build (budgeting, token counting), and the model's own
  time to first token (prompt evaluation);
- the server's share = retrieval + prompt build (target: under 150 ms p50), and the number
  of prompt tokens per request.

Answers are cut at 16 tokens (`models.chat.max_tokens`): only the first token is timed here.

Run: `python -m benchmarks.chat_ttft [--files 1000] [--questions 10]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from benchmarks.common import (
    EVAL_DATA,
    bench_settings,
    log,
    percentiles,
    wait_indexed,
    write_result,
)
from benchmarks.indexing import cosqa_workspace
from tests.harness.env import isolated_env
from tests.harness.lsp_client import lsp_session


async def run(root: Path, questions: list[str], work: Path) -> list[dict[str, Any]]:
    trace = work / "chat.jsonl"
    settings = bench_settings({"models": {"chat": {"max_tokens": 16}}})
    env = isolated_env(work / "home", settings) | {"LSP_AI_CHAT_TRACE": str(trace)}
    first_delta: dict[str, float] = {}

    def on_progress(params: lsp.ProgressParams) -> None:
        value = params.value
        if isinstance(value, dict) and "delta" in value:
            first_delta.setdefault(str(params.token), time.perf_counter())

    rows = []
    async with lsp_session(root, env) as client:
        client.on(lsp.PROGRESS, on_progress)
        started = time.perf_counter()
        await wait_indexed(client)
        log(f"indexed in {time.perf_counter() - started:.0f} s")
        for i, question in enumerate(questions):
            token = f"q{i}"
            sent = time.perf_counter()
            result = await client.call_async(
                "$/chat", {"message": question, "partialResultToken": token}
            )
            done = time.perf_counter()
            record = json.loads(trace.read_text().splitlines()[-1])
            t = record["timings_ms"]
            rows.append(
                {
                    "question": question,
                    "client_first_delta_ms": (first_delta.get(token, done) - sent) * 1000,
                    "retrieval_ms": t.get("retrieval", 0.0),
                    "prompt_ms": t.get("prompt", 0.0),
                    "model_first_token_ms": t.get("first_token", 0.0),
                    "prompt_tokens": record["prompt_tokens"],
                    "sources": len(result["sources"]),
                }
            )
            log(f"  {i + 1}/{len(questions)}: {rows[-1]['client_first_delta_ms']:.0f} ms")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lsp-ai-ttft-"))
    root = cosqa_workspace(work, args.files)
    data = json.loads((EVAL_DATA / "cosqa" / "cosqa-retrieval-test-500.json").read_text())
    questions = [row["doc"] for row in data[: args.questions]]
    rows = asyncio.run(run(root, questions, work))
    share = [r["retrieval_ms"] + r["prompt_ms"] for r in rows]
    summary = {
        "files": args.files,
        "questions": len(rows),
        "client_first_delta_ms": percentiles([r["client_first_delta_ms"] for r in rows]),
        "retrieval_ms": percentiles([r["retrieval_ms"] for r in rows]),
        "prompt_build_ms": percentiles([r["prompt_ms"] for r in rows]),
        "model_first_token_ms": percentiles([r["model_first_token_ms"] for r in rows]),
        "server_share_ms": percentiles(share),
        "prompt_tokens": percentiles([r["prompt_tokens"] for r in rows]),
    }
    log(json.dumps(summary, indent=2))
    log(f"wrote {write_result('chat_ttft', {**summary, 'rows': rows})}")


if __name__ == "__main__":
    main()
