"""Turns a results folder into `report.md`, `figures.json` and PNG plots.

Input: the JSON files the suites wrote (`keystroke_replay.json`, `retrieval_quality*.json`,
`indexing.json`, `scaling.json`, `chat_ttft.json`, `memory.json`) and the runner's
`runner.json`. Every section is optional: a suite that did not run or failed is named as such
and the rest of the report still builds. `python -m benchmarks.report FOLDER` rebuilds a report
from files already there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Json = dict[str, Any]


def load(folder: Path, *names: str) -> Json | None:
    """The first of `names` (without .json) present in the folder."""
    for name in names:
        path = folder / f"{name}.json"
        if path.exists():
            data: Json = json.loads(path.read_text())
            return data
    return None


def ms(p: Json | None, key: str = "p50") -> str:
    return "-" if not p or key not in p else f"{p[key]:,.0f}" if p[key] >= 100 else f"{p[key]:.1f}"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- sections: each returns (markdown, figures for figures.json) ------------------------------


def completion_section(d: Json) -> tuple[str, Json]:
    layouts = d.get("layouts", {})
    rows = []
    for label, name in (
        ("in_process", "lsp-ai, model in process"),
        ("sidecar", "lsp-ai, model behind llama_cpp.server"),
        ("raw_llama", "raw `Llama.create_completion` (floor)"),
    ):
        if label in layouts:
            x = layouts[label]
            rows.append([name, f"{x['p50_ms']:.0f}", f"{x['p95_ms']:.0f}", x["n"]])
    ctx, no_ctx = d.get("repo_context", {}), d.get("no_repo_context", {})
    ratios = ", ".join(
        f"{k.replace('_', ' ')} = {v}" for k, v in layouts.items() if not isinstance(v, dict)
    )
    md = [
        f"Keystroke replay of {len(d.get('functions', []))} functions of `{d.get('package')}` "
        f"typed into the real server; latency of the requests the model answered "
        f"(client side, ms).",
        "",
        table(["layout", "p50", "p95", "requests"], rows),
        "",
        f"Ratios: {ratios}." if ratios else "",
        "",
        table(
            ["", "with repo context", "without"],
            [
                [
                    "exact match (next line)",
                    ctx.get("exact_match", "-"),
                    no_ctx.get("exact_match", "-"),
                ],
                [
                    "edit similarity",
                    ctx.get("edit_similarity", "-"),
                    no_ctx.get("edit_similarity", "-"),
                ],
                [
                    "tokens evaluated, first request in a file (p50)",
                    ms(ctx.get("evaluated_tokens_cold")),
                    ms(no_ctx.get("evaluated_tokens_cold")),
                ],
                [
                    "tokens evaluated, typing on (p50)",
                    ms(ctx.get("evaluated_tokens_warm")),
                    ms(no_ctx.get("evaluated_tokens_warm")),
                ],
                [
                    "prompt tokens reused from the KV cache",
                    ctx.get("kv_reuse_share", "-"),
                    no_ctx.get("kv_reuse_share", "-"),
                ],
            ],
        ),
    ]
    if "defaults" in d:
        spec = d["defaults"]
        md += [
            "",
            f"Defaults (speculation on): {spec.get('speculative_hits', 0)} requests answered "
            f"from the speculative next completion; client p50 {ms(spec.get('client_ms'))} ms.",
        ]
    figures = {"layouts": layouts, "with_context": ctx, "without_context": no_ctx}
    return "\n".join(md), figures


def indexing_section(d: Json) -> tuple[str, Json]:
    stages = d.get("stages_s", {})
    md = [
        f"Full index of {', '.join(d.get('packages', []))}: {d.get('files')} files, "
        f"{d.get('chunks')} chunks in {d.get('full_index_s')} s = {d.get('chunks_per_s')} "
        f"chunks/s; the embedder alone on the same chunks: {d.get('raw_chunks_per_s')} chunks/s "
        f"(pipeline overhead {d.get('pipeline_overhead_vs_raw_embed')}).",
        "",
        table(["stage", "seconds"], [[k, v] for k, v in stages.items()]),
        "",
        f"Unchanged re-open: {d.get('reopen_unchanged_process_s')} s for the whole process, "
        f"{d.get('reopen_unchanged_crawl_s')} s of it the crawl. Save to searchable: "
        f"p50 {ms(d.get('save_to_searchable_ms'))} ms, "
        f"p95 {ms(d.get('save_to_searchable_ms'), 'p95')} ms. Peak RSS {d.get('peak_rss_mb')} MB.",
    ]
    return "\n".join(md), {k: v for k, v in d.items() if k != "machine"}


def chat_section(d: Json) -> tuple[str, Json]:
    parts = [
        ("retrieval", "retrieval_ms"),
        ("prompt build", "prompt_build_ms"),
        ("model, to first token", "model_first_token_ms"),
        ("client, to first delta", "client_first_delta_ms"),
        ("server's share (retrieval + prompt)", "server_share_ms"),
    ]
    rows = [[name, ms(d.get(key)), ms(d.get(key), "p95")] for name, key in parts]
    md = [
        f"`$/chat` time to first token on a {d.get('files')}-file workspace, "
        f"{d.get('questions')} questions, prompt tokens p50 {ms(d.get('prompt_tokens'))}.",
        "",
        table(["stage", "p50 ms", "p95 ms"], rows),
    ]
    return "\n".join(md), {k: v for k, v in d.items() if k not in ("machine", "rows")}


SECTIONS: list[tuple[str, tuple[str, ...], Callable[[Json], tuple[str, Json]]]] = [
    ("Completion", ("keystroke_replay",), completion_section),
    ("Indexing", ("indexing",), indexing_section),
    ("Chat", ("chat_ttft",), chat_section),
]


def build(folder: Path) -> Path:
    """Write report.md, figures.json and plots/*.png for one results folder."""
    runner = load(folder, "runner") or {}
    figures: Json = {"machine": runner.get("machine"), "runner": runner.get("suites")}
    md = [f"# lsp-ai benchmark report ({folder.name})", "", machine_line(runner), ""]
    for title, names, section in SECTIONS:
        data = load(folder, *names)
        md += [f"## {title}", ""]
        if data is None:
            md += [f"Not measured in this run ({' / '.join(names)}.json is missing).", ""]
            continue
        text, figs = section(data)
        figures[title.lower()] = figs
        md += [text, ""]
    plots = draw_plots(folder)
    if plots:
        md += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots] + [""]
    (folder / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    path = folder / "report.md"
    path.write_text("\n".join(md))
    return path


def machine_line(runner: Json) -> str:
    m = runner.get("machine") or {}
    if not m:
        return ""
    suites = runner.get("suites", {})
    took = ", ".join(
        f"{k} {v['seconds']} s" + ("" if not v["exit"] else " (FAILED)") for k, v in suites.items()
    )
    mode = "quick" if runner.get("quick") else "full"
    return (
        f"Machine: {m.get('cpu_model', m.get('cpu'))}, {m.get('cores')} cores, "
        f"{m.get('ram_gb', '?')} GB RAM, Python {m.get('python')}. Models: {runner.get('models')}. "
        f"Mode: {mode}, {runner.get('seconds')} s in all ({took})."
    )


def draw_plots(folder: Path) -> list[Path]:
    """One PNG per plot whose data is in the folder; matplotlib draws off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    out = folder / "plots"
    out.mkdir(exist_ok=True)
    drawn = []
    for name, source, plot in PLOTS:
        data = load(folder, *source)
        if data is None:
            continue
        fig = plt.figure(figsize=(7, 4), dpi=110)
        if plot(fig, data):
            fig.tight_layout()
            fig.savefig(out / f"{name}.png")
            drawn.append(out / f"{name}.png")
        plt.close(fig)
    return drawn


def _model_rows(rows: list[Json]) -> list[Json]:
    return [r for r in rows if r.get("layout") not in (None, "", "cache", "speculative")]


def plot_completion_latency(fig: Any, d: Json) -> bool:
    """CDF of per-request latency: in process, sidecar, raw call (model-answered requests)."""
    rows = d.get("rows", {})
    series = {
        "lsp-ai, in process": [r["client_ms"] for r in _model_rows(rows.get("repo_context", []))],
        "lsp-ai, sidecar": [r["client_ms"] for r in _model_rows(rows.get("sidecar", []))],
        "raw Llama call": [r["raw_ms"] for r in rows.get("repo_context", []) if "raw_ms" in r],
    }
    ax = fig.add_subplot()
    for label, values in series.items():
        if values:
            xs = sorted(values)
            ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("latency per completion request (ms, log)")
    ax.set_ylabel("share of requests")
    ax.set_title("Completion latency, keystroke replay")
    ax.grid(alpha=0.3)
    ax.legend()
    return any(series.values())


def plot_stage_bars(title: str, unit: str, stages: dict[str, float]) -> Callable[[Any], bool]:
    def draw(fig: Any) -> bool:
        ax = fig.add_subplot()
        ax.barh(list(stages), list(stages.values()), color="tab:blue")
        ax.set_xlabel(unit)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        return bool(stages)

    return draw


def plot_indexing_stages(fig: Any, d: Json) -> bool:
    stages = dict(d.get("stages_s", {}))
    if d.get("raw_embed_s"):
        stages["embedder alone (ceiling)"] = d["raw_embed_s"]
    title = f"Indexing time by stage ({d.get('chunks')} chunks)"
    return plot_stage_bars(title, "seconds", stages)(fig)


def plot_chat_stages(fig: Any, d: Json) -> bool:
    keys = ("retrieval_ms", "prompt_build_ms", "model_first_token_ms")
    stages = {k.removesuffix("_ms").replace("_", " "): d[k]["p50"] for k in keys if d.get(k)}
    return plot_stage_bars("Chat time to first token, p50 by stage", "ms", stages)(fig)


PLOTS: list[tuple[str, tuple[str, ...], Callable[[Any, Json], bool]]] = [
    ("completion_latency", ("keystroke_replay",), plot_completion_latency),
    ("indexing_stages", ("indexing",), plot_indexing_stages),
    ("chat_stages", ("chat_ttft",), plot_chat_stages),
]


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
