"""Where a workspace root's index lives: the one place that decides it.

The server, the CLI and `lsp-ai doctor` all ask here, so the folder doctor checks is the one
the index is written to.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from platformdirs import user_cache_dir


def index_dir(root: Path, db_path: str = "", roots: int = 1) -> Path:
    """The index folder of workspace `root`, one of `roots` roots.

    By default one database per root under the user cache dir, named so that roots never
    collide; `index.db_path` puts a single root's index there, and several roots' side by
    side inside it.
    """
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    name = f"{root.name}-{digest}"
    if not db_path:
        return Path(user_cache_dir("lsp-ai")) / "index" / name
    base = Path(db_path).expanduser()
    return base if roots == 1 else base / name
