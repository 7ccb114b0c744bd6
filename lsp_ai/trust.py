"""Which repositories' ``.lsp-ai.toml`` the user trusted (config.py says which keys need it).

A cloned repository is someone else's file. Its ``.lsp-ai.toml`` may tune completion and chat,
but the settings that send code off the machine, run or load a program, hold a credential, or
choose where data is written apply only after the user trusted that exact file once, with
``lsp-ai trust``. The record lives outside every repository (in the user's state folder),
keyed by the repository's resolved path and holding the SHA-256 of the file's bytes: any edit
to the file, by a ``git pull`` or anyone else, revokes the trust until it is given again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from platformdirs import user_state_dir

PROJECT_FILE = ".lsp-ai.toml"


def trust_store_path() -> Path:
    """The user's record of trusted project files (honours ``XDG_STATE_HOME`` on Linux)."""
    return Path(user_state_dir("lsp-ai", appauthor=False)) / "trusted.json"


def file_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _key(root: Path) -> str:
    return str(root.expanduser().resolve())


def _read_store() -> dict[str, str]:
    try:
        data = json.loads(trust_store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: nothing is trusted, which is the safe side
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str)}


def _write_store(store: Mapping[str, str]) -> None:
    """Replace the record atomically, readable by the user alone."""
    path = trust_store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".trusted-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dict(sorted(store.items())), fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def is_trusted(root: Path, content: bytes) -> bool:
    """Whether the user trusted ``root``'s project file with exactly this ``content``."""
    return _read_store().get(_key(root)) == file_digest(content)


def trust(root: Path, content: bytes | None = None) -> str:
    """Trust ``root``'s ``.lsp-ai.toml`` with this ``content`` (default: as it is now).

    Returns the digest recorded. Raises ``FileNotFoundError`` when the repository has no such
    file, ``OSError`` when the record cannot be written.
    """
    if content is None:
        content = (root / PROJECT_FILE).read_bytes()
    digest = file_digest(content)
    store = _read_store()
    store[_key(root)] = digest
    _write_store(store)
    return digest


def revoke(root: Path) -> bool:
    """Forget the trust given to ``root``'s project file; False if there was none."""
    store = _read_store()
    if store.pop(_key(root), None) is None:
        return False
    _write_store(store)
    return True
