"""Turns a results folder into `report.md`, `figures.json` and PNG plots.

Input: the JSON files the suites wrote (`keystroke_replay.json`, `retrieval_quality*.json`,
`indexing.json`, `scaling.json`, `chat_ttft.json`, `memory.json`, `soak.json`,
`governor.json`) and the runner's
`runner.json`. Every section is optional: a suite that did not run or failed is named as such
and the rest of the report still builds. `python -m benchmarks.report FOLDER` rebuilds a report
from files already there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import ran_model

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


def retrieval_section(d: Json) -> tuple[str, Json]:
    methods = d.get("methods", [])
    rows = []
    for name, c in d.get("corpora", {}).items():
        scores = c.get("methods", {})
        best = max(scores, key=lambda m: scores[m]["mrr"], default=None)
        cells = [
            f"**{scores[m]['mrr']:.3f}**" if m == best else f"{scores[m]['mrr']:.3f}"
            for m in methods
            if m in scores
        ]
        rows.append([f"{name} ({c.get('language')}, {c.get('chunks')} chunks)", *cells])
    latency = {
        m: max(c["methods"][m]["latency_ms"]["p50"] for c in d["corpora"].values())
        for m in methods
        if all(m in c.get("methods", {}) for c in d.get("corpora", {}).values())
    }
    md = [
        "MRR@10 per corpus and method (best in bold); every query's hit is judged at chunk "
        "level, except the grep baseline, which returns files (the file-level tables in "
        "`retrieval_quality*.md` judge every method by file).",
        "",
        table(["corpus", *methods], rows),
        "",
        "Slowest corpus's p50 query latency (ms): "
        + ", ".join(f"{m} {v:.0f}" for m, v in latency.items())
        + ".",
    ]
    md += [f"{m}: {why}" for m, why in d.get("not_measured", {}).items()]
    md += [f"Not run: {name}: {why}" for name, why in d.get("failed", {}).items()]
    figures = {
        name: {"language": c.get("language"), "source": c.get("source"), "methods": c["methods"]}
        for name, c in d.get("corpora", {}).items()
    }
    return "\n".join(md), {"corpora": figures, "not_measured": d.get("not_measured", {})}


def scaling_section(d: Json) -> tuple[str, Json]:
    rows = [
        [
            s["files"],
            s["chunks"],
            s["seconds"],
            s["chunks_per_s"],
            s["ms_per_chunk"],
            s["peak_rss_mb"],
        ]
        for s in d.get("sizes", [])
    ]
    bent = [g for g in d.get("growth", []) if not g.get("linear", True)]
    md = [
        "Full index of workspaces of real Python sources, each size in a fresh process and index.",
        "",
        table(["files", "chunks", "seconds", "chunks/s", "ms/chunk", "peak RSS MB"], rows),
        "",
        "Growth smallest to largest: "
        + (
            "every metric within the linear limit "
            f"({d.get('linear_limit', 1.5)}x per unit of work)."
            if not bent
            else "not linear: " + "; ".join(f"{g['metric']} x{g['ratio']}" for g in bent) + "."
        ),
        "",
        *[f"- {line}" for line in d.get("findings", [])],
    ]
    return "\n".join(md), {"sizes": d.get("sizes"), "growth": d.get("growth")}


def memory_section(d: Json) -> tuple[str, Json]:
    names = {
        "idle_after_initialize": "idle, right after initialize",
        "after_indexing": f"after indexing {d.get('files')} files",
        "chat_and_completions": "chat and completions together",
    }
    rows = []
    for p in d.get("phases", []):
        peak = p.get("peak_rss_mb", p.get("hwm_mb"))
        rows.append([names.get(p["phase"], p["phase"]), p.get("rss_mb", p.get("end_rss_mb")), peak])
    md = [
        "Resident memory of the real `lsp-ai serve` process (and its children).",
        "",
        table(["moment", "RSS MB", "peak MB"], rows),
    ]
    for p in d.get("phases", []):
        if p.get("completion_s"):
            done = sorted(p["completion_s"])
            md += [
                "",
                f"While the chat ran ({', '.join(f'{c:.1f}' for c in p.get('chat_s', []))} s), "
                f"{len(done)} completions took {done[len(done) // 2]:.2f} s p50 and "
                f"{done[-1]:.2f} s at most.",
            ]
    return "\n".join(md), {"phases": d.get("phases")}


def governor_section(d: Json) -> tuple[str, Json]:
    """Completion latency while a full index runs vs idle, per governor setting."""
    rows = []
    for label, r in d.get("settings", {}).items():
        busy, idle = r.get("model_runs_busy", {}), r.get("model_runs_idle", {})
        rows.append(
            [
                f"{label} (quiet_ms {r.get('quiet_ms')})",
                f"{ms(busy)} / {ms(busy, 'mean')}",
                f"{ms(idle)} / {ms(idle, 'mean')}",
                f"x{r.get('model_ratio_p50')} / x{r.get('model_ratio_mean')}",
                f"x{r.get('ratio_mean')}",
                "yes" if r.get("crawl_running_after_busy") else "no",
                f"{r.get('rss_max_mb')} / {r.get('budget_mb')}",
            ]
        )
    header = [
        "setting",
        "model runs during index p50 / mean ms",
        "idle p50 / mean ms",
        "ratio p50 / mean",
        "every keystroke, ratio of means",
        "index still running after",
        "max RSS / budget MB",
    ]
    md = [
        f"{d.get('keys')} keystrokes typed (a completion after each) while a full index of "
        f"{d.get('files')} files ran, then the same keystrokes on the idle server.",
        "",
        table(header, rows),
    ]
    return "\n".join(md), {
        "settings": {
            k: {x: v for x, v in r.items() if x != "timeline"}
            for k, r in d.get("settings", {}).items()
        }
    }


def plot_governor(fig: Any, d: Json) -> bool:
    settings = d.get("settings", {})
    if not settings:
        return False
    ax = fig.add_subplot()
    names = list(settings)
    for i, phase in enumerate(("model_runs_busy", "model_runs_idle")):
        values = [settings[n].get(phase, {}).get("mean", 0) for n in names]
        ax.bar(
            [x + i * 0.4 for x in range(len(names))],
            values,
            width=0.4,
            label="during a full index" if i == 0 else "idle",
        )
    ax.set_xticks([x + 0.2 for x in range(len(names))], names)
    ax.set(
        ylabel="mean ms of completions that ran the model",
        title="Completion latency while indexing",
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return True


SOAK_HEADER = ["request", "sent", "superseded", "cancelled", "errors", "p50", "p95", "p99"]


def soak_rows(methods: Json) -> list[list[Any]]:
    """Per request method: outcomes, latency of answers and cancel-to-reply time (ms)."""
    rows = []
    for name, m in methods.items():
        o, lat = m.get("outcomes", {}), m.get("latency_ms")
        cancelled = f"{o.get('cancelled', 0)} (+{o.get('late_cancel', 0)} late)"
        counts = [m.get("requests"), o.get("superseded", 0), cancelled, o.get("error", 0)]
        latency = [ms(lat, q) for q in ("p50", "p95", "p99")]
        rows.append([f"`{name}`", *counts, *latency, ms(m.get("cancel_reply_ms"), "p99")])
    return rows


def soak_memory_line(mem: Json) -> str:
    threads, fds = mem.get("threads", {}), mem.get("fds", {})
    return (
        f"Server RSS: {mem.get('rss_after_warmup_mb')} MB after the warm-up "
        f"({mem.get('warmup_s')} s), {mem.get('rss_end_mb')} MB at the end of the load: drift "
        f"{mem.get('drift_mb')} MB, slope {mem.get('slope_mb_per_min')} MB/min; max "
        f"{mem.get('rss_max_mb')} MB. Threads {threads.get('after_warmup')} -> "
        f"{threads.get('end')}, open files {fds.get('after_warmup')} -> {fds.get('end')}."
    )


def soak_index_line(index: Json) -> str:
    if index.get("converged"):
        return (
            f"Index after the churn stopped: matched the disk in {index.get('seconds')} s "
            f"({index.get('live_files')} live files, {index.get('gone_tokens')} removed or "
            "replaced functions)."
        )
    return (
        f"Index after the churn stopped: did not match the disk in {index.get('seconds')} s: "
        f"missing {index.get('missing')}, stale {index.get('stale')}."
    )


def soak_section(d: Json) -> tuple[str, Json]:
    streams = d.get("streams", {})
    md = [
        f"{d.get('duration_s', 0):.0f} s of concurrent traffic on a {d.get('files', '?')}-file "
        f"workspace: a typist ({streams.get('keystrokes')} keystrokes, an inline completion "
        "after each), chat with cancellation, search and status, and "
        f"{sum(streams.get('churn_events', {}).values())} file-system changes from outside. "
        f"**{d.get('served')} requests served, {d.get('errors')} errors, "
        f"{d.get('unanswered')} unanswered.** Latency of the answers (cancelled ones apart), ms:",
        "",
        table([*SOAK_HEADER, "cancel to reply p99"], soak_rows(d.get("methods", {}))),
        "",
        soak_memory_line(d.get("memory", {})),
        "",
        soak_index_line(streams.get("index_after_churn", {})),
    ]
    if stages := d.get("chat_stages_ms"):
        md += ["", "Chat stages, p50 ms: " + ", ".join(f"{k} {ms(v)}" for k, v in stages.items())]
    errors = d.get("first_errors", [])[:5]
    md += [f"- error at {e['s']} s, `{e['method']}`: {e['message']}" for e in errors]
    skip = ("machine", "timeline", "rows")
    return "\n".join(md), {k: v for k, v in d.items() if k not in skip}


def build(folder: Path) -> Path:
    """Write report.md, figures.json and plots/*.png for one results folder."""
    runner = load(folder, "runner") or {}
    figures: Json = {"machine": runner.get("machine"), "runner": runner.get("suites")}
    md = [f"# lsp-ai benchmark report ({folder.name})", "", machine_line(runner), ""]
    plots = []
    for part in PARTS:
        data = load(folder, *part.sources)
        md += [f"## {part.title}", ""]
        if data is None:
            md += [f"Not measured in this run ({' / '.join(part.sources)}.json is missing).", ""]
            continue
        text, figs = part.section(data)
        figures[part.title.lower()] = figs
        md += [text, ""]
        if (png := draw(folder / "plots", part.plot_name, part.plot, data)) is not None:
            plots.append(png)
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


def draw(out: Path, name: str, plot: Callable[[Any, Json], bool], data: Json) -> Path | None:
    """`plot` drawn off-screen into out/name.png; None when the data has nothing to show."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig = plt.figure(figsize=(7, 4), dpi=110)
    try:
        if not plot(fig, data):
            return None
        out.mkdir(exist_ok=True)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png")
        return out / f"{name}.png"
    finally:
        plt.close(fig)


def plot_completion_latency(fig: Any, d: Json) -> bool:
    """CDF of per-request latency: in process, sidecar, raw call (model-answered requests)."""
    inproc, sidecar = (d.get("rows", {}).get(run, []) for run in ("repo_context", "sidecar"))
    series = {
        "lsp-ai, in process": [r["client_ms"] for r in inproc if ran_model(r)],
        "lsp-ai, sidecar": [r["client_ms"] for r in sidecar if ran_model(r)],
        "raw Llama call": [r["raw_ms"] for r in inproc if "raw_ms" in r],
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


def plot_recall_at_k(fig: Any, d: Json) -> bool:
    corpora = d.get("corpora", {})
    if not corpora:
        return False
    cols = min(3, len(corpora))
    rows = -(-len(corpora) // cols)
    fig.set_size_inches(3.4 * cols, 2.8 * rows)
    for i, (name, c) in enumerate(corpora.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        for method, m in c["methods"].items():
            ax.plot(
                [1, 5, 10], [m["recall@1"], m["recall@5"], m["recall@10"]], marker="o", label=method
            )
        ax.set_title(f"{name} ({c.get('language')})", fontsize=9)
        ax.set_xticks([1, 5, 10])
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.set_ylabel("recall@k")
            ax.legend(fontsize=7)
    return True


def plot_scaling(fig: Any, d: Json) -> bool:
    from matplotlib.ticker import NullFormatter

    sizes = d.get("sizes", [])
    if len(sizes) < 2:
        return False
    files = [s["files"] for s in sizes]
    seconds = [s["seconds"] for s in sizes]
    left = fig.add_subplot(1, 2, 1)
    left.plot(files, seconds, marker="o", label="measured")
    # Linear growth from the smallest size, per chunk indexed: the line to compare with.
    per_chunk = seconds[0] / sizes[0]["chunks"]
    left.plot(
        files,
        [per_chunk * s["chunks"] for s in sizes],
        "--",
        color="grey",
        label="linear in chunks",
    )
    left.set(xscale="log", yscale="log", xlabel="files", ylabel="full index, seconds")
    left.legend(fontsize=8)
    right = fig.add_subplot(1, 2, 2)
    right.plot(files, [s["peak_rss_mb"] for s in sizes], marker="o", color="tab:red")
    right.set(xscale="log", xlabel="files", ylabel="peak RSS, MB")
    right.set_ylim(bottom=0)
    for ax in (left, right):
        ax.set_xticks(files, [f"{f:,}" for f in files])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
    left.set_yticks(seconds, [f"{v:,.0f}" for v in seconds])
    left.yaxis.set_minor_formatter(NullFormatter())
    fig.suptitle("Indexing cost as the workspace grows")
    return True


def plot_memory(fig: Any, d: Json) -> bool:
    timeline = d.get("timeline", [])
    if not timeline:
        return False
    ax = fig.add_subplot()
    for phase in dict.fromkeys(t["phase"] for t in timeline):
        points = [t for t in timeline if t["phase"] == phase]
        ax.plot([t["s"] for t in points], [t["tree_rss_mb"] for t in points], label=phase)
    ax.set(xlabel="seconds", ylabel="RSS of lsp-ai serve, MB", title="Server memory over a session")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    return True


def plot_soak(fig: Any, d: Json) -> bool:
    """RSS over the run (warm-up marked), and latency percentiles per request method."""
    timeline = d.get("timeline", [])
    methods = {k: m for k, m in d.get("methods", {}).items() if m.get("latency_ms")}
    if not timeline or not methods:
        return False
    fig.set_size_inches(10, 4)
    left = fig.add_subplot(1, 2, 1)
    for phase in dict.fromkeys(t["phase"] for t in timeline):
        points = [t for t in timeline if t["phase"] == phase]
        left.plot([t["s"] for t in points], [t["rss_mb"] for t in points], label=phase)
    if (warmup := d.get("memory", {}).get("warmup_s")) is not None:
        left.axvline(warmup, color="grey", linestyle="--", label="end of warm-up")
    left.set(xlabel="seconds", ylabel="RSS of lsp-ai serve, MB", title="Memory under load")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    right = fig.add_subplot(1, 2, 2)
    names = list(methods)
    for i, q in enumerate(("p50", "p95", "p99")):
        xs = [n + (i - 1) * 0.27 for n in range(len(names))]
        right.bar(xs, [methods[n]["latency_ms"][q] for n in names], width=0.27, label=q)
    short = [n.replace("textDocument/", "").replace(", after the run", " (after)") for n in names]
    right.set_xticks(range(len(names)), short, rotation=30, ha="right", fontsize=7)
    right.set(yscale="log", ylabel="ms (log)", title="Latency per request")
    right.grid(axis="y", alpha=0.3)
    right.legend(fontsize=8)
    return True


def store_memory_section(d: Json) -> tuple[str, Json]:
    """The chunk store's RSS over many small commits, lsp-ai's cache caps vs LanceDB's."""
    runs = d.get("runs", {})
    rows = [
        [
            label,
            r.get("rss_after_warmup_mb"),
            r.get("rss_end_mb"),
            r.get("growth_mb_per_100_updates"),
            r.get("cache_end_mb"),
            r.get("search_ms_p50"),
        ]
        for label, r in runs.items()
    ]
    header = [
        "LanceDB caches",
        "RSS after warm-up MB",
        "RSS at the end MB",
        "growth MB / 100 updates",
        "cached MB at the end",
        "search p50 ms",
    ]
    md = [
        f"{d.get('updates')} file updates (replace or remove, a hybrid search after each) on "
        "the real chunk store, freed heap given back before each sample: growth "
        f"x{d.get('growth_ratio')} with LanceDB's defaults, search time x{d.get('search_ratio')} "
        "with the caps.",
        "",
        table(header, rows),
    ]
    slim = {k: {x: v for x, v in r.items() if x != "samples"} for k, r in runs.items()}
    return "\n".join(md), {
        "runs": slim,
        "growth_ratio": d.get("growth_ratio"),
        "search_ratio": d.get("search_ratio"),
    }


def contention_section(d: Json) -> tuple[str, Json]:
    """Completion time beside busy processes: auto threads vs every core."""
    levels = d.get("busy_processes", {})
    rows = [
        [
            busy,
            f"{r['every core']['median_s']} ({r['every core']['threads'][0]})",
            f"{r['auto']['median_s']} ({r['auto']['threads'][0]})",
            f"x{r['ratio']}",
        ]
        for busy, r in levels.items()
    ]
    header = [
        "busy processes",
        "every core: s (threads)",
        "auto: s (threads)",
        "auto / every core",
    ]
    md = [
        f"A cold completion (~450-token prompt, 32 tokens), median of {d.get('reps')}, on "
        f"{d.get('cores')} cores beside processes that each spin on a core.",
        "",
        table(header, rows),
    ]
    return "\n".join(md), {"busy_processes": levels}


def agent_context_section(d: Json) -> tuple[str, Json]:
    """search_code (per token budget) against grep: recall and tokens, then tool latency."""
    corpora, pooled = d.get("corpora", {}), d.get("pooled", {})
    rows = [
        [name, method, m["queries"], m["recall@k"], m["tokens_per_query"],
         c["verdicts"].get(method, {}).get("token_share", 1.0)]
        for name, c in [*corpora.items(), ("all", pooled)] if c
        for method, m in c["methods"].items()
    ]  # fmt: skip
    header = ["corpus", "method", "queries", "recall", "tokens/query", "share of grep's tokens"]
    md = [
        f"For each docstring query, what an agent reads: `search_code` (k={d.get('k')}, "
        "`max_tokens` as named) against grep (the query's words; "
        f"{d.get('window_lines')} lines each side of the best matches in the top k files). "
        "Recall: the function is in what was read. Tokens by SmolLM2's tokenizer.",
        "",
        table(header, rows),
    ]
    if pooled:
        met = [m for m, v in pooled["verdicts"].items() if v["met"]]
        md += ["", "Target (recall at least grep's at no more than 40% of its tokens): "
               + (f"met by {', '.join(met)}." if met else "not met.")]  # fmt: skip
    lat_rows = [
        [size, run.get("files"), tool, p.get("p50"), p.get("p95")]
        for size, run in d.get("latency", {}).items()
        for tool, p in run.get("tools_ms", {}).items()
    ]
    if lat_rows:
        md += ["", table(["workspace", "files", "tool", "p50 ms", "p95 ms"], lat_rows)]
    return "\n".join(md), {"pooled": pooled, "latency": d.get("latency", {})}


def plot_agent_context(fig: Any, d: Json) -> bool:
    corpora = d.get("corpora", {})
    if not corpora:
        return False
    ax = fig.add_subplot()
    methods = next(iter(corpora.values()))["methods"]
    for method in methods:
        xs = [c["methods"][method]["tokens_per_query"] for c in corpora.values()]
        ys = [c["methods"][method]["recall@k"] for c in corpora.values()]
        ax.scatter(xs, ys, marker="s" if method == "grep" else "o", label=method)
    ax.set(xlabel="tokens read per query", ylabel="recall", title="What an agent reads")
    ax.grid(alpha=0.3)
    ax.legend()
    return True


def plot_contention(fig: Any, d: Json) -> bool:
    levels = d.get("busy_processes", {})
    if not levels:
        return False
    ax = fig.add_subplot()
    for i, label in enumerate(("every core", "auto")):
        xs = [n + (i - 0.5) * 0.4 for n in range(len(levels))]
        ax.bar(xs, [r[label]["median_s"] for r in levels.values()], width=0.4, label=label)
    ax.set_xticks(range(len(levels)), list(levels))
    ax.set(xlabel="processes spinning beside lsp-ai", ylabel="seconds per completion")
    ax.set_title("Completion time under CPU contention")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="threads")
    return True


def plot_store_memory(fig: Any, d: Json) -> bool:
    runs = d.get("runs", {})
    if not runs:
        return False
    ax = fig.add_subplot()
    for label, r in runs.items():
        samples = r.get("samples", [])
        ax.plot([s["updates"] for s in samples], [s["rss_mb"] for s in samples], label=label)
    ax.set(xlabel="file updates", ylabel="RSS, MB", title="Chunk store memory over commits")
    ax.grid(alpha=0.3)
    ax.legend(title="LanceDB caches")
    return True


@dataclass(frozen=True)
class Part:
    """One suite's part of the report: its JSON file, its section and its plot."""

    title: str
    sources: tuple[str, ...]  # JSON names, without .json; the first present is used
    section: Callable[[Json], tuple[str, Json]]
    plot_name: str
    plot: Callable[[Any, Json], bool]


RETRIEVAL = ("retrieval_quality", "retrieval_quality-quick")
PARTS = [
    Part(
        "Completion",
        ("keystroke_replay",),
        completion_section,
        "completion_latency",
        plot_completion_latency,
    ),
    Part("Retrieval", RETRIEVAL, retrieval_section, "retrieval_recall", plot_recall_at_k),
    Part("Indexing", ("indexing",), indexing_section, "indexing_stages", plot_indexing_stages),
    Part("Scaling", ("scaling",), scaling_section, "scaling", plot_scaling),
    Part("Chat", ("chat_ttft",), chat_section, "chat_stages", plot_chat_stages),
    Part("Memory", ("memory",), memory_section, "memory", plot_memory),
    Part("Soak", ("soak",), soak_section, "soak", plot_soak),
    Part("Resource governor", ("governor",), governor_section, "governor", plot_governor),
    Part("CPU contention", ("contention",), contention_section, "contention", plot_contention),
    Part(
        "Agent context (MCP)",
        ("agent_context", "agent_context-quick"),
        agent_context_section,
        "agent_context",
        plot_agent_context,
    ),
    Part(
        "Chunk store memory",
        ("store_memory",),
        store_memory_section,
        "store_memory",
        plot_store_memory,
    ),
]


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
