"""Keeps the index following the workspace: the crawl, the file watcher, and document edits.

The crawl runs in the index worker and reports progress through whatever the front-end gives
(`CrawlProgress`: the LSP `Indexing` work-done progress, a terminal bar, nothing). Edits are
debounced (re-indexing on every keystroke would compete with completion) and wait, like every
slice of background work, until no completion runs and the user has paused typing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from lsp_ai.documents import OpenDocument
from lsp_ai.governor import release_heap
from lsp_ai.index.watcher import WorkspaceWatcher
from lsp_ai.redaction import redact
from lsp_ai.wiring import Wiring
from lsp_ai.workers import Workers

log = logging.getLogger(__name__)

# How long the user must stop editing a document before its buffer is re-indexed.
CHANGE_DEBOUNCE_S = 0.5


@dataclass
class CrawlProgress:
    """How a front-end shows a crawl; `stop` is its cancel button. Callbacks are thread-safe."""

    report: Callable[[int, int], None] = lambda done, total: None
    end: Callable[[str], None] = lambda message: None
    stop: threading.Event = field(default_factory=threading.Event)


async def no_progress() -> CrawlProgress:
    return CrawlProgress()


@dataclass
class _Edit:
    timer: asyncio.TimerHandle
    text: str


class LiveIndex:
    def __init__(
        self,
        wiring: Wiring,
        workers: Workers,
        progress: Callable[[], Awaitable[CrawlProgress]] = no_progress,
        on_failure: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._wiring = wiring
        self._workers = workers
        self._progress = progress
        self._on_failure = on_failure
        self._job: asyncio.Future[None] | None = None
        self._edits: dict[str, _Edit] = {}
        self._watcher: WorkspaceWatcher | None = None
        self._queued = 0  # updates handed to the index worker and not finished yet
        self._queued_lock = threading.Lock()
        # The running crawl's (files done, files in all), set from the index worker.
        self.progress: tuple[int, int] | None = None
        # Whether the running crawl builds an index from nothing (no usable one was on disk);
        # None until the crawl has looked.
        self.first_build: bool | None = None
        self._crawl_stop: threading.Event | None = None  # the running crawl's cancel button

    @property
    def crawling(self) -> bool:
        return self._job is not None and not self._job.done()

    @property
    def pending(self) -> int:
        """Work not yet in the index: debounced edits, queued updates, a crawl in progress."""
        return len(self._edits) + self._queued + int(self.crawling)

    def _submit(self, fn: Callable[..., object], *args: object) -> None:
        """Hand an update to the index worker, counted in `pending` until it is done."""
        with self._queued_lock:
            self._queued += 1
        future = self._workers.index.submit(fn, *args)
        future.add_done_callback(lambda _done: self._finished())

    def _finished(self) -> None:
        with self._queued_lock:
            self._queued -= 1

    @property
    def building(self) -> bool:
        """A crawl runs that builds the index from nothing: until it ends, answers are partial."""
        return self.crawling and self.first_build is not False

    def crawl(self) -> None:
        """Start a crawl in the background, unless one runs."""
        if not self.crawling:
            self.progress, self.first_build = None, None
            self._job = self._workers.spawn(self._crawl())

    async def _crawl(self) -> None:
        """Watch, count what is on disk, then bring the index in line with the workspace.

        The watcher starts first, so that a file changed while the crawl runs is not missed.
        Its updates go to the same one-thread index worker as the crawl and wait behind it,
        and a file's update re-reads the file from disk: the newer content is what stays,
        even when the crawl read that file before the change.
        """
        index = self._wiring.index
        progress: CrawlProgress | None = None
        try:
            self.watch()
            # A restarted server reports the index it already has at once, not 0 files until
            # the crawl opens it; this opens no model (see IndexService.open_if_present).
            present = await self._workers.call(self._workers.index, index.open_if_present)
            self.first_build = not present
            progress = await self._progress()
            self._crawl_stop = progress.stop
            shown = progress.report

            def report(done: int, total: int) -> None:
                self.progress = (done, total)
                shown(done, total)

            count = await self._workers.call(
                self._workers.index, index.build, report, progress.stop
            )
            message = "indexing cancelled" if progress.stop.is_set() else f"{count} files indexed"
            if (writer := index.writer())["read_only"]:
                message = f"{count} files, indexed by process {writer['writer']} (read-only here)"
            release_heap()  # a crawl leaves ~1 GB of freed heap that glibc would keep
        except OSError as exc:  # a read-only index folder, a full disk: the message says the fix
            message = f"indexing failed: {exc}"
            log.error("%s", message)
            self._on_failure(f"lsp-ai: {message}")
        except Exception as exc:  # indexing trouble is reported, never fatal
            log.exception("indexing failed")
            message = f"indexing failed: {exc}"
        if progress is not None:
            progress.end(message)
        log.info("indexing: %s", message)

    def watch(self) -> None:
        """Follow changes made outside the editor; restarted when roots or the index change."""
        if self._watcher is not None:
            self._watcher.stop()
        wiring = self._wiring
        index = wiring.index

        def apply(changed: set[Path], deleted: set[Path]) -> None:
            for path in sorted(deleted):
                self._submit(index.remove_file, path)
            for path in sorted(changed):
                self._submit(wiring.when_idle, index.update_file, path)

        dbs = index.db_dirs()  # known before the index is open: the watcher starts first
        self._watcher = WorkspaceWatcher(wiring.roots, apply, ignore_dirs=dbs)
        self._watcher.start()

    def edited(self, doc: OpenDocument, text: str) -> None:
        """The buffer changed: index it once the user pauses (private buffers never)."""
        if doc.path is None or doc.private is not None:
            return
        self._cancel_edit(doc.uri)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(CHANGE_DEBOUNCE_S, self._flush, doc, doc.path)
        self._edits[doc.uri] = _Edit(timer, text)

    def _flush(self, doc: OpenDocument, path: Path) -> None:
        edit = self._edits.pop(doc.uri, None)
        if edit is None:
            return
        wiring, text = self._wiring, redact(edit.text)  # keys in the buffer reach no excerpt
        wiring.recent.note(str(path), text, doc.edited_line)
        self._submit(wiring.when_idle, wiring.index.update_file, path, text)

    async def saved(self, path: Path, uri: str) -> None:
        """The file on disk is the truth now: a debounced buffer edit is dropped for it."""
        self._cancel_edit(uri)
        await self._workers.call(self._workers.index, self._wiring.index.update_file, path)

    def closed(self, uri: str) -> None:
        self._cancel_edit(uri)

    def _cancel_edit(self, uri: str) -> None:
        if (edit := self._edits.pop(uri, None)) is not None:
            edit.timer.cancel()

    def stop(self) -> None:
        """Stop following the workspace; a crawl in progress stops at its next file.

        A first build of a large repository can take minutes: a front-end that closes (an
        agent that quits) should not keep the process alive until it ends.
        """
        if self._job is not None:  # its next step would hand work to workers shut down
            self._job.cancel()
        for edit in self._edits.values():
            edit.timer.cancel()
        self._edits.clear()
        if self._watcher is not None:
            self._watcher.stop()
        if self._crawl_stop is not None:
            self._crawl_stop.set()
