"""Follows changes made outside the editor (git checkout, code generators) with watchdog.

Events are coalesced: a checkout touching 500 files becomes one batch a moment after the last
event, not 500 separate re-index jobs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from lsp_ai.index.discover import is_always_skipped_dir

log = logging.getLogger(__name__)

OnChanges = Callable[[set[Path], set[Path]], None]  # (changed or created, deleted)


class _Collector(FileSystemEventHandler):
    def __init__(self, watcher: WorkspaceWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        src = Path(str(event.src_path))
        if event.event_type == "deleted":
            self._watcher.note(src, deleted=True)
        elif event.event_type == "moved":
            self._watcher.note(src, deleted=True)
            self._watcher.note(Path(str(event.dest_path)), deleted=False)
        else:
            self._watcher.note(src, deleted=False)


class WorkspaceWatcher:
    def __init__(
        self,
        roots: Sequence[Path],
        on_changes: OnChanges,
        *,
        ignore_dirs: Sequence[Path] = (),
        delay_s: float = 0.3,
    ) -> None:
        self._roots = list(roots)
        self._on_changes = on_changes
        self._ignore = [d.resolve() for d in ignore_dirs]
        self._delay = delay_s
        self._lock = threading.Lock()
        self._changed: set[Path] = set()
        self._deleted: set[Path] = set()
        self._timer: threading.Timer | None = None
        self._observer: Observer | None = None  # type: ignore[valid-type]

    def start(self) -> None:
        observer = Observer()
        for root in self._roots:
            try:
                observer.schedule(_Collector(self), str(root), recursive=True)
            except OSError as exc:  # e.g. inotify watch limit reached
                log.warning("cannot watch %s for changes: %s", root, exc)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        if self._observer is not None:
            self._observer.stop()

    def _ignored(self, path: Path) -> bool:
        if any(is_always_skipped_dir(part) for part in path.parts[:-1]):
            return True
        return any(path.is_relative_to(d) for d in self._ignore)

    def note(self, path: Path, *, deleted: bool) -> None:
        if self._ignored(path):
            return
        with self._lock:
            (self._deleted if deleted else self._changed).add(path)
            (self._changed if deleted else self._deleted).discard(path)
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._delay, self._flush)
            self._timer.daemon = True
            self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            changed, deleted = self._changed, self._deleted
            self._changed, self._deleted, self._timer = set(), set(), None
        try:
            self._on_changes(changed, deleted)
        except Exception:
            log.exception("handling file changes failed")
