"""Indexing throughput against the embedder's own ceiling, re-open, and save-to-searchable.

On real code nobody here wrote (PyPI sdists fetched at run time), in one run:

- a full index, timed by stage (parse/chunk, embed, write) through `IndexService.build`;
- the raw embedder on exactly the same chunk texts (`SentenceTransformer.encode`, one call):
  the ceiling the pipeline is compared with (overhead = full index time / raw embed time - 1);
- re-opening the unchanged index in a new process (nothing embedded; time to ready);
- save-to-searchable through the real server: write a file, send `didSave`, poll
  `lsp-ai.search` until the new text is the top hit (p50/p95);
- peak RSS of the indexing process.

Run: `python -m benchmarks.indexing [--packages rich==14.2.0 ...] [--saves N]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from benchmarks.common import EVAL_DATA, bench_settings, percentiles, wait_indexed, write_result
from lsp_ai.config import parse_config
from lsp_ai.index.chunker import chunk_file
from lsp_ai.index.discover import FileFilter, read_text
from lsp_ai.languages import language_for
from lsp_ai.wiring import Wiring
from tests.harness.env import isolated_env
from tests.harness.lsp_client import lsp_session

DEFAULT_PACKAGES = ["rich==14.2.0"]


def fetch_sdists(packages: list[str], dest: Path) -> Path:
    """Download and unpack sdists into one workspace folder; returns its path."""
    root = dest / "workspace"
    root.mkdir(parents=True)
    for spec in packages:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(dest / "sdists"),
                spec,
            ],
            check=True,
            capture_output=True,
        )
    for archive in sorted((dest / "sdists").glob("*.tar.gz")):
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    return root


def wiring_for(root: Path, db: Path) -> Wiring:
    cfg, problems = parse_config({"index": {"db_path": str(db)}})
    assert not problems, problems
    return Wiring(cfg, [root])


def raw_embed_seconds(wiring: Wiring, root: Path) -> tuple[float, int]:
    """The embedder alone on the same chunk texts the pipeline embedded."""
    texts = []
    for f in FileFilter(root).walk():
        fc = chunk_file(f.rel, read_text(f.path), language_for(f.rel))
        texts.extend(c.embed_text for c in fc.chunks)
    unique = list(dict.fromkeys(texts))  # the pipeline embeds each distinct text once
    embedder = wiring.models.embedding.get()
    started = time.perf_counter()
    embedder.embed(unique, "document")
    return time.perf_counter() - started, len(unique)


def db_env(db: Path) -> dict[str, str]:
    """An isolated child process whose index is `db` (its HOME beside it)."""
    return isolated_env(db.with_name(f"{db.name}-home"), bench_settings(db=db))


def reopen_seconds(root: Path, db: Path) -> tuple[float, float]:
    """A fresh process re-opens the unchanged index: (whole process, crawl alone) seconds."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "lsp_ai", "index", str(root)],
        capture_output=True,
        text=True,
        env=db_env(db),
    )
    took = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    print("  re-open:", out.stdout.strip())
    return took, reported_seconds(out.stdout)


def reported_seconds(summary: str) -> float:
    """The crawl time `lsp-ai index` reports (excludes interpreter start and imports)."""
    match = re.search(r" in ([0-9.]+)s", summary)
    return float(match.group(1)) if match else float("nan")


async def save_to_searchable(root: Path, db: Path, saves: int) -> list[float]:
    latencies = []
    async with lsp_session(root, db_env(db)) as client:
        await wait_indexed(client)
        target = root / "bench_fresh.py"
        for i in range(saves):
            word = f"zqx{i}marmot{int(time.time() * 1000) % 100000}"
            target.write_text(f"def {word}_handler(event):\n    return event\n")
            started = time.perf_counter()
            client.notify(
                lsp.TEXT_DOCUMENT_DID_SAVE,
                lsp.DidSaveTextDocumentParams(
                    text_document=lsp.TextDocumentIdentifier(uri=target.as_uri())
                ),
            )
            while True:
                hits = await client.command_async("lsp-ai.search", word, 1)
                if hits and word in hits[0]["text"]:
                    break
                await asyncio.sleep(0.01)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def cosqa_workspace(dest: Path, files: int) -> Path:
    """`files` real Python functions (CoSQA's corpus), one per file, for the re-open test."""
    mapping = EVAL_DATA / "cosqa"
    codes = json.loads((mapping / "code_idx_map.txt").read_text())
    root = dest / "cosqa-ws"
    (root / "funcs").mkdir(parents=True)
    for code, idx in list(codes.items())[:files]:
        (root / "funcs" / f"f{idx}.py").write_text(code + "\n")
    return root


def reopen_at_scale(tmp: Path, files: int) -> dict[str, Any]:
    """Index `files` files once, then time a fresh process re-opening them unchanged."""
    root = cosqa_workspace(tmp, files)
    db = tmp / "db-reopen"
    wiring = wiring_for(root, db)
    started = time.perf_counter()
    wiring.index.build()
    build_s = time.perf_counter() - started
    wiring.close()
    process_s, crawl_s = reopen_seconds(root, db)
    return {
        "files": files,
        "build_s": round(build_s, 1),
        "reopen_process_s": round(process_s, 2),
        "reopen_crawl_s": crawl_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", default=DEFAULT_PACKAGES)
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--reopen-files", type=int, default=1000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lsp-ai-index-bench-"))
    root = fetch_sdists(args.packages, tmp)
    db = tmp / "db"
    wiring = wiring_for(root, db)
    wiring.models.embedding.get()  # load the model first so neither side pays for it
    started = time.perf_counter()
    files = wiring.index.build()
    total_s = time.perf_counter() - started
    crawl = wiring.index.last_crawl
    assert crawl is not None
    raw_s, raw_chunks = raw_embed_seconds(wiring, root)
    chunks = wiring.index.stats()["chunks"]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wiring.close()
    reopen_s, reopen_crawl_s = reopen_seconds(root, db)
    saves = asyncio.run(save_to_searchable(root, db, args.saves))
    at_scale = reopen_at_scale(tmp, args.reopen_files) if args.reopen_files else {}
    data = {
        "packages": args.packages,
        "files": files,
        "chunks": chunks,
        "full_index_s": round(total_s, 2),
        "stages_s": {
            "parse": round(crawl.parse_s, 2),
            "embed": round(crawl.embed_s, 2),
            "write": round(crawl.write_s, 2),
            "other": round(total_s - crawl.parse_s - crawl.embed_s - crawl.write_s, 2),
        },
        "files_per_s": round(files / total_s, 2),
        "chunks_per_s": round(crawl.chunks_embedded / total_s, 2),
        "raw_embed_s": round(raw_s, 2),
        "raw_embed_chunks": raw_chunks,
        "raw_chunks_per_s": round(raw_chunks / raw_s, 2),
        "pipeline_overhead_vs_raw_embed": round(total_s / raw_s - 1, 3),
        "reopen_unchanged_process_s": round(reopen_s, 2),
        "reopen_unchanged_crawl_s": reopen_crawl_s,
        "reopen_at_scale": at_scale,
        "save_to_searchable_ms": percentiles(saves),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    path = write_result("indexing", data)
    print(json.dumps(data, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
