"""Memory of the real `lsp-ai serve` process: idle, after indexing, and under load.

The server runs as an editor starts it, on stdio under the tests' client
(`tests.harness.lsp_client`), with its own HOME, XDG folders and config
(`tests.harness.env.isolated_env`). Its pid is the subprocess the client started. From
the initialize response to shutdown a thread reads, every 100 ms, /proc/<pid>/status of
the server (VmRSS: resident now; VmHWM: highest so far) and the VmRSS of each of its
descendants (the process tree: the server runs ctags while it indexes; the tree's sum
counts shared pages once per process).

Phases, each reported with RSS now and the peak (VmHWM) so far:
(a) `idle_after_initialize`: 1 s after the initialize response, before `initialized` is
    sent: models load lazily and nothing is indexed yet. (On `initialized` the server starts
    loading its three models in background threads and indexing the workspace.)
(b) `after_indexing`: once the server has indexed a workspace of 1,000 files (`--quick`:
    300) of real code, the small files of a few PyPI sdists as in `benchmarks.scaling`,
    and every model is loaded; the peak here covers model loading and the crawl.
(c) `chat_and_completions`: `$/chat` questions (3; `--quick`: 1), answers capped at 64
    tokens, one after another, and at the same time 20 (`--quick`: 8)
    `textDocument/inlineCompletion` requests on an open file of the workspace, each
    followed by a 1 s pause, until both are done. Peak over the 100 ms samples of that
    window, and RSS at its end.

`timeline` has every sample ({s, phase, rss_mb, tree_rss_mb, processes}) for plotting.

Run: `python -m benchmarks.memory [--quick] [--files 1000] [--questions 3] [--completions 20]`
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from benchmarks.common import (
    bench_settings,
    log,
    proc_memory_mb,
    source_pool,
    source_workspace,
    wait_indexed,
    write_result,
)
from tests.harness.env import isolated_env
from tests.harness.lsp_client import LspClient, lsp_session

FILES, QUICK_FILES = 1_000, 300
QUESTIONS = [
    "How are redirects followed, and where is the limit on redirects enforced?",
    "How does the console measure and render a table?",
    "Where are URL patterns matched to views?",
]
QUICK_QUESTIONS = 1
MAX_BYTES = 3_000  # source files taken, as in benchmarks.scaling
CHAT_CONFIG = {"models": {"chat": {"max_tokens": 64}}}
SAMPLE_S = 0.1
# Completions during the chat, each followed by a pause. The chat yields to a completion
# between tokens (lsp_ai.concurrency.CompletionFirst): requests back to back would starve it.
COMPLETIONS, QUICK_COMPLETIONS = 20, 8
PAUSE_S = 1.0
IDLE_S = 1.0


def server_pid(client: LspClient) -> int:
    """The `lsp-ai serve` process: the subprocess the client started."""
    proc = client.proc
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    if b"lsp_ai" not in cmdline or b"serve" not in cmdline:
        raise RuntimeError(f"pid {proc.pid} is not lsp-ai serve: {cmdline!r}")
    return proc.pid


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children of each of its threads, recursively)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:  # the thread or process ended meanwhile
                continue
            found += kids
            todo += kids
    return found


class Sampler(threading.Thread):
    """Reads the server's memory every SAMPLE_S seconds until it exits or `stop()`."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.phase = "idle_after_initialize"
        self.samples: list[dict[str, Any]] = []
        self.started = time.perf_counter()
        self._halt = threading.Event()

    def now(self) -> dict[str, Any]:
        """The server's RSS and peak, and RSS summed over its process tree, in MB."""
        mem = proc_memory_mb(self.pid)
        tree, count = mem["rss_mb"], 1
        for child in descendants(self.pid):
            try:
                tree += proc_memory_mb(child)["rss_mb"]
                count += 1
            except (OSError, KeyError):  # exited, or a zombie without VmRSS
                continue
        return {**mem, "tree_rss_mb": round(tree, 1), "processes": count}

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                sample = self.now()
            except (OSError, KeyError):  # the server has exited
                return
            at = round(time.perf_counter() - self.started, 2)
            self.samples.append({"s": at, "phase": self.phase, **sample})
            self._halt.wait(SAMPLE_S)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def window(self, phase: str) -> list[dict[str, Any]]:
        return [s for s in self.samples if s["phase"] == phase]


async def chats(client: LspClient, questions: list[str]) -> list[float]:
    """Ask each question in turn; seconds per answer."""
    took = []
    for i, question in enumerate(questions):
        started = time.perf_counter()
        await client.call_async(
            "$/chat", {"message": question, "partialResultToken": f"memory-{i}"}
        )
        took.append(round(time.perf_counter() - started, 2))
    return took


