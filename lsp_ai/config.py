"""Configuration: one schema, five layered sources, fail-soft validation.

Sources, later wins: built-in defaults < user config file < ``<root>/.lsp-ai.toml`` < LSP
``initializationOptions`` < ``workspace/didChangeConfiguration`` settings. The repository's file
is someone else's: the keys in ``needs_trust`` come from it only once the user trusted it
(lsp_ai/trust.py). Every source uses the
same keys (TOML tables are JSON objects). Each layer is validated onto the one below it, so a typo
never takes the server down: the bad key is reported, prefixed by its source, and keeps the value
from the lower layer while everything else in the layer still applies.

The schema lives in the dataclasses below: each leaf field carries its validation rule in its
metadata, so adding a key is one line and the checking code never grows an if-chain.
"""

import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from platformdirs import user_config_dir

from lsp_ai import trust
from lsp_ai.log_redaction import remember_secret

ENV_CONFIG = "LSP_AI_CONFIG"
PROJECT_FILE = trust.PROJECT_FILE
SETTINGS_SECTION = "lsp-ai"
_MASK = "***"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one key is checked; ``expect`` completes the sentence "<key> must be ...".

    ``secret`` keeps the rejected value out of the message, since it may be a credential.
    """

    expect: str
    accept: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda value: value
    secret: bool = False


def _is_int(value: Any) -> bool:
    # bool is a subclass of int, but `n_ctx = true` is a mistake, not 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def _one_of(*options: str) -> _Rule:
    return _Rule("one of " + ", ".join(options), lambda v: isinstance(v, str) and v in options)


_POSITIVE = _Rule("a positive integer", lambda v: _is_int(v) and v > 0)
_NON_NEGATIVE = _Rule("a non-negative integer", lambda v: _is_int(v) and v >= 0)
_THREADS = _Rule("a non-negative integer (0 means auto)", lambda v: _is_int(v) and v >= 0)
_GPU_LAYERS = _Rule("an integer >= -1 (-1 means all layers)", lambda v: _is_int(v) and v >= -1)
_TEMPERATURE = _Rule("a number from 0 to 2", lambda v: _is_number(v) and 0 <= v <= 2, float)
_STR = _Rule("a string", lambda v: isinstance(v, str))
_NAME = _Rule("a non-empty string", lambda v: isinstance(v, str) and v != "")
_SECRET = _Rule("a string", lambda v: isinstance(v, str), secret=True)
_BOOL = _Rule("true or false", lambda v: isinstance(v, bool))
_STR_LIST = _Rule(
    "a list of strings",
    lambda v: isinstance(v, list | tuple) and all(isinstance(s, str) for s in v),
    tuple,
)
# Secret patterns only add to the built-in list: a `!pattern` would take a secret off it.
_SECRET_PATTERNS = _Rule(
    "a list of gitignore-style patterns without negations ('!')",
    lambda v: _STR_LIST.accept(v) and not any(s.strip().startswith("!") for s in v),
    tuple,
)
_LLM_BACKEND = _one_of("llama_cpp", "openai")
_KV_CACHE = _one_of("f16", "q8_0", "q4_0")
_FIM_TEMPLATE = _one_of("auto", "qwen", "starcoder", "codellama", "deepseek", "none")


def _key(default: _T, rule: _Rule, *, shown: bool = True) -> _T:
    """Declare a leaf key; ``shown=False`` keeps secrets out of ``repr`` and thus out of logs."""
    return field(default=default, metadata={"rule": rule}, repr=shown)


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The keys every model role has: backend and model, where it runs, the server to reach.

    Each role's section below states only what differs: its defaults and its own keys.
    """

    backend: str = _key("llama_cpp", _LLM_BACKEND)
    model: str = _key("default", _NAME)
    n_ctx: int = _key(2048, _POSITIVE)
    n_gpu_layers: int = _key(0, _GPU_LAYERS)
    n_threads: int = _key(0, _THREADS)
    base_url: str = _key("", _STR)
    api_key: str = _key("", _SECRET, shown=False)


