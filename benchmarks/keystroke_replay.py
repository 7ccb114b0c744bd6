"""Replays a person typing real functions into the real server, and scores the ghost text.

Functions come from a PyPI sdist nobody here wrote (default: requests). For each one the
file is opened with the function's body removed, then the body is typed back one character
per didChange. A request goes out after every newline (the editor's auto-indent inserted
with it) and at pauses: a person pauses >= 300 ms at some word boundaries, drawn here with
a fixed seed. The replay waits for each answer before typing on, so requests never overlap.
When a suggestion is exactly the rest of the line, the person reads it for 0.5 s, accepts it
(one edit), and the editor asks again at the end of the accepted text.

Runs on the same typing: repository context on with the raw llama-cpp-python comparison,
context off, the defaults (context and speculative next completion on), and the sidecar
layout: the same model behind llama-cpp-python's OpenAI-compatible server on 127.0.0.1
(`python -m llama_cpp.server`, same threads and batch size), which the server reaches over
HTTP with `backend = "openai"`. The sidecar's prompt-token counts are the server's estimates
and its KV-cache reuse is not visible from outside, so those rows carry latency and quality only.

Per request it reports:
- latency at the client (request to response) p50/p95/p99, and the server's own time
  (`server_ms`) split into model time and everything else;
- the raw llama-cpp-python call (`Llama.create_completion`) on the same prompt, replayed in
  this process in the same order, so its KV cache sees the same sequence; overhead =
  client latency - raw call;
- prompt tokens evaluated vs reused from the KV cache, the first request in each file
  (cold) apart from the rest (warm), and typing-through cache hits;
- exact match and edit similarity of the suggestion's first line against what the person
  typed next (the rest of the line), with and without the repository context.

Run: `python -m benchmarks.keystroke_replay [--quick] [--functions 12]
[--package requests==2.32.3] [--model PATH.gguf] [--n-gpu-layers N]`
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from benchmarks.common import (
    bench_settings,
    did_change,
    fetch_sdist,
    log,
    percentiles,
    ran_model,
    wait_indexed,
    write_result,
)
from lsp_ai.evaluation.metrics import line_scores
from lsp_ai.governor import cores
from lsp_ai.inference.discovery import embedded_gguf
from tests.harness.env import isolated_env
from tests.harness.llama_server import free_port, start_llama_server, stop
from tests.harness.lsp_client import LspClient, lsp_session

PAUSE_PROBABILITY = 0.2  # at a word boundary


@dataclass(frozen=True)
class Run:
    label: str
    repo_context: bool
    speculative: bool
    raw_baseline: bool = False  # replay each request on the raw llama-cpp-python call too
    sidecar: bool = False  # the model behind llama_cpp.server on 127.0.0.1


# The raw calls run between requests, so speculation (background model work) is off there.
RUNS = (
    Run("repo_context", repo_context=True, speculative=False, raw_baseline=True),
    Run("sidecar", repo_context=True, speculative=False, sidecar=True),
    Run("no_repo_context", repo_context=False, speculative=False),
    Run("defaults", repo_context=True, speculative=True),
)
READING_S = 0.5  # looking at a suggestion before accepting it
TRACE_KEYS = (
    "server_ms",
    "model_ms",
    "layout",
    "prompt_tokens",
    "cached_tokens",
    "evaluated_tokens",
    "generated_tokens",
    "context_snippets",
)
MIN_BODY_LINES, MAX_BODY_LINES = 3, 12


@dataclass(frozen=True)
class Target:
    rel: str
    name: str
    start: int  # first body line (0-based), after the docstring
    end: int  # last body line, inclusive


def pick_targets(repo: Path, count: int, seed: int) -> list[Target]:
    """Functions whose body (after any docstring) is 3-12 lines, at most 2 per file."""
    found: list[Target] = []
    for path in sorted(repo.rglob("*.py")):
        rel = path.relative_to(repo).as_posix()
        if "test" in rel or "/docs/" in f"/{rel}":
            continue
        try:
            tree = ast.parse(path.read_text())
        except (SyntaxError, UnicodeDecodeError):
            continue
        per_file = []
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.body:
                continue
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            if not body or node.end_lineno is None:
                continue
            start, end = body[0].lineno - 1, node.end_lineno - 1
            if MIN_BODY_LINES <= end - start + 1 <= MAX_BODY_LINES:
                per_file.append(Target(rel, node.name, start, end))
        found.extend(random.Random(f"{seed}{rel}").sample(per_file, min(2, len(per_file))))
    return sorted(random.Random(seed).sample(found, min(count, len(found))), key=lambda t: t.rel)


@dataclass
class Event:
    """A request point: the text typed so far into the body, and what comes next."""

    typed: str  # body text typed before the request
    truth: str  # the rest of the current line, as the person goes on to type it
    kind: str  # "newline" | "pause"


def typing_events(body: str, seed: int) -> list[Event]:
    rng = random.Random(seed)
    events: list[Event] = []
    lines = body.split("\n")
    typed = ""
    for n, line in enumerate(lines):
        indent = line[: len(line) - len(line.lstrip())]
        if n:
            typed += "\n" + indent  # Enter, with the editor's auto-indent
        else:
            typed += indent
        rest = line[len(indent) :]
        if rest.strip():
            events.append(Event(typed, rest, "newline" if n else "pause"))
        for i, ch in enumerate(rest):
            typed += ch
            boundary = not _wordy(ch) or not _wordy(rest[i + 1 : i + 2])
            if boundary and i + 1 < len(rest) and rng.random() < PAUSE_PROBABILITY:
                events.append(Event(typed, rest[i + 1 :], "pause"))
    return events


def _wordy(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


N_CTX, N_BATCH = 2048, 128  # what the server's completion role uses by default


@dataclass(frozen=True)
class ModelChoice:
    """The completion model every layout runs, with the same threads and offload."""

    path: Path
    n_gpu_layers: int
    threads: int

    def settings(self, sidecar_url: str | None) -> dict[str, Any]:
        """The `[models.completion]` table for the server under test."""
        if sidecar_url is not None:
            return {"backend": "openai", "base_url": sidecar_url, "model": "sidecar"}
        return {"model": str(self.path), "n_gpu_layers": self.n_gpu_layers}

    def sidecar_args(self) -> list[str]:
        threads = str(self.threads)
        return [
            *("--n_threads", threads, "--n_threads_batch", threads),
            *("--n_batch", str(N_BATCH), "--n_ubatch", str(N_BATCH)),
            *("--n_gpu_layers", str(self.n_gpu_layers), "--model_alias", "sidecar"),
        ]


class RawModel:
    """llama-cpp-python called directly, configured as the server's completion model."""

    def __init__(self, model: ModelChoice) -> None:
        from llama_cpp import Llama

        self.llm = Llama(
            model_path=str(model.path),
            n_ctx=N_CTX,
            n_batch=N_BATCH,
            n_ubatch=N_BATCH,
            n_threads=model.threads,
            n_threads_batch=model.threads,
            n_gpu_layers=model.n_gpu_layers,
            verbose=False,
        )

    def complete(self, prompt: str, stop: list[str], max_tokens: int) -> tuple[float, int]:
        started = time.perf_counter()
        out: Any = self.llm.create_completion(
            prompt, max_tokens=max_tokens, temperature=0.0, stop=stop or None
        )
        return (time.perf_counter() - started) * 1000, int(out["usage"]["completion_tokens"])


