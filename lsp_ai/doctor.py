"""`lsp-ai doctor`: checks that each part of the environment works, by using it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lsp_ai.config import load_config
from lsp_ai.index.location import index_dir
from lsp_ai.inference.base import ModelError
from lsp_ai.languages import DOCTOR_GRAMMARS

Check = tuple[bool, str, str]


def run_checks(root: Path) -> Iterator[Check]:
    ok = sys.version_info >= (3, 11)
    yield ok, "python", sys.version.split()[0] + ("" if ok else " (lsp-ai needs 3.11 or newer)")

    cfg, problems = load_config(root)
    yield not problems, "config", "; ".join(problems) or "no problems"

    yield _llama_build()
    yield from _hardware()

    from lsp_ai.inference.factory import embedder_factory, text_model_factory

    for role in ("completion", "chat"):
        try:
            model = text_model_factory(role, getattr(cfg.models, role))()
            info = model.describe()
            fim = info.get("fim") or "none (prefix-only completion)"
            yield True, f"{role} model", f"{info.get('path')} loads; n_ctx {model.n_ctx}; FIM {fim}"
        except ModelError as exc:
            yield False, f"{role} model", str(exc)

    try:
        embedder = embedder_factory(cfg.models.embedding)()
        yield True, "embedding model", f"{embedder.name} loads; dimension {embedder.dimension}"
    except ModelError as exc:
        yield False, "embedding model", str(exc)

    yield _grammars()
    yield _ctags()
    yield _writable(index_dir(root.resolve(), cfg.index.db_path))


def _llama_build() -> Check:
    """OpenMP builds slow every completion by ~1.6x once chat has run."""
    from lsp_ai.inference.llama_cpp import uses_openmp

    if uses_openmp():
        return (
            False,
            "llama.cpp build",
            (
                "built with OpenMP: completion and chat on two threads make libgomp throttle, and "
                "completions get ~1.6x slower; reinstall with CMAKE_ARGS=-DGGML_OPENMP=OFF "
                "(bash scripts/install-llama-cpp.sh .venv/bin/python)"
            ),
        )
    return True, "llama.cpp build", "no OpenMP (ggml's own thread pool)"


# The README's tier table: (minimum GPU memory in GB, completion model, chat model).
TIERS = (
    (24, "Qwen2.5-Coder-7B Q4_K_M", "Qwen2.5-Coder-32B-Instruct Q4_K_M"),
    (12, "Qwen2.5-Coder-1.5B Q8_0", "Qwen2.5-Coder-14B-Instruct Q4_K_M"),
    (8, "Qwen2.5-Coder-1.5B Q8_0", "Qwen2.5-Coder-7B-Instruct Q4_K_M"),
)
CPU_TIER = ("Qwen2.5-Coder-1.5B Q4_K_M", "Qwen2.5-Coder-3B-Instruct Q4_K_M")


def total_ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 0.0


def nvidia_gpus() -> list[tuple[str, float]]:
    """(name, memory in GB) of each NVIDIA GPU nvidia-smi reports; [] without one."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in out.stdout.splitlines():
        name, _, mib = line.rpartition(",")
        try:
            gpus.append((name.strip(), float(mib) / 1024))
        except ValueError:
            continue
    return gpus


def suggest(gpu_gb: float, offload: bool) -> str:
    """The tier-table row for this machine, as configuration advice."""
    if offload and gpu_gb > 0:
        for minimum, completion, chat in TIERS:
            if gpu_gb >= minimum:
                return f"completion {completion}, chat {chat}, n_gpu_layers = -1 for both"
    completion, chat = CPU_TIER
    return f"completion {completion}, chat {chat}, on the CPU (n_gpu_layers = 0)"


def _hardware() -> Iterator[Check]:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    features = [
        f.split("=")[0].replace("CPU :", "").strip()
        for f in info.split("|")
        if f.strip().endswith("= 1")
    ]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    yield True, "machine", f"{total_ram_gb():.0f} GB RAM, {cores} cores; CPU: {' '.join(features)}"
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    gpus = nvidia_gpus()
    if gpus:
        names = ", ".join(f"{n} ({gb:.0f} GB)" for n, gb in gpus)
        seen = names + (
            ""
            if offload
            else "; this llama.cpp build cannot offload to it "
            "(reinstall llama-cpp-python with CMAKE_ARGS=-DGGML_CUDA=on)"
        )
    else:
        seen = "none seen" + (" (this llama.cpp build could offload)" if offload else "")
    yield True, "GPU", seen
    best = max((gb for _, gb in gpus), default=0.0)
    yield True, "suggested models", suggest(best, offload)


def _grammars() -> Check:
    try:
        from tree_sitter_language_pack import get_parser

        for name in DOCTOR_GRAMMARS:
            get_parser(name).parse(b"x")  # type: ignore[arg-type]
    except Exception as exc:
        return False, "tree-sitter grammars", f"{type(exc).__name__}: {exc}"
    return True, "tree-sitter grammars", ", ".join(DOCTOR_GRAMMARS)


def _ctags() -> Check:
    exe = shutil.which("ctags")
    if exe is None:
        return True, "ctags", "not found (optional: apt-get install universal-ctags)"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, "ctags", f"{exe} does not run: {exc}"
    first = out.stdout.splitlines()[0] if out.stdout else ""
    if "Universal Ctags" not in first:
        return False, "ctags", f"{exe} is not Universal Ctags ({first}); install universal-ctags"
    return True, "ctags", first


def _writable(folder: Path) -> Check:
    """Can the index be written to `folder`? Checked without creating it.

    An empty index folder would look like a built index to commands that open only one that
    exists (`lsp-ai complete`).
    """
    try:
        place = folder if folder.is_dir() else folder.parent
        place.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=place):
            pass
    except OSError as exc:
        reason = f"{folder} is not writable ({exc.strerror}); set index.db_path"
        return False, "index folder", reason
    return True, "index folder", str(folder)