def completion_file(root: Path) -> Path:
    """The longest file of the workspace's first copy: most places to complete at."""
    return max(sorted(root.glob("copy000/**/*.py")), key=lambda p: p.stat().st_size)


async def completions(client: LspClient, path: Path, count: int) -> list[float]:
    """`count` inline completions at line ends of `path`; seconds per completion.

    A pause follows each: a person reads the suggestion, then types on.
    """
    text = path.read_text()
    uri = path.as_uri()
    client.open_doc(path, text)
    spots = [
        lsp.Position(line=i, character=len(line))
        for i, line in enumerate(text.split("\n"))
        if line.strip() and not line.lstrip().startswith("#")
    ]
    took: list[float] = []
    for i in range(count):
        started = time.perf_counter()
        await client.call_async(
            lsp.TEXT_DOCUMENT_INLINE_COMPLETION,
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=spots[i % len(spots)],
                context=lsp.InlineCompletionContext(
                    trigger_kind=lsp.InlineCompletionTriggerKind.Invoked
                ),
            ),
        )
        took.append(round(time.perf_counter() - started, 3))
        await asyncio.sleep(PAUSE_S)
    return took


def _peak(window: list[dict[str, Any]], key: str) -> float | None:
    return max((s[key] for s in window), default=None)


async def measure(root: Path, work: Path, questions: list[str], requests: int) -> dict[str, Any]:
    env = isolated_env(work / "home", bench_settings(CHAT_CONFIG, db=work / "db"))
    started: list[Sampler] = []
    phases: list[dict[str, Any]] = []

    async def idle(client: LspClient) -> None:
        sampler = Sampler(server_pid(client))
        sampler.start()
        started.append(sampler)
        await asyncio.sleep(IDLE_S)
        phases.append({"phase": "idle_after_initialize", **sampler.now()})
        log(f"idle after initialize: {phases[-1]}")

    async with lsp_session(root, env, on_initialize=idle) as client:
        sampler = started[0]
        sampler.phase = "indexing"
        t0 = time.perf_counter()
        await wait_indexed(client)
        status = await client.command_async("lsp-ai.status")
        assert status is not None
        phases.append(
            {
                "phase": "after_indexing",
                "seconds": round(time.perf_counter() - t0, 1),
                **sampler.now(),
                "peak_tree_rss_mb": _peak(sampler.window("indexing"), "tree_rss_mb"),
                "max_processes": _peak(sampler.window("indexing"), "processes"),
                "indexed_files": status["indexedFiles"],
                "chunks": status["chunks"],
                "models": status["models"],
            }
        )
        log(f"after indexing: {phases[-1]}")
        sampler.phase = "chat_and_completions"
        t0 = time.perf_counter()
        chat_s, completion_s = await asyncio.gather(
            chats(client, questions), completions(client, completion_file(root), requests)
        )
        end = sampler.now()
        window = sampler.window("chat_and_completions")
        phases.append(
            {
                "phase": "chat_and_completions",
                "seconds": round(time.perf_counter() - t0, 1),
                "peak_rss_mb": _peak(window, "rss_mb"),
                "peak_tree_rss_mb": _peak(window, "tree_rss_mb"),
                "end_rss_mb": end["rss_mb"],
                "end_tree_rss_mb": end["tree_rss_mb"],
                "hwm_mb": end["hwm_mb"],
                "samples": len(window),
                "chats": len(chat_s),
                "chat_s": chat_s,
                "completions": len(completion_s),
                "completion_s": completion_s,
            }
        )
        log(f"chat and completions: {phases[-1]}")
    sampler.stop()
    return {"phases": phases, "timeline": sampler.samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 files, 1 question, 8 completions")
    parser.add_argument("--files", type=int)
    parser.add_argument("--questions", type=int)
    parser.add_argument("--completions", type=int)
    args = parser.parse_args()

    def choose(given: int | None, quick: int, full: int) -> int:
        return given if given is not None else quick if args.quick else full

    files = choose(args.files, QUICK_FILES, FILES)
    count = choose(args.questions, QUICK_QUESTIONS, len(QUESTIONS))
    requests = choose(args.completions, QUICK_COMPLETIONS, COMPLETIONS)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(count)]
    work = Path(tempfile.mkdtemp(prefix="lsp-ai-memory-"))
    root = work / "workspace"
    try:
        workspace = source_workspace(source_pool(MAX_BYTES), root, files)
        result = asyncio.run(measure(root, work, questions, requests))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data = {
        "files": files,
        "workspace": workspace,
        "questions": questions,
        "completion_requests": requests,
        **result,
    }
    log(f"wrote {write_result('memory', data)}")


if __name__ == "__main__":
    main()