@dataclass(frozen=True, slots=True)
class GenerativeModelConfig(ModelConfig):
    """What a model that writes text adds: its KV cache and its sampling."""

    # KV-cache precision: q8_0 halves its memory for long chat contexts (uses flash attention).
    kv_cache_type: str = _key("f16", _KV_CACHE)
    temperature: float = _key(0.0, _TEMPERATURE)


@dataclass(frozen=True, slots=True)
class CompletionModelConfig(GenerativeModelConfig):
    """Model behind ghost text (fill-in-the-middle); latency matters more than size here."""

    fim_template: str = _key("auto", _FIM_TEMPLATE)


@dataclass(frozen=True, slots=True)
class ChatModelConfig(GenerativeModelConfig):
    """Model behind codebase-aware chat; needs a larger context for retrieved snippets."""

    n_ctx: int = _key(8192, _POSITIVE)
    temperature: float = _key(0.2, _TEMPERATURE)
    max_tokens: int = _key(512, _POSITIVE)


@dataclass(frozen=True, slots=True)
class EmbeddingModelConfig(ModelConfig):
    """Model that embeds code chunks for the index; prefixes serve models trained with them."""

    backend: str = _key(
        "sentence_transformers", _one_of("sentence_transformers", "llama_cpp", "openai")
    )
    n_ctx: int = _key(512, _POSITIVE)
    query_prefix: str = _key("", _STR)
    document_prefix: str = _key("", _STR)


@dataclass(frozen=True, slots=True)
class RerankerConfig:
    """Optional second-stage reranker for chat retrieval; off by default to stay light."""

    enabled: bool = _key(False, _BOOL)
    model: str = _key("", _STR)


@dataclass(frozen=True, slots=True)
class ModelsConfig:
    """One entry per model role, so each can be sized and placed independently."""

    completion: CompletionModelConfig = field(default_factory=CompletionModelConfig)
    chat: ChatModelConfig = field(default_factory=ChatModelConfig)
    embedding: EmbeddingModelConfig = field(default_factory=EmbeddingModelConfig)
    reranker: RerankerConfig = field(default_factory=RerankerConfig)
    # More folders to look for GGUF files in (besides Hugging Face's cache, LM Studio, Ollama).
    paths: tuple[str, ...] = _key((), _STR_LIST)


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """Codebase index; ``db_path = ""`` lets the indexer pick a per-project cache location."""

    db_path: str = _key("", _STR)
    exclude: tuple[str, ...] = _key((), _STR_LIST)
    max_file_bytes: int = _key(1_000_000, _POSITIVE)
    # More files that hold credentials, on top of the built-in list (index/secret_files.py):
    # never indexed, never in a prompt.
    secret_patterns: tuple[str, ...] = _key((), _SECRET_PATTERNS)


@dataclass(frozen=True, slots=True)
class CompletionConfig:
    """Ghost-text behaviour independent of which model produces it."""

    max_tokens: int = _key(64, _POSITIVE)
    multiline: str = _key("auto", _one_of("auto", "always", "never"))
    # RAG-light: other files' signatures and recently visited code at the top of the prompt.
    repo_context: bool = _key(True, _BOOL)
    # After showing a suggestion, compute the next one (as if accepted) while the user reads.
    speculative: bool = _key(True, _BOOL)


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """Chat behaviour independent of which model answers."""

    top_k: int = _key(8, _POSITIVE)
    # Prompt tokens spent on retrieved code and history. Prompt evaluation dominates time to
    # first token on a CPU (~300 tokens/s for a 135M model), so the default stays modest even
    # when the model's window is larger.
    context_tokens: int = _key(3072, _POSITIVE)


