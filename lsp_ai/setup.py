"""`lsp-ai setup`: choose models for this machine, pull them, point the user config at them.

It proposes a completion (FIM) and a chat preset from RAM and GPU memory (the README's table),
says how much it would download and roughly how fast each would answer, and on confirmation
pulls both, sets `models.completion` and `models.chat` in the user config (leaving every other
key, and the comments, as they were) and runs one completion and one chat as a check. Once
both roles name a model, running it again changes nothing unless `--reconfigure` is given.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsp_ai.inference.presets import PRESETS, Preset

ROLES = ("completion", "chat")
# Memory bandwidth that generation runs at, roughly: each token reads every weight once.
CPU_GB_S = 20.0
GPU_GB_S = 300.0


class SetupError(Exception):
    """A failed setup; the message is the one line the user sees."""


@dataclass(frozen=True)
class Machine:
    ram_gb: float
    cores: int
    gpu_gb: float  # the largest GPU's memory; 0 without one that llama.cpp can use

    @classmethod
    def read(cls) -> Machine:
        import llama_cpp

        from lsp_ai.doctor import nvidia_gpus, total_ram_gb
        from lsp_ai.governor import cores

        gpu = max((gb for _, gb in nvidia_gpus()), default=0.0)
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        return cls(total_ram_gb(), cores(), gpu if offload else 0.0)


def propose(m: Machine) -> dict[str, Preset]:
    """The README's table, row by row."""
    if m.gpu_gb >= 24:
        names = ("qwen2.5-coder-7b-q4_k_m", "qwen2.5-coder-32b-instruct-q4_k_m")
    elif m.gpu_gb >= 12:
        names = ("qwen2.5-coder-1.5b-q8_0", "qwen2.5-coder-14b-instruct-q4_k_m")
    elif m.gpu_gb >= 8:
        names = ("qwen2.5-coder-1.5b-q8_0", "qwen2.5-coder-7b-instruct-q4_k_m")
    elif m.ram_gb >= 12:
        names = ("qwen2.5-coder-1.5b-q4_k_m", "qwen2.5-coder-3b-instruct-q4_k_m")
    else:
        names = ("qwen2.5-coder-0.5b-q8_0", "qwen2.5-coder-3b-instruct-q4_k_m")
    return {role: PRESETS[name] for role, name in zip(ROLES, names, strict=True)}


def expected_speed(p: Preset, m: Machine) -> float:
    """Tokens per second, from memory bandwidth over the weights' size: a rough guide."""
    return (GPU_GB_S if m.gpu_gb else CPU_GB_S) / max(p.size / 1e9, 0.05)


# -- the user config, edited as text so comments and other keys stay ----------------------


def _toml_value(value: Any) -> str:
    return json.dumps(value)  # strings, ints and booleans are the same in JSON and TOML


