"""Helpers shared by the benchmark scripts: a real server over stdio, percentiles, results."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

RESULTS = Path(__file__).parent / "results"
# Public benchmark data (../shared/eval-data), read in place, never copied into the repository.
EVAL_DATA = Path(
    os.environ.get("LSP_AI_EVAL_DATA", Path(__file__).resolve().parents[2] / "shared/eval-data")
)
PIP_DOWNLOAD = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(values),
        "p50": round(statistics.median(ordered), 2),
        "p95": round(pick(0.95), 2),
        "p99": round(pick(0.99), 2),
        "max": round(ordered[-1], 2),
    }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
    }


def results_dir() -> Path:
    """Where results go: the runner's folder (``LSP_AI_BENCH_OUT``) or today's."""
    folder = Path(os.environ.get("LSP_AI_BENCH_OUT") or RESULTS / time.strftime("%Y-%m-%d"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_result(name: str, data: dict[str, Any]) -> Path:
    folder = results_dir()
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    return path


@asynccontextmanager
async def server(
    root: Path,
    env: dict[str, str] | None = None,
    on_progress: Callable[[lsp.ProgressParams], None] | None = None,
) -> AsyncIterator[tuple[LanguageClient, float]]:
    """A real `lsp-ai serve` on stdio; yields the client and the initialize round trip in ms."""
    home = Path(tempfile.mkdtemp(prefix="lsp-ai-bench-"))
    env = dict(env or os.environ, HOME=str(home))
    env.setdefault("LSP_AI_CONFIG", str(home / "none.toml"))
    client = LanguageClient("lsp-ai-bench", "0")

    @client.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def _create(params: Any) -> None:
        return None

    @client.feature(lsp.PROGRESS)
    def _progress(params: Any) -> None:
        if on_progress is not None:
            on_progress(params)

    @client.feature(lsp.WINDOW_LOG_MESSAGE)
    def _log(params: Any) -> None:
        return None

    await client.start_io(sys.executable, "-m", "lsp_ai", "serve", env=env)
    started = time.perf_counter()
    await client.initialize_async(
        lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(
                window=lsp.WindowClientCapabilities(work_done_progress=True)
            ),
            root_uri=root.as_uri(),
            process_id=os.getpid(),
        )
    )
    init_ms = (time.perf_counter() - started) * 1000
    client.initialized(lsp.InitializedParams())
    try:
        yield client, init_ms
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()


def fetch_sdist(spec: str, dest: Path) -> Path | None:
    """Download and unpack one sdist; None (reported) when that fails."""
    downloads = dest / "sdists" / spec
    try:
        subprocess.run(
            [*PIP_DOWNLOAD, "-d", str(downloads), spec],
            check=True,
            capture_output=True,
            timeout=300,
        )
        (archive,) = downloads.glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(dest / "repos", filter="data")
    except (subprocess.SubprocessError, OSError, ValueError, tarfile.TarError) as exc:
        log(f"could not fetch {spec}: {exc}")
        return None
    name, _, version = spec.partition("==")
    found = [p for p in (dest / "repos").iterdir() if p.name.lower() == f"{name}-{version}"]
    return found[0] if found else None


async def wait_indexed(client: LanguageClient) -> None:
    """Until the server has indexed its workspace and loaded every model."""
    while True:
        status = await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="lsp-ai.status", arguments=[])
        )
        ready = all(m["state"] == "ready" for m in status["models"].values())
        if status["pending"] == 0 and status["indexedFiles"] > 0 and ready:
            return
        await asyncio.sleep(0.1)
