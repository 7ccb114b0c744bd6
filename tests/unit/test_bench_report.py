"""The benchmark report builds from whatever suites ran, and names the ones that did not."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import report


def write(folder: Path, name: str, data: dict) -> None:
    (folder / f"{name}.json").write_text(json.dumps(data))


def test_report_from_one_suite_names_the_missing_ones(tmp_path: Path) -> None:
    rows = [
        {"layout": "none", "client_ms": 120.0, "raw_ms": 110.0},
        {"layout": "cache", "client_ms": 3.0},
        {"layout": "none", "client_ms": 300.0, "raw_ms": 280.0},
    ]
    write(
        tmp_path,
        "keystroke_replay",
        {
            "package": "requests==2.32.3",
            "functions": ["a.py:f"],
            "layouts": {
                "in_process": {"p50_ms": 120.0, "p95_ms": 300.0, "n": 2},
                "raw_llama": {"p50_ms": 110.0, "p95_ms": 280.0, "n": 2},
                "in_process_over_raw_llama_p50": 1.09,
            },
            "repo_context": {"exact_match": 0.2, "edit_similarity": 0.4},
            "rows": {"repo_context": rows},
        },
    )
    write(tmp_path, "runner", {"machine": {"cores": 2}, "quick": True, "seconds": 5, "suites": {}})

    text = (report.build(tmp_path)).read_text()

    assert "| lsp-ai, model in process | 120 | 300 | 2 |" in text
    assert "in process over raw llama p50 = 1.09" in text
    assert "## Chat" in text and "chat_ttft.json is missing" in text
    assert (tmp_path / "plots" / "completion_latency.png").stat().st_size > 1000
    assert "![completion_latency](plots/completion_latency.png)" in text
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["completion"]["layouts"]["in_process"]["p50_ms"] == 120.0
    assert "chat" not in figures


def test_soak_section_and_plot(tmp_path: Path) -> None:
    latency = {"n": 3, "p50": 120.0, "p95": 300.0, "p99": 900.0, "max": 900.0}
    write(
        tmp_path,
        "soak",
        {
            "duration_s": 60,
            "files": 30,
            "served": 40,
            "errors": 0,
            "unanswered": 0,
            "methods": {
                "textDocument/inlineCompletion": {
                    "requests": 40,
                    "outcomes": {"superseded": 30, "shown": 5, "cancelled": 5},
                    "latency_ms": latency,
                    "cancel_reply_ms": {"n": 5, "p50": 2.0, "p95": 9.0, "p99": 9.0},
                }
            },
            "streams": {
                "keystrokes": 300,
                "churn_events": {"create": 10, "delete": 4},
                "index_after_churn": {"converged": True, "seconds": 1.5, "live_files": 6},
            },
            "memory": {"warmup_s": 12.0, "rss_after_warmup_mb": 1100.0, "drift_mb": 3.5},
            "timeline": [
                {"s": float(s), "phase": "load", "rss_mb": 1100.0 + s / 10} for s in range(0, 60, 2)
            ],
        },
    )

    text = report.build(tmp_path).read_text()

    assert "**40 requests served, 0 errors, 0 unanswered.**" in text
    assert (
        "| `textDocument/inlineCompletion` | 40 | 30 | 5 (+0 late) | 0 | 120 | 300 | 900 | 9.0 |"
        in text
    )
    assert "drift 3.5 MB" in text and "matched the disk in 1.5 s" in text
    assert (tmp_path / "plots" / "soak.png").stat().st_size > 1000
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert "timeline" not in figures["soak"]


def test_store_memory_section_and_plot(tmp_path: Path) -> None:
    from benchmarks.store_memory import run_one

    capped = run_one(30, capped=True)  # the real store, briefly (the defaults run is a child)
    assert capped["samples"] and capped["cache_end_mb"] > 0 and capped["search_ms_p50"] > 0
    defaults = {**capped, "capped": False, "growth_mb_per_100_updates": 7.9, "rss_end_mb": 999.0}
    write(
        tmp_path,
        "store_memory",
        {"updates": 30, "runs": {"capped": capped, "defaults": defaults}, "growth_ratio": 4.1},
    )

    text = report.build(tmp_path).read_text()

    assert "## Chunk store memory" in text and "growth x4.1 with LanceDB's defaults" in text
    assert "| defaults | " in text and "| 999.0 |" in text
    assert (tmp_path / "plots" / "store_memory.png").stat().st_size > 1000
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert "samples" not in figures["chunk store memory"]["runs"]["capped"]


def test_contention_section_and_plot(tmp_path: Path) -> None:
    def level(every: float, auto: float, threads: int) -> dict:
        return {
            "every core": {"median_s": every, "threads": [2, 2]},
            "auto": {"median_s": auto, "threads": [threads, threads]},
            "ratio": round(auto / every, 2),
        }

    levels = {"0": level(3.2, 3.1, 2), "2": level(32.9, 9.1, 1)}
    write(tmp_path, "contention", {"cores": 2, "reps": 2, "busy_processes": levels})

    text = report.build(tmp_path).read_text()

    assert "| 2 | 32.9 (2) | 9.1 (1) | x0.28 |" in text
    assert (tmp_path / "plots" / "contention.png").stat().st_size > 1000