def set_table_keys(text: str, table: str, values: dict[str, Any]) -> str:
    """Set `values` in `[table]` of a TOML text, adding the table (or keys) when missing."""
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        body = [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        sep = [""] if lines and lines[-1].strip() else []
        return "\n".join([*lines, *sep, f"[{table}]", *body]) + "\n"
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    for key, value in values.items():
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        at = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
        if at is None:
            lines.insert(start + 1, f"{key} = {_toml_value(value)}")
            end += 1
        else:
            lines[at] = f"{key} = {_toml_value(value)}"
    return "\n".join(lines) + "\n"


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def write_models(path: Path, settings: dict[str, dict[str, Any]]) -> None:
    """Set `models.<role>.<key>` in the config at `path`; refuse if anything else would change.

    The text edit covers configs written as `[models.completion]` tables; for any other
    shape (dotted keys, inline tables) the re-read check fails and the user is told what to
    set by hand, rather than the file being rewritten.
    """
    old_text = path.read_text(encoding="utf-8") if path.is_file() else ""
    text = old_text
    for role, values in settings.items():
        text = set_table_keys(text, f"models.{role}", values)
    wanted = {f"models.{r}.{k}": v for r, vals in settings.items() for k, v in vals.items()}
    try:
        old = _flat(tomllib.loads(old_text))
        new = _flat(tomllib.loads(text))
    except tomllib.TOMLDecodeError:
        new, old = {}, {"": None}
    kept = {k: v for k, v in new.items() if k not in wanted}
    if kept != {k: v for k, v in old.items() if k not in wanted} or any(
        new.get(k) != v for k, v in wanted.items()
    ):
        keys = ", ".join(f"{k} = {_toml_value(v)}" for k, v in wanted.items())
        raise SetupError(f"cannot edit {path} safely; set these by hand: {keys}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def configured(path: Path) -> dict[str, str]:
    """The model each role names in the user config now (roles left at the default omitted)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    models = data.get("models")
    out = {}
    for role in ROLES:
        section = models.get(role) if isinstance(models, dict) else None
        model = section.get("model") if isinstance(section, dict) else None
        if isinstance(model, str) and model not in ("", "default"):
            out[role] = model
    return out


# -- the run -------------------------------------------------------------------------------


def run_setup(
    *,
    yes: bool,
    reconfigure: bool,
    machine: Machine | None = None,
    say: Callable[[str], None] = print,
    ask: Callable[[str], str] = input,
) -> int:
    from lsp_ai.config import user_config_path
    from lsp_ai.inference.pull import PullError, pull

    path = user_config_path()
    now = configured(path)
    if len(now) == len(ROLES) and not reconfigure:
        say(f"already set up in {path}: " + ", ".join(f"{r} {m}" for r, m in now.items()))
        say("nothing changed; `lsp-ai setup --reconfigure` chooses again")
        return 0
    m = machine or Machine.read()
    gpu = f"a {m.gpu_gb:.0f} GB GPU" if m.gpu_gb else "no usable GPU"
    say(f"this machine: {m.ram_gb:.0f} GB RAM, {m.cores} cores, {gpu}")
    # A role the user already pointed at a model keeps it, unless asked to choose again.
    plan = {r: p for r, p in propose(m).items() if reconfigure or r not in now}
    for role, model in now.items():
        if role not in plan:
            say(f"  {role:<10} keeps {model}")
    for role, p in plan.items():
        speed = expected_speed(p, m)
        say(f"  {role:<10} {p.name:<34} {p.size / 1e9:5.1f} GB  ~{speed:.0f} tokens/s  {p.note}")
    total = sum(p.size for p in plan.values())
    if not yes:
        if not sys.stdin.isatty():
            raise SetupError("not a terminal: run `lsp-ai setup --yes` to accept the proposal")
        if (
            ask(f"download {total / 1e9:.1f} GB and set these in {path}? [y/N] ")
            .strip()
            .lower()[:1]
            != "y"
        ):
            say("nothing changed")
            return 1
    settings: dict[str, dict[str, Any]] = {}
    for role, p in plan.items():
        say(f"pulling {p.name} ({p.repo}/{p.filename})")
        try:
            done = pull(p.name)
        except PullError as exc:
            raise SetupError(f"{role}: {exc}") from None
        settings[role] = {"model": str(done.path)}
        if m.gpu_gb:
            settings[role]["n_gpu_layers"] = -1
    write_models(path, settings)
    say(f"wrote {', '.join(f'models.{r}' for r in settings)} to {path}")
    check(say)
    return 0


def check(say: Callable[[str], None]) -> None:
    """One completion and one chat through the models the config now resolves to."""
    from lsp_ai.completion.engine import CompletionEngine, CompletionRequest
    from lsp_ai.concurrency import CancelToken
    from lsp_ai.config import load_config
    from lsp_ai.inference.base import GenerationParams, ModelError
    from lsp_ai.inference.discovery import resolve_gguf
    from lsp_ai.inference.llama_cpp import LlamaCppModel
    from lsp_ai.inference.slots import ModelSlot

    cfg, _ = load_config(None)
    for role in ROLES:
        section = getattr(cfg.models, role)
        try:
            found = resolve_gguf(section.model, f"models.{role}.model", cfg.models.paths)
            model = LlamaCppModel(found, role=role, n_ctx=2048, n_gpu_layers=section.n_gpu_layers)
        except ModelError as exc:
            raise SetupError(f"check failed: {exc}") from None
        started = time.perf_counter()
        try:
            if role == "completion":
                engine = CompletionEngine(
                    ModelSlot(role, lambda m=model: m),  # type: ignore[misc]
                    fim_template="auto",
                    max_tokens=16,
                    multiline="auto",
                )
                req = CompletionRequest(
                    "def add(a, b):\n    return \n", 1, 11, "check.py", "python", True
                )
                text = engine.complete(req, CancelToken()).text
            else:
                ask = [{"role": "user", "content": "Say hello in one word."}]
                text = "".join(
                    model.stream_chat(ask, GenerationParams(16), CancelToken())  # type: ignore[arg-type]
                )
        finally:
            model.close()
        ms = (time.perf_counter() - started) * 1000
        answer = repr(text.strip()[:60]) if text.strip() else "(an empty answer)"
        say(f"check {role}: {model.name} answered in {ms:.0f} ms: {answer}")
