"""A damaged index is moved aside, never deleted: the user (or a bug report) may still need it.

The index folder's files go into a sibling folder named `<name>.damaged-<UTC timestamp>`;
what is not index data stays where it is: the chat sessions, which nothing rebuilds, and the
writer's lock file, which another process may be waiting on (see `lsp_ai.index.writer`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from pathlib import Path

from lsp_ai.index.writer import LOCK_FILE

#: Entries of an index folder that are not index data, left in place when it is moved aside.
NOT_INDEX_DATA = ("sessions", LOCK_FILE)


def move_aside(db_dir: Path, names: Collection[str] | None = None) -> Path:
    """Move the index data in `db_dir` (or only `names`) to a new sibling folder; its path.

    Renames within one file system: nothing is copied, and a crash part-way leaves every
    file in one folder or the other.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = db_dir.with_name(f"{db_dir.name}.damaged-{stamp}")
    n = 1
    while aside.exists():  # damaged twice within a second
        aside = db_dir.with_name(f"{db_dir.name}.damaged-{stamp}-{n}")
        n += 1
    aside.mkdir(parents=True)
    for entry in sorted(db_dir.iterdir()):
        wanted = entry.name in names if names is not None else entry.name not in NOT_INDEX_DATA
        if wanted:
            os.replace(entry, aside / entry.name)
    return aside
