"""The isolated environment every server, CLI or benchmark child process runs in.

It reads and writes nothing of the user's: HOME and the XDG folders (config, caches,
data, logs, sessions) point into one folder, the user config file is replaced, and the
Hugging Face hub stays offline (the default models ship inside installed packages).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Where each XDG folder lives under the isolated HOME (the XDG defaults).
XDG_DIRS = {
    "XDG_CONFIG_HOME": ".config",
    "XDG_CACHE_HOME": ".cache",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
}


def isolated_env(
    home: Path | None = None, settings: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """This process's environment for a child that cannot see the developer's files.

    HOME is `home` (a new temporary folder when None), created with its XDG folders.
    The user config (``LSP_AI_CONFIG``) is `settings` written to ``home/config.toml``, or,
    without settings, a file that does not exist: no user config at all. The server's
    log level stays this process's (``LSP_AI_LOG_LEVEL``, empty if unset), and the
    child's output is unbuffered.
    """
    home = Path(tempfile.mkdtemp(prefix="lsp-ai-home-")) if home is None else home.absolute()
    env = dict(os.environ, HOME=str(home))
    for var, sub in XDG_DIRS.items():
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    if settings is None:
        config = home / "no-user-config.toml"
    else:
        config = home / "config.toml"
        config.write_text(toml_text(settings))
    env.update(
        LSP_AI_CONFIG=str(config),
        LSP_AI_LOG_LEVEL=os.environ.get("LSP_AI_LOG_LEVEL", ""),
        PYTHONUNBUFFERED="1",
        HF_HUB_OFFLINE="1",
    )
    return env


def toml_text(settings: Mapping[str, Any], prefix: str = "") -> str:
    """A config file for these settings: tables of strings, numbers, booleans and lists."""
    plain = {k: v for k, v in settings.items() if not isinstance(v, Mapping)}
    lines = [f"[{prefix}]"] if prefix and plain else []
    lines += [f"{k} = {json.dumps(v)}" for k, v in plain.items()]
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value in settings.items():
        if isinstance(value, Mapping):
            text += toml_text(value, f"{prefix}.{key}" if prefix else key)
    return text
