"""Helpers shared by the benchmark scripts: settings, workspaces, percentiles, results.

The server runs under the tests' client (`tests.harness.lsp_client.lsp_session`) in their
isolated environment (`tests.harness.env.isolated_env`, its config from `bench_settings`).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from lsp_ai.config import deep_merge
from tests.harness.lsp_client import LspClient

RESULTS = Path(__file__).parent / "results"
# Public benchmark data (../shared/eval-data), read in place, never copied into the repository.
EVAL_DATA = Path(
    os.environ.get("LSP_AI_EVAL_DATA", Path(__file__).resolve().parents[2] / "shared/eval-data")
)
PIP_DOWNLOAD = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
# Real code to fill workspaces of any size (`source_pool`): small Python files from these.
SOURCE_PACKAGES = ["django==5.1.4", "rich==14.2.0", "requests==2.32.3", "flask==3.1.0"]
SDIST_CACHE = Path(tempfile.gettempdir()) / "lsp-ai-bench"


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


def ran_model(row: dict[str, Any]) -> bool:
    """A replayed completion the model answered: not from a cache, not skipped (in a string)."""
    return row.get("layout") not in (None, "", "cache", "speculative")


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    names = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
        if line.startswith("model name")
    ]
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": names[0] if names else platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
        "ram_gb": round(pages / 2**30, 1),
        "gpu": bool(shutil.which("nvidia-smi")),
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


async def wait_indexed(client: LspClient) -> None:
    """Until the server has indexed its workspace and loaded every model."""
    while True:
        status = await client.command_async("lsp-ai.status")
        ready = all(m["state"] == "ready" for m in status["models"].values())
        if status["pending"] == 0 and status["indexedFiles"] > 0 and ready:
            return
        await asyncio.sleep(0.1)


Settings = dict[str, Any]


def bench_settings(settings: Settings | None = None, db: Path | None = None) -> Settings:
    """A suite's `settings` (and its index folder `db`) over the runner's model choices.

    The runner (``LSP_AI_BENCH_MODELS``) names the models; a suite's own settings win: the
    completion replay names its model per layout itself. The result is what a suite gives
    `tests.harness.env.isolated_env` as the user config of its server or child process.
    """
    runner = tomllib.loads(os.environ.get("LSP_AI_BENCH_MODELS", ""))
    own = settings or {}
    if db is not None:
        own = deep_merge({"index": {"db_path": str(db)}}, own)
    return deep_merge(runner, own)


def proc_memory_mb(pid: int) -> dict[str, float]:
    """A live process's resident set now (`VmRSS`) and at its highest (`VmHWM`), in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "hwm_mb"] = round(int(value.split()[0]) / 1024, 1)
    return out


def source_pool(max_bytes: int, packages: list[str] | None = None) -> list[tuple[Path, str]]:
    """Real Python files to build workspaces from: (file, its name in a workspace).

    Every non-empty `.py` file of at most `max_bytes` that the indexer would take from the
    sdists (fetched now, kept in SDIST_CACHE), shuffled with a fixed seed so that a small
    workspace draws on every package.
    """
    from lsp_ai.index.discover import FileFilter

    pool = []
    for spec in packages or SOURCE_PACKAGES:
        repo = fetch_sdist(spec, SDIST_CACHE)
        if repo is None:
            continue
        pool += [
            (f.path, f"{repo.name}/{f.rel}")
            for f in FileFilter(repo).walk()
            if f.rel.endswith(".py") and 0 < f.size <= max_bytes
        ]
    if not pool:
        raise SystemExit("no source files: every sdist failed to download")
    pool.sort(key=lambda item: item[1])
    random.Random(0).shuffle(pool)
    return pool


def source_workspace(pool: list[tuple[Path, str]], root: Path, files: int) -> dict[str, int]:
    """`files` files from `pool` in `root`, replicated when the pool is smaller.

    File i is pool file i mod len(pool), copied to `copyK/<package>/<path>` with K = i div
    len(pool), and ends with a comment naming K. So every file has its own path and its own
    bytes: the index dedupes chunks by a hash of their text (which names the path), so
    identical copies must not be free to index, and with the comment no file's bytes equal
    another's either. The comment adds no chunk.
    """
    for i in range(files):
        copy, (source, rel) = i // len(pool), pool[i % len(pool)]
        target = root / f"copy{copy:03d}" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = source.read_bytes()
        tail = b"" if data.endswith(b"\n") else b"\n"
        target.write_bytes(data + tail + f"# lsp-ai benchmark copy {copy}\n".encode())
    return {
        "files": files,
        "distinct_sources": min(files, len(pool)),
        "copies": -(-files // len(pool)),
        "bytes": sum(p.stat().st_size for p in root.rglob("*.py")),
    }


def did_change(
    uri: str, version: int, start: lsp.Position, end: lsp.Position, text: str
) -> lsp.DidChangeTextDocumentParams:
    """An incremental didChange replacing `start`..`end` with `text`, as editors send it."""
    return lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[
            lsp.TextDocumentContentChangePartial(range=lsp.Range(start=start, end=end), text=text)
        ],
    )
