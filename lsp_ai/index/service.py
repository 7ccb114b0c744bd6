"""The workspace index as the rest of the server sees it.

For now retrieval is lexical (BM25 over line windows, in memory, rebuilt per process); the
vector + full-text LanceDB index replaces the inside of this class without changing its face.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from lsp_ai.index.discover import FileFilter, language_for, read_text
from lsp_ai.index.hits import SearchHit
from lsp_ai.index.lexical import LexicalIndex

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class IndexService:
    name = "lexical"

    def __init__(self, roots: Sequence[Path], exclude: Sequence[str], max_file_bytes: int) -> None:
        self.roots = [r.resolve() for r in roots]
        self._exclude = tuple(exclude)
        self._max_file_bytes = max_file_bytes
        self._lex = LexicalIndex()
        self._files: set[tuple[int, str]] = set()
        self._lock = threading.RLock()
        self._built = threading.Event()
        self.skipped = 0

    def _filters(self) -> list[FileFilter]:
        return [FileFilter(r, self._exclude, self._max_file_bytes) for r in self.roots]

    def build(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> int:
        """Index every root from scratch; returns the number of files indexed."""
        filters = self._filters()
        files = [(i, f) for i, flt in enumerate(filters) for f in flt.walk()]
        fresh = LexicalIndex()
        names: set[tuple[int, str]] = set()
        for n, (i, f) in enumerate(files, 1):
            if cancel is not None and cancel.is_set():
                break
            try:
                text = read_text(f.path)
            except OSError as exc:  # deleted or replaced between listing and reading
                log.info("skipped %s: %s", f.rel, exc)
                continue
            fresh.add(self._key(i, f.rel), text, language_for(f.rel))
            names.add((i, f.rel))
            if progress:
                progress(n, len(files))
        with self._lock:
            self._lex, self._files = fresh, names
            self.skipped = sum(len(flt.skipped) for flt in filters)
        self._built.set()
        return len(names)

    def invalidate(self) -> None:
        """Forget the built state so the next search or build starts from scratch."""
        self._built.clear()

    def ensure_built(self) -> None:
        if not self._built.is_set():
            with self._lock:
                if not self._built.is_set():
                    self.build()

    def _key(self, root_index: int, rel: str) -> str:
        # Multi-root workspaces: paths of the second and later roots carry the root's name.
        return rel if root_index == 0 else f"{self.roots[root_index].name}/{rel}"

    def locate(self, path: Path) -> tuple[int, str] | None:
        """Which root a file belongs to, and its path relative to that root."""
        real = path.resolve()
        for i, root in enumerate(self.roots):
            if real.is_relative_to(root):
                return i, real.relative_to(root).as_posix()
        return None

    def update_file(self, path: Path, text: str | None = None) -> bool:
        """Re-index one file (from disk, or from an unsaved buffer's `text`)."""
        where = self.locate(path)
        if where is None:
            return False
        i, rel = where
        reason = self._filters()[i].check(path) if text is None else None
        with self._lock:
            self._lex.remove(self._key(i, rel))
            self._files.discard((i, rel))
            if reason is not None or (text is None and not path.is_file()):
                return False
            body = text if text is not None else read_text(path)
            self._lex.add(self._key(i, rel), body, language_for(rel))
            self._files.add((i, rel))
        return True

    def remove_file(self, path: Path) -> None:
        if (where := self.locate(path)) is not None:
            with self._lock:
                self._lex.remove(self._key(*where))
                self._files.discard(where)

    def search(self, query: str, k: int) -> list[SearchHit]:
        self.ensure_built()
        with self._lock:
            found = self._lex.search(query, k)
        return [
            SearchHit(p.path, p.start_line, p.end_line, None, "window", p.language, score, p.text)
            for p, score in found
        ]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"indexedFiles": len(self._files), "chunks": len(self._lex)}

    def resolve(self, rel: str) -> Path:
        """The absolute path of a hit's `path` (first root, or `<root-name>/...` for others)."""
        head, _, rest = rel.partition("/")
        for root in self.roots[1:]:
            if head == root.name and rest:
                return root / rest
        return self.roots[0] / rel
