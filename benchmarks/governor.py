"""Completion latency while a full index runs, against an idle server, and memory vs budget.

The resource governor (lsp_ai/governor.py) makes indexing wait while the user types. This
measures what that buys, on the real `lsp-ai serve` with the embedded models:

For each setting (the governor as shipped, `resources.quiet_ms = 800`; and `quiet_ms = 0`,
where indexing only waits for a completion in flight, not for a pause in typing), a server
starts on a fresh workspace of real Python files (`--files`, from the PyPI sdists of
`benchmarks.common.source_pool`) with an empty index, so it begins a full crawl at once.
Once the completion and embedding models are loaded, a typist types `--keys` characters of
real lines of one file (a line is cleared, then typed back a character at a time, every
`--interval` seconds at most), and after each keystroke the client asks for an inline
completion and waits for it, as an editor does: the `busy` phase, while the crawl runs.
Then the crawl finishes and the typist types the same lines again: the `idle` phase.
Speculative completion is off and temperature is 0, so both phases run the model for the
same keystrokes (the others are answered by typing through the last suggestion).

Reported per setting and phase: completion latency p50/p95/mean (ms) of every keystroke as
the client saw it, and of the requests that ran the model (server time, from
`LSP_AI_COMPLETION_TRACE`; the rest were answered by typing through a suggestion in a few
ms), the busy/idle ratios (the target: within 1.5x), whether the crawl was still running
when the busy phase ended and how many files it indexed meanwhile, crawl time, and the
server's RSS (sampled every 0.1 s) against `resources.max_rss_mb` (`--budget`, MB), with the
governor's actions.

Run: `python -m benchmarks.governor [--quick] [--files N] [--keys N] [--budget MB]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from benchmarks.common import (
    bench_settings,
    did_change,
    log,
    percentiles,
    source_pool,
    source_workspace,
    write_result,
)
from benchmarks.memory import Sampler, server_pid
from tests.harness.env import isolated_env
from tests.harness.lsp_client import LspClient, lsp_session

FILES, QUICK_FILES = 400, 150
KEYS, QUICK_KEYS = 60, 30
INTERVAL_S = 0.25  # at most one keystroke per this: ~4 characters a second
BUDGET_MB = 1500
SETTINGS = {"governor": 800, "no typing pause": 0}  # label -> resources.quiet_ms


async def status(client: LspClient) -> dict[str, Any]:
    result: Any = await client.command_async("lsp-ai.status")
    return dict(result)


def typing_lines(text: str) -> list[int]:
    """Lines worth typing: real code, 30 to 90 characters."""
    return [
        i
        for i, line in enumerate(text.split("\n"))
        if 30 <= len(line.strip()) <= 90 and not line.lstrip().startswith(("#", '"', "'"))
    ]


def typing_file(root: Path) -> Path:
    """The file of the workspace with the most lines to type."""
    files = sorted(root.glob("copy000/**/*.py"))
    return max(files, key=lambda p: len(typing_lines(p.read_text())))


class Typist:
    """Types lines of one open document back in, asking for a completion after each key."""

    def __init__(self, client: LspClient, path: Path) -> None:
        self.client = client
        self.uri = path.as_uri()
        self.lines = path.read_text().split("\n")
        self.rows = typing_lines(path.read_text())
        self.version = 1
        client.notify(
            lsp.TEXT_DOCUMENT_DID_OPEN,
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=self.uri, language_id="python", version=1, text="\n".join(self.lines)
                )
            ),
        )

    def _change(self, start: lsp.Position, end: lsp.Position, text: str) -> None:
        self.version += 1
        params = did_change(self.uri, self.version, start, end, text)
        self.client.notify(lsp.TEXT_DOCUMENT_DID_CHANGE, params)

    async def type_keys(self, keys: int, rows: list[int]) -> list[float]:
        """Latency (ms) of the completion after each of `keys` keystrokes on `rows`."""
        took: list[float] = []
        for row in rows:
            if len(took) >= keys:
                break
            line = self.lines[row]
            indent = len(line) - len(line.lstrip())
            self._change(lsp.Position(row, indent), lsp.Position(row, len(line)), "")
            done_before = len(took)
            for col in range(indent, len(line)):
                if len(took) >= keys:
                    break
                started = time.perf_counter()
                self._change(lsp.Position(row, col), lsp.Position(row, col), line[col])
                await self.client.call_async(
                    lsp.TEXT_DOCUMENT_INLINE_COMPLETION,
                    lsp.InlineCompletionParams(
                        text_document=lsp.TextDocumentIdentifier(uri=self.uri),
                        position=lsp.Position(row, col + 1),
                        context=lsp.InlineCompletionContext(
                            trigger_kind=lsp.InlineCompletionTriggerKind.Automatic
                        ),
                    ),
                )
                ms = (time.perf_counter() - started) * 1000
                took.append(round(ms, 1))
                await asyncio.sleep(max(0.0, INTERVAL_S - ms / 1000))
            # The rest of the line comes back at once, as if the suggestion was accepted.
            typed = min(len(line), indent + len(took) - done_before)
            self._change(lsp.Position(row, typed), lsp.Position(row, typed), line[typed:])
        return took


def latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {**percentiles(values), "mean": round(statistics.fmean(values), 1)}


def model_runs(trace: Path, window: list[float]) -> list[float]:
    """Server time (ms) of the requests in `window` that ran the model.

    The others were answered by typing through the last suggestion, in a few ms whatever
    the index does; the model runs are what background work can slow down.
    """
    took = []
    for line in trace.read_text().splitlines():
        r = json.loads(line)
        if window[0] <= r["time"] <= window[1] and r.get("model_ms") and r["layout"] != "cache":
            took.append(r["server_ms"])
    return took


async def run_setting(root: Path, work: Path, quiet_ms: int, keys: int, budget: int) -> Any:
    settings = {
        "resources": {"quiet_ms": quiet_ms, "max_rss_mb": budget},
        "completion": {"speculative": False},
    }
    env = isolated_env(work / "home", bench_settings(settings, db=work / "db"))
    trace = work / "completion-trace.jsonl"
    env["LSP_AI_COMPLETION_TRACE"] = str(trace)
    async with lsp_session(root, env) as client:
        sampler = Sampler(server_pid(client))
        sampler.start()
        crawl_started = time.perf_counter()
        while True:  # the crawl runs from `initialized`; the typist starts once models are up
            s = await status(client)
            if all(s["models"][r]["state"] == "ready" for r in ("completion", "embedding")):
                break
            await asyncio.sleep(0.2)
        typist = Typist(client, typing_file(root))
        # Both phases type the same lines: with temperature 0 and no speculation the model
        # runs for the same keystrokes (the others are answered by typing through). The lines
        # are neighbours, as when a person works on one function: the prompt's start stays.
        rows = typist.rows[len(typist.rows) // 3 :]
        await typist.type_keys(3, rows[:1])  # the first request fills the KV cache
        rows = rows[1:]
        sampler.phase = "busy"
        before = (await status(client))["indexedFiles"]
        busy_window = [time.time()]
        busy = await typist.type_keys(keys, rows)
        busy_window.append(time.time())
        after = await status(client)
        still_crawling = after["pending"] > 0
        log(f"quiet_ms={quiet_ms}: busy phase done, crawl running: {still_crawling}")
        sampler.phase = "finishing crawl"
        while (s := await status(client))["pending"] > 0:
            await asyncio.sleep(0.5)
        crawl_s = time.perf_counter() - crawl_started
        sampler.phase = "idle"
        await asyncio.sleep(2)
        idle_window = [time.time()]
        idle = await typist.type_keys(keys, rows)
        idle_window.append(time.time())
        final = await status(client)
        sampler.stop()
    rss = [x["rss_mb"] for x in sampler.samples]
    b, i = latency(busy), latency(idle)
    mb = latency(model_runs(trace, busy_window))
    mi = latency(model_runs(trace, idle_window))
    return {
        "model_runs_busy": mb,
        "model_runs_idle": mi,
        "model_ratio_p50": round(mb["p50"] / mi["p50"], 2) if mb and mi else None,
        "model_ratio_mean": round(mb["mean"] / mi["mean"], 2) if mb and mi else None,
        "quiet_ms": quiet_ms,
        "busy": b,
        "idle": i,
        "ratio_p50": round(b["p50"] / i["p50"], 2),
        "ratio_mean": round(b["mean"] / i["mean"], 2),
        "crawl_running_after_busy": still_crawling,
        "files_indexed_during_busy": after["indexedFiles"] - before,
        "files": final["indexedFiles"],
        "crawl_s": round(crawl_s, 1),
        "rss_max_mb": max(rss, default=0),
        "rss_end_mb": rss[-1] if rss else 0,
        "budget_mb": budget,
        "under_budget": max(rss, default=0) <= budget,
        "resources": final.get("resources", {}),
        "timeline": [
            {"s": x["s"], "phase": x["phase"], "rss_mb": x["rss_mb"]} for x in sampler.samples
        ],
    }


async def measure(files: int, keys: int, budget: int) -> dict[str, Any]:
    pool = source_pool(3_000)
    results: dict[str, Any] = {}
    for label, quiet_ms in SETTINGS.items():
        with tempfile.TemporaryDirectory(prefix="lsp-ai-governor-") as tmp:
            root = Path(tmp) / "ws"
            source_workspace(pool, root, files)
            log(f"{label}: {files} files, {keys} keystrokes per phase")
            results[label] = await run_setting(root, Path(tmp), quiet_ms, keys, budget)
            r = results[label]
            busy, idle = r["model_runs_busy"], r["model_runs_idle"]
            log(
                f"{label}: model runs busy p50 {busy.get('p50')} ms / mean {busy.get('mean')}, "
                f"idle p50 {idle.get('p50')} ms / mean {idle.get('mean')} "
                f"(x{r['model_ratio_p50']} / x{r['model_ratio_mean']}); every keystroke "
                f"x{r['ratio_mean']} (mean); RSS max {r['rss_max_mb']} MB (budget {budget})"
            )
    return {"files": files, "keys": keys, "interval_s": INTERVAL_S, "settings": results}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--files", type=int)
    p.add_argument("--keys", type=int)
    p.add_argument("--budget", type=int, default=BUDGET_MB, help="resources.max_rss_mb")
    args = p.parse_args(argv)
    files = args.files or (QUICK_FILES if args.quick else FILES)
    keys = args.keys or (QUICK_KEYS if args.quick else KEYS)
    data = asyncio.run(measure(files, keys, args.budget))
    print(write_result("governor", data))


if __name__ == "__main__":
    main()
