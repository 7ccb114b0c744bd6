"""Memory of the chunk store over many small commits: lsp-ai's LanceDB cache caps vs the defaults.

A live index commits on every save and every change the file watcher sees, for days. Each
commit is a new LanceDB table version, and LanceDB caches metadata per version. This runs the
real `ChunkStore` through `--updates` file updates (two replaced for every one removed, a
hybrid search after each) on a store of 2,000 chunks, once with the caps `ChunkStore` sets and
once with LanceDB's defaults, each in a fresh process (RSS is per process). Freed heap is
given back (`malloc_trim`) before every sample, so what is left is memory still held.

Reported per run: RSS after the first 20% of updates (warm-up) and at the end, the growth per
100 updates after the warm-up, the bytes LanceDB's caches hold, and the median search time.

Run: `python -m benchmarks.store_memory [--updates 1500]`
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, write_result

DIM = 384  # all-MiniLM-L6-v2's
BASE_FILES, ROWS_PER_FILE = 250, 8
CHURN_FILES, CHURN_ROWS = 25, 4
SAMPLES = 10
WARMUP_SHARE = 0.2


def _rows(path: str, n: int, rng: random.Random) -> list[Any]:
    from lsp_ai.index.store import ChunkRecord
    from lsp_ai.spans import CodeSpan

    out = []
    for i in range(n):
        text = f"def f_{i}(x):\n    return x + {rng.random()}\n" * 3
        digest = hashlib.sha256(f"{path}{text}".encode()).hexdigest()
        vector = [rng.random() for _ in range(DIM)]
        out.append(
            ChunkRecord(
                CodeSpan(path, i * 5, i * 5 + 4, text, f"f_{i}", ""),
                "python",
                "function",
                text,
                digest,
                vector,
            )
        )
    return out


def run_one(updates: int, capped: bool) -> dict[str, Any]:
    """The store's updates, sampled; `capped=False` lifts lsp-ai's caps for this process."""
    from lsp_ai.governor import release_heap, rss_mb
    from lsp_ai.index import store as store_mod
    from lsp_ai.index.search import hybrid

    if not capped:  # LanceDB's own defaults (gigabytes)
        store_mod._INDEX_CACHE_BYTES = store_mod._METADATA_CACHE_BYTES = None  # type: ignore[assignment]
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="lsp-ai-store-mem-") as tmp:
        store = store_mod.ChunkStore(Path(tmp) / "db", "bench", DIM)
        store.replace_files(
            store_mod.FileUpdate(p, "h", 1, 1, _rows(p, ROWS_PER_FILE, rng))
            for p in (f"base/{i}.py" for i in range(BASE_FILES))
        )
        store.ensure_fts(force=True)
        query = [rng.random() for _ in range(DIM)]
        samples: list[dict[str, float]] = []
        search_ms: list[float] = []
        every = max(1, updates // SAMPLES)
        started = time.perf_counter()
        for n in range(1, updates + 1):
            path = f"churn/{n % CHURN_FILES}.py"
            if n % 3 == 0:
                store.remove_file(path)
            else:
                rows = _rows(path, CHURN_ROWS, rng)
                store.replace_files([store_mod.FileUpdate(path, str(n), 1, n, rows)])
            clock = time.perf_counter()
            hybrid(store, "return x", query, 8)
            search_ms.append((time.perf_counter() - clock) * 1000)
            if n % every == 0:
                release_heap()
                samples.append(
                    {
                        "updates": n,
                        "rss_mb": round(rss_mb(), 1),
                        "cache_mb": store._cache.size_bytes / 2**20,
                    }
                )
        store.close()
    warm = next(s for s in samples if s["updates"] >= updates * WARMUP_SHARE)
    end = samples[-1]
    per_100 = (end["rss_mb"] - warm["rss_mb"]) / max(1, end["updates"] - warm["updates"]) * 100
    return {
        "capped": capped,
        "updates": updates,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_after_warmup_mb": warm["rss_mb"],
        "rss_end_mb": end["rss_mb"],
        "growth_mb_per_100_updates": round(per_100, 2),
        "cache_end_mb": round(end["cache_mb"], 1),
        "search_ms_p50": round(statistics.median(search_ms), 2),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=1500)
    parser.add_argument("--child", choices=("capped", "defaults"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.updates, args.child == "capped")))
        return
    runs = {}
    for which in ("capped", "defaults"):
        log(f"store_memory: {args.updates} updates, {which} caches")
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.store_memory",
                "--updates",
                str(args.updates),
                "--child",
                which,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        runs[which] = json.loads(out.stdout.strip().splitlines()[-1])
        summary = {k: v for k, v in runs[which].items() if k != "samples"}
        log(f"  {summary}")
    capped, defaults = runs["capped"], runs["defaults"]
    result = {
        "updates": args.updates,
        "runs": runs,
        "growth_ratio": round(
            defaults["growth_mb_per_100_updates"] / max(0.01, capped["growth_mb_per_100_updates"]),
            1,
        ),
        "search_ratio": round(capped["search_ms_p50"] / defaults["search_ms_p50"], 2),
    }
    log(f"wrote {write_result('store_memory', result)}")


if __name__ == "__main__":
    main()