@dataclass(frozen=True, slots=True)
class ResourcesConfig:
    """The resource governor (lsp_ai/governor.py): what the assistant may take from the machine."""

    # Resident memory the server keeps within by releasing heap, emptying caches, shrinking
    # embedding batches and unloading idle models; 0 means no budget.
    max_rss_mb: int = _key(0, _NON_NEGATIVE)
    # Chat and embedding models unused this long are unloaded (and load again when needed);
    # 0 keeps them. The completion model always stays: keystroke latency is the product.
    unload_after_s: int = _key(900, _NON_NEGATIVE)
    # Indexing waits while a completion request or an edit came within this many ms.
    quiet_ms: int = _key(800, _NON_NEGATIVE)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; ``Config()`` is the built-in defaults."""

    models: ModelsConfig = field(default_factory=ModelsConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    completion: CompletionConfig = field(default_factory=CompletionConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``override``: tables merge recursively, other values replace.

    Neither argument is modified, so callers can keep their raw layers around.
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(dict(merged[key]), dict(value))
        else:
            merged[key] = value
    return merged


def _snake(key: str) -> str:
    """Map VS Code's camelCase (``nGpuLayers``) onto the schema's snake_case (``n_gpu_layers``)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def _show(value: Any, secret: bool = False) -> str:
    """Render a rejected value JSON-style, short, and never echo a secret back."""
    if secret:
        return type(value).__name__
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _apply(obj: Any, data: Any, path: str, errors: list[str]) -> Any:
    """Return dataclass ``obj`` with ``data`` applied; each bad entry is reported and skipped."""
    if not isinstance(data, Mapping):
        errors.append(f"{path or 'configuration'} must be a table (got {_show(data)})")
        return obj
    known = {f.name: f for f in fields(obj)}
    changes: dict[str, Any] = {}
    for raw_key, value in data.items():
        name = _snake(str(raw_key))
        dotted = f"{path}.{name}" if path else name
        spec = known.get(name)
        if spec is None:
            errors.append(f"unknown key {f'{path}.{raw_key}' if path else raw_key} (ignored)")
        elif value is None:
            pass  # editors send null for "not set": keep the lower layer's value, silently
        elif "rule" not in spec.metadata:
            changes[name] = _apply(changes.get(name, getattr(obj, name)), value, dotted, errors)
        elif spec.metadata["rule"].accept(value):
            changes[name] = spec.metadata["rule"].convert(value)
        else:
            rule = spec.metadata["rule"]
            errors.append(f"{dotted} must be {rule.expect} (got {_show(value, rule.secret)})")
    new = replace(obj, **changes)
    if getattr(new, "backend", None) == "openai" and not new.base_url:
        # The pair is what is invalid; the lower layer's pair was valid, so restore both.
        errors.append(f'{path}.base_url is required when backend is "openai"')
        new = replace(new, backend=obj.backend, base_url=obj.base_url)
    return new


def parse_config(data: Mapping[str, Any], base: Config | None = None) -> tuple[Config, list[str]]:
    """Apply one layer of raw settings onto ``base`` (default: built-in defaults).

    Never raises on bad user data: returns the new config and one message per problem.
    """
    errors: list[str] = []
    config: Config = _apply(base if base is not None else Config(), data, "", errors)
    return config, errors


def read_toml_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Read a TOML config file; a missing file is normal and yields no message."""
    data, problems, _ = read_toml_content(path)
    return data, problems


def read_toml_content(path: Path) -> tuple[dict[str, Any], list[str], bytes | None]:
    """The file's table, problems, and the bytes parsed (what trust is checked against)."""
    try:
        content = path.read_bytes()
        return tomllib.loads(content.decode("utf-8")), [], content
    except FileNotFoundError:
        return {}, [], None
    except (OSError, ValueError) as exc:  # ValueError covers TOMLDecodeError and bad UTF-8
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return {}, [f"{path}: cannot read config: {reason}; fix the file or remove it"], None


_MODEL_ROLES = ("completion", "chat", "embedding")


def _names_a_path(model: Any) -> bool:
    """A model value that is a file or folder (or a Hub id), not a name looked up locally."""
    if not isinstance(model, str):
        return False
    return (
        "/" in model
        or "\\" in model
        or model.startswith(("~", "."))
        or bool(re.match(r"[A-Za-z]:", model))
    )