class Typist:
    """Types one function body into an open document and asks for ghost text as it goes."""

    def __init__(
        self, client: LspClient, uri: str, target: Target, trace: TraceReader, raw: RawModel | None
    ) -> None:
        self.client, self.uri, self.target, self.trace, self.raw = client, uri, target, trace, raw
        self.version = 1
        self.typed = ""
        self.rows: list[dict[str, Any]] = []

    def _cursor(self) -> lsp.Position:
        line = self.target.start + self.typed.count("\n")
        return lsp.Position(line=line, character=len(self.typed) - (self.typed.rfind("\n") + 1))

    def insert(self, text: str) -> None:
        here = self._cursor()
        self.version += 1
        params = did_change(self.uri, self.version, here, here, text)
        self.client.notify(lsp.TEXT_DOCUMENT_DID_CHANGE, params)
        self.typed += text

    async def ask(self, kind: str, truth: str | None, first: bool) -> str:
        started = time.perf_counter()
        result = await self.client.call_async(
            lsp.TEXT_DOCUMENT_INLINE_COMPLETION,
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=self.uri),
                position=self._cursor(),
                context=lsp.InlineCompletionContext(
                    trigger_kind=lsp.InlineCompletionTriggerKind.Automatic
                ),
            ),
        )
        client_ms = (time.perf_counter() - started) * 1000
        items = result.items if isinstance(result, lsp.InlineCompletionList) else []
        shown = str(items[0].insert_text) if items else ""
        rec = self.trace.last()
        row = {
            "file": self.target.rel,
            "function": self.target.name,
            "first_in_file": first,
            "kind": kind,
            "client_ms": client_ms,
            **{key: rec.get(key) for key in TRACE_KEYS},
        }
        if truth is not None:  # scored: what the person typed next on this line
            exact, similarity = line_scores(shown, truth)
            row |= {"exact": exact, "similarity": similarity}
        if self.raw is not None and ran_model(row):
            # Same work: our engine may stop early (block end), so cap the raw call there.
            budget = rec["generated_tokens"] or 64
            raw_ms, raw_tokens = self.raw.complete(rec["prompt"], rec["stop"], budget)
            row |= {"raw_ms": raw_ms, "raw_generated_tokens": raw_tokens}
        self.rows.append(row)
        return shown

    async def type_body(self, body: str, seed: int) -> None:
        for i, event in enumerate(typing_events(body, seed)):
            if not event.typed.startswith(self.typed):
                continue  # an accepted suggestion already typed past this point
            for ch in event.typed[len(self.typed) :]:
                self.insert(ch)
            shown = await self.ask(event.kind, event.truth, i == 0)
            if shown and shown == event.truth:
                # Right to the end of the line: the person reads it and presses Tab, and the
                # editor asks again at once from the end of the accepted text.
                await asyncio.sleep(READING_S)
                self.insert(shown)
                await self.ask("after_accept", None, False)


class TraceReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = 0

    def last(self) -> dict[str, Any]:
        """The newest record written since the previous call ({} if none)."""
        if not self.path.exists():
            return {}
        lines = self.path.read_text().splitlines()
        new, self.seen = lines[self.seen :], len(lines)
        return json.loads(new[-1]) if new else {}


async def replay(
    repo: Path, targets: list[Target], run: Run, model: ModelChoice, raw: RawModel | None, seed: int
) -> list[dict[str, Any]]:
    if not run.sidecar:
        return await replay_on(repo, targets, run, model.settings(None), raw, seed)
    port = free_port()
    proc = start_llama_server(port, *model.sidecar_args(), model=model.path)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        return await replay_on(repo, targets, run, model.settings(url), raw, seed)
    finally:
        stop(proc)


async def replay_on(
    repo: Path,
    targets: list[Target],
    run: Run,
    model_settings: dict[str, Any],
    raw: RawModel | None,
    seed: int,
) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="lsp-ai-replay-"))
    trace = TraceReader(work / "trace.jsonl")
    flags = {"repo_context": run.repo_context, "speculative": run.speculative}
    # The typed functions never come from tests or docs: leave those out of the index.
    index = {"exclude": ["tests/", "docs/"]}
    settings = {"completion": flags, "models": {"completion": model_settings}, "index": index}
    env = isolated_env(work / "home", bench_settings(settings))
    env["LSP_AI_COMPLETION_TRACE"] = str(trace.path)
    rows: list[dict[str, Any]] = []
    async with lsp_session(repo, env) as client:
        await wait_indexed(client)
        for t_i, target in enumerate(targets):
            path = repo / target.rel
            lines = path.read_text().split("\n")
            body = "\n".join(lines[target.start : target.end + 1])
            head = "\n".join(lines[: target.start])
            tail = "\n".join(lines[target.end + 1 :])
            uri = path.as_uri()
            client.open_doc(path, f"{head}\n\n{tail}")
            typist = Typist(client, uri, target, trace, raw)
            await typist.type_body(body, seed + t_i)
            rows.extend(typist.rows)
            client.notify(
                lsp.TEXT_DOCUMENT_DID_CLOSE,
                lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)),
            )
            log(f"  {target.rel}:{target.name}: {len(rows)} requests so far")
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    model_rows = [r for r in rows if ran_model(r)]
    scored = [r for r in rows if "exact" in r]
    cold = [r["evaluated_tokens"] for r in model_rows if r["first_in_file"]]
    warm = [r["evaluated_tokens"] for r in model_rows if not r["first_in_file"]]
    prompt_total = sum(r["prompt_tokens"] for r in model_rows) or 1
    out: dict[str, Any] = {
        "requests": len(rows),
        "model_requests": len(model_rows),
        "typing_through_hits": sum(1 for r in rows if r["layout"] == "cache"),
        "skipped_in_comment_or_string": sum(1 for r in rows if r["layout"] == ""),
        "client_ms": percentiles([r["client_ms"] for r in rows]),
        # The requests the model answered (no cache, no skip): what the layouts compare.
        "model_request_client_ms": percentiles([r["client_ms"] for r in model_rows]),
        "server_ms": percentiles([r["server_ms"] for r in rows if r["server_ms"] is not None]),
        "model_ms": percentiles([r["model_ms"] for r in model_rows]),
        "server_minus_model_ms": percentiles([r["server_ms"] - r["model_ms"] for r in model_rows]),
        "prompt_tokens": percentiles([r["prompt_tokens"] for r in model_rows]),
        "evaluated_tokens_cold": percentiles(cold),
        "evaluated_tokens_warm": percentiles(warm),
        "kv_reuse_share": round(sum(r["cached_tokens"] for r in model_rows) / prompt_total, 3),
        "scored_requests": len(scored),
        "exact_match": round(sum(r["exact"] for r in scored) / max(1, len(scored)), 3),
        "edit_similarity": round(sum(r["similarity"] for r in scored) / max(1, len(scored)), 3),
        "accepted": sum(1 for r in rows if r["kind"] == "after_accept"),
        "speculative_hits": sum(1 for r in rows if r["layout"] == "speculative"),
    }
    raw_rows = [r for r in model_rows if "raw_ms" in r]
    if raw_rows:
        out["raw_llama_ms"] = percentiles([r["raw_ms"] for r in raw_rows])
        out["client_minus_raw_ms"] = percentiles([r["client_ms"] - r["raw_ms"] for r in raw_rows])
        out["same_generated_tokens"] = round(
            sum(r["raw_generated_tokens"] == r["generated_tokens"] for r in raw_rows)
            / len(raw_rows),
            3,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="requests==2.32.3")
    parser.add_argument("--functions", type=int, default=None, help="default 12, quick 4")
    parser.add_argument("--quick", action="store_true", help="3 functions, no defaults run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", default=None, help="comma-separated run labels (default all)")
    parser.add_argument("--model", type=Path, help="completion GGUF (default: the embedded one)")
    parser.add_argument("--n-gpu-layers", type=int, default=0)
    parser.add_argument("--dest", type=Path, default=Path(tempfile.gettempdir()) / "lsp-ai-bench")
    args = parser.parse_args()
    repo = fetch_sdist(args.package, args.dest)
    if repo is None:
        raise SystemExit(f"could not fetch {args.package}")
    targets = pick_targets(repo, args.functions or (3 if args.quick else 12), args.seed)
    log(f"{len(targets)} functions from {args.package}")
    model = ModelChoice(args.model or embedded_gguf(), args.n_gpu_layers, cores())
    default_runs = [r.label for r in RUNS if not (args.quick and r.label == "defaults")]
    chosen = args.runs.split(",") if args.runs else default_runs
    runs = {}
    raw = RawModel(model)
    for run in (r for r in RUNS if r.label in chosen):
        log(f"replay: {run.label}")
        rows = asyncio.run(
            replay(repo, targets, run, model, raw if run.raw_baseline else None, args.seed)
        )
        runs[run.label] = {"summary": summarize(rows), "rows": rows}
        log(json.dumps(runs[run.label]["summary"], indent=2))
    comparison = layout_comparison({k: v["summary"] for k, v in runs.items()})
    name = "keystroke_replay" + ("" if args.runs is None else "-" + "-".join(runs))
    path = write_result(
        name,
        {
            "package": args.package,
            "functions": [f"{t.rel}:{t.name}" for t in targets],
            "model": str(model.path),
            "n_gpu_layers": model.n_gpu_layers,
            "quick": args.quick,
            "layouts": comparison,
            **{k: v["summary"] for k, v in runs.items()},
            "rows": {k: v["rows"] for k, v in runs.items()},
        },
    )
    log(f"wrote {path}")


def layout_comparison(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """In-process vs sidecar vs the raw call, on requests the model answered, as ratios."""
    inproc = summaries.get("repo_context", {})
    latency = {
        "in_process": inproc.get("model_request_client_ms", {}),
        "sidecar": summaries.get("sidecar", {}).get("model_request_client_ms", {}),
        "raw_llama": inproc.get("raw_llama_ms", {}),
    }
    out: dict[str, Any] = {
        label: {"p50_ms": ms["p50"], "p95_ms": ms["p95"], "n": ms["n"]}
        for label, ms in latency.items()
        if ms
    }
    for slower, faster in (("sidecar", "in_process"), ("in_process", "raw_llama")):
        if slower in out and faster in out:
            for q in ("p50", "p95"):
                ratio = out[slower][f"{q}_ms"] / out[faster][f"{q}_ms"]
                out[f"{slower}_over_{faster}_{q}"] = round(ratio, 2)
    return out


if __name__ == "__main__":
    main()
