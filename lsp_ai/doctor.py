"""`lsp-ai doctor`: checks that each part of the environment works, by using it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from platformdirs import user_cache_dir

from lsp_ai.config import load_config
from lsp_ai.inference.base import ModelError

Check = tuple[bool, str, str]
GRAMMARS = ("python", "javascript", "typescript", "go", "rust", "java", "c", "cpp")


def index_dir(db_path: str, root: Path) -> Path:
    return Path(db_path).expanduser() if db_path else Path(user_cache_dir("lsp-ai")) / "index"


def run_checks(root: Path) -> Iterator[Check]:
    ok = sys.version_info >= (3, 11)
    yield ok, "python", sys.version.split()[0] + ("" if ok else " (lsp-ai needs 3.11 or newer)")

    cfg, problems = load_config(root)
    yield not problems, "config", "; ".join(problems) or "no problems"

    yield _llama_build()

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
    yield _writable(index_dir(cfg.index.db_path, root))


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


def _grammars() -> Check:
    try:
        from tree_sitter_language_pack import get_parser

        for name in GRAMMARS:
            get_parser(name).parse(b"x")  # type: ignore[arg-type]
    except Exception as exc:
        return False, "tree-sitter grammars", f"{type(exc).__name__}: {exc}"
    return True, "tree-sitter grammars", ", ".join(GRAMMARS)


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
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = f"{folder} is not writable ({exc.strerror}); set index.db_path"
        return False, "index folder", reason
    return True, "index folder", str(folder)