def needs_trust(path: tuple[str, ...], value: Any) -> bool:
    """Whether a repository's file may set this key only once the user trusted it.

    These send code off the machine (a server's address, the openai backend), load a program
    or weights from anywhere (a model given as a path, the reranker, more model folders), hold
    a credential, or choose where data is written and deleted (the index folder).
    """
    match path:
        case ("index", "db_path") | ("models", "paths") | ("models", "reranker", "model"):
            return True
        case ("models", role, "base_url" | "api_key") if role in _MODEL_ROLES:
            return True
        case ("models", role, "backend") if role in _MODEL_ROLES:
            return value == "openai"
        case ("models", role, "model") if role in _MODEL_ROLES:
            return _names_a_path(value)
    return False


def without_untrusted(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``data`` less the keys ``needs_trust`` names, and their dotted names.

    Keys are matched as the schema reads them (camelCase too); a null value sets nothing, so
    it is neither removed nor reported.
    """
    removed: list[str] = []

    def walk(table: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for raw, value in table.items():
            here = (*path, _snake(str(raw)))
            if value is not None and needs_trust(here, value):
                removed.append(".".join(here))
            elif isinstance(value, Mapping) and len(here) < 3:
                kept[raw] = walk(value, here)
            else:
                kept[raw] = value
        return kept

    return walk(data, ()), removed


def _untrusted_message(path: Path, root: Path, removed: list[str]) -> str:
    return (
        f"{path}: ignored {', '.join(removed)}: a repository's own file may not send code off "
        "this machine, load programs, hold credentials or choose where data is written until "
        f"you trust it; if you wrote it, run `lsp-ai trust {root}` (again after each edit), "
        "or set these in your own config"
    )


def user_config_path() -> Path:
    """Per-user config file; ``$LSP_AI_CONFIG`` overrides it (tests, portable setups)."""
    override = os.environ.get(ENV_CONFIG, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(user_config_dir("lsp-ai", appauthor=False)) / "config.toml"


def load_config(
    root: Path | None = None,
    *,
    init_options: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[Config, list[str]]:
    """Build the effective config from every source, lowest priority first.

    ``settings`` may be the whole ``didChangeConfiguration`` payload or just its ``lsp-ai``
    section; clients differ, and no schema key is called ``lsp-ai``, so both are accepted.
    Every returned message starts with its source (a file path, ``initializationOptions`` or
    ``settings``) so the user knows where to fix it. An untrusted repository file loses the
    keys ``needs_trust`` names, reported in one message.
    """
    messages: list[str] = []
    layers: list[tuple[str, Any]] = []
    user_data, problems = read_toml_file(user_config_path())
    messages.extend(problems)
    layers.append((str(user_config_path()), user_data))
    if root is not None:
        path = root / PROJECT_FILE
        data, problems, content = read_toml_content(path)
        messages.extend(problems)
        if content is not None and not trust.is_trusted(root, content):
            data, removed = without_untrusted(data)
            if removed:
                messages.append(_untrusted_message(path, root, removed))
        layers.append((str(path), data))
    if init_options is not None:
        layers.append(("initializationOptions", init_options))
    if settings is not None:
        section = settings.get(SETTINGS_SECTION) if isinstance(settings, Mapping) else None
        layers.append(("settings", section if isinstance(section, Mapping) else settings))
    config = Config()
    for source, data in layers:
        config, problems = parse_config(data, config)
        messages.extend(f"{source}: {problem}" for problem in problems)
    for role in _MODEL_ROLES:
        remember_secret(getattr(config.models, role).api_key)  # masked in every log line
    return config, messages


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Plain snake_case dict for status output and ``lsp-ai models``; API keys are masked."""
    return _to_dict(cfg)


def _to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in fields(obj):
        value = getattr(obj, spec.name)
        if is_dataclass(value):
            value = _to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif spec.name == "api_key" and value:
            value = _MASK
        out[spec.name] = value
    return out
