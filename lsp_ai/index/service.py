"""The workspace index as the rest of the server sees it: crawl, update, search.

One `RootIndex` per workspace root, each with its own LanceDB database, symbol table and
ignore rules. A crawl compares every file with the manifest (size, mtime, then content hash),
re-chunks only what changed, embeds only chunks whose content hash has no stored vector, and
commits in batches, so an interrupted crawl resumes where it stopped and an unchanged repository
re-opens without embedding anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from lsp_ai.index.chunker import Chunk, chunk_file
from lsp_ai.index.damage import move_aside
from lsp_ai.index.discover import (
    SYMLINK_TO_SECRET,
    DiscoveredFile,
    FileFilter,
    NotIndexable,
    Replaced,
    read_source,
    too_large,
)
from lsp_ai.index.hits import SearchHit
from lsp_ai.index.location import index_dir
from lsp_ai.index.search import Mode, Rerank, Root, search
from lsp_ai.index.secret_files import secret_files
from lsp_ai.index.symbols import ChunkCalls, Symbol, SymbolTable, ctags_executable, run_ctags
from lsp_ai.index.writer import WriterLock
from lsp_ai.inference.base import Embedder
from lsp_ai.languages import language_for
from lsp_ai.redaction import redact

if TYPE_CHECKING:  # lancedb takes ~1 s to import: only the first index operation pays for it
    from lsp_ai.governor import Pacer
    from lsp_ai.index.store import ChunkStore, FileState

log = logging.getLogger(__name__)

T = TypeVar("T")
Progress = Callable[[int, int], None]
FILES_PER_BATCH = 64  # one LanceDB commit per batch; small enough to resume cheaply
SYMBOLS_FILE = "symbols.json"


@dataclass
class CrawlStats:
    files: int = 0
    changed: int = 0
    removed: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    parse_s: float = 0.0
    embed_s: float = 0.0
    write_s: float = 0.0


@dataclass(frozen=True)
class _Prepared:
    """A changed file, read and chunked, waiting for vectors."""

    rel: str
    file_hash: str
    size: int
    mtime_ns: int
    chunks: list[Chunk]
    symbols: list[Symbol]
    calls: list[ChunkCalls]
    indexed: bool = False  # the store already holds these chunks: only the symbols are stale


def _symbols_of(
    rel: str, text: str, language: str
) -> tuple[list[Chunk], list[Symbol], list[ChunkCalls]]:
    """Chunks, definitions and calls of a file, from its text with any secret in it masked.

    Masking keeps every line's length, so chunk line numbers match the file on disk.
    """
    fc = chunk_file(rel, redact(text), language)
    symbols = [
        Symbol(d.name, d.qualified, d.kind, d.path, d.line, d.end_line, d.signature, "tree-sitter")
        for d in fc.definitions
    ]
    calls = [
        ChunkCalls(c.span.path, c.span.start_line, c.span.end_line, c.span.symbol, c.calls)
        for c in fc.chunks
        if c.calls
    ]
    return fc.chunks, symbols, calls


class LazyEmbedder:
    """The embedding model, loaded only when something needs a vector.

    A store is opened with the model's name and dimension; when the database already records
    them for the configured model, re-opening an unchanged repository needs no model at all
    (loading torch and MiniLM costs ~10 s).
    """

    def __init__(
        self, load: Callable[[], Embedder], expected_name: str | None, pacer: Pacer | None = None
    ) -> None:
        self._load = load
        self._expected_name = expected_name
        self._pacer = pacer

    def recorded_identity(self, db_dir: Path) -> tuple[str, int] | None:
        """The configured model's name and dimension as the database records them, if it does.

        None when the database was built by another model (or records none): only loading the
        model can tell its dimension then.
        """
        try:
            from lsp_ai.index.store import META_FILE

            meta = json.loads((db_dir / META_FILE).read_text())
            if self._expected_name and meta.get("model") == self._expected_name:
                return str(meta["model"]), int(meta["dimension"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            pass
        return None

    def identity(self, db_dir: Path) -> tuple[str, int]:
        if (recorded := self.recorded_identity(db_dir)) is not None:
            return recorded
        model = self._load()
        return model.name, model.dimension

    def embed(self, texts: list[str], kind: Literal["query", "document"]) -> list[list[float]]:
        if not texts:
            return []
        if kind == "query" or self._pacer is None:
            return self._load().embed(texts, kind)
        return self._paced(texts)

    def _paced(self, texts: list[str]) -> list[list[float]]:
        """Documents in slices, with a pause for typing before each one.

        A slice of the texts sorted by length wastes as little padding as one big call did;
        its size is the governor's (smaller when memory is short).
        """
        assert self._pacer is not None
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        start = 0
        while start < len(order):
            self._pacer.wait_for_idle()
            part = order[start : start + self._pacer.batch()]
            vectors = self._load().embed([texts[i] for i in part], "document")
            for i, vec in zip(part, vectors, strict=True):
                out[i] = vec
            start += len(part)
        return out


class RootIndex:
    """The index of one workspace root.

    It writes only while it holds the folder's `writer` lock, taken when it opens and again
    before any write: without it (another process writes) it follows, reading what that
    process commits, and takes over once that process is gone.
    """

    def __init__(
        self,
        root: Path,
        db_dir: Path,
        embedder: LazyEmbedder,
        exclude: Sequence[str],
        max_file_bytes: int,
        use_ctags: bool = True,
        on_damage: Callable[[str], None] = lambda message: None,
        writer: WriterLock | None = None,
        secret_patterns: Sequence[str] = (),
    ) -> None:
        self.root = root
        self.db_dir = db_dir
        self.embedder = embedder
        self._on_damage = on_damage
        self.filter = FileFilter(root, exclude, max_file_bytes, secret_patterns)
        from lsp_ai.index.store import ChunkStore, prepare_db_dir

        # Before the embedder: an unusable index folder is reported at once, not after
        # seconds of loading a model only to learn its dimension.
        prepare_db_dir(db_dir)
        self.writer = writer or WriterLock(db_dir)
        writes = self.writer.try_acquire()
        name, dimension = embedder.identity(db_dir)
        self.store: ChunkStore = ChunkStore(db_dir, name, dimension, read_only=not writes)
        self._symbols_stamp = self._symbols_mtime()
        self.symbols = self._load_symbols()
        self.ctags = ctags_executable() if use_ctags else None
        self._lock = threading.RLock()  # one writer at a time per root

    # -- symbols persistence ----------------------------------------------------------------

    @property
    def writes(self) -> bool:
        return self.writer.held

    def _may_write(self) -> bool:
        """True if this process writes the index: it held the lock, or takes it now."""
        if self.writer.held:
            return True
        if not self.writer.try_acquire():
            return False
        # The writer is gone (closed, crashed): this process writes from now on.
        from lsp_ai.index.store import ChunkStore

        old = self.store
        self.store = ChunkStore(self.db_dir, old.model_name, old.dimension)
        old.close()
        self.symbols = self._load_symbols()
        log.info("index %s: the process that wrote it is gone; writing it from now on", self.db_dir)
        return True

    def _symbols_mtime(self) -> int:
        try:
            return (self.db_dir / SYMBOLS_FILE).stat().st_mtime_ns
        except OSError:
            return 0

    def follow(self) -> None:
        """Without the lock: re-read the symbol table if the writer saved a new one."""
        if self.writer.held:
            return
        stamp = self._symbols_mtime()
        if stamp != self._symbols_stamp:
            self._symbols_stamp = stamp
            self.symbols = self._load_symbols()

    def _load_symbols(self) -> SymbolTable:
        path = self.db_dir / SYMBOLS_FILE
        if self.store.rebuilt or not path.is_file():
            return SymbolTable()
        try:
            data: Any = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            return SymbolTable.from_json(data)
        except OSError as exc:  # the folder's trouble, not the file's: it stays where it is
            log.warning("symbol table %s unreadable (%s); rebuilding it", path, exc)
            return SymbolTable()
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # `[]`, `null`, a wrong shape, nesting deeper than Python's stack: the table is
            # re-derived from the sources by the next crawl (no embedding needed).
            reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, RecursionError) else exc
            if not self.writer.held:  # the writer's file, and the writer's to replace
                log.warning("symbol table %s unreadable (%s)", path, reason)
                return SymbolTable()
            try:
                where = f"moved to {move_aside(self.db_dir, [SYMBOLS_FILE])}"
            except OSError as move_exc:
                where = f"could not be moved aside ({move_exc})"
            self._on_damage(
                f"the symbol table {path} was damaged ({reason}); it {where}, "
                "and is being rebuilt from the sources"
            )
            return SymbolTable()

    def _save_symbols(self) -> None:
        if not self.writer.held:
            return
        path = self.db_dir / SYMBOLS_FILE
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.symbols.to_json()))
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not save the symbol table to %s: %s", path, exc)

    # -- crawl ------------------------------------------------------------------------------

    def sync(
        self, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> CrawlStats:
        """Bring the index in line with the files on disk; nothing while another process writes."""
        with self._lock:
            stats = CrawlStats()
            if not self._may_write():
                return stats
            files = list(self.filter.walk())
            stats.files = len(files)
            known = self.store.all_files()
            on_disk = {f.rel for f in files}
            gone = [p for p in known if p not in on_disk]
            if gone:
                self.store.remove_files(gone)
                stats.removed = len(gone)
            # Not only `gone`: a crash after the store dropped a file but before the symbol
            # table was saved leaves the table with entries the manifest no longer has.
            for rel in self.symbols.paths() - on_disk:
                self.symbols.remove_file(rel)
            batch: list[_Prepared] = []
            for n, f in enumerate(files, 1):
                if cancel is not None and cancel.is_set():
                    break
                state = known.get(f.rel)
                # Symbols derived from other content than the store holds were saved before
                # a crash (or never): they are re-derived even though the chunks are current.
                needs_symbols = (
                    state is not None and self.symbols.source_hash(f.rel) != state.file_hash
                )
                prepared = self._prepare(f, state, stats, symbols_only=needs_symbols)
                if prepared is not None:
                    batch.append(prepared)
                if len(batch) >= FILES_PER_BATCH:
                    if not self.writer.held:
                        return stats  # handed over to a newer index (new settings): it crawls
                    self._commit(batch, stats)
                    batch = []
                if progress:
                    progress(n, len(files))
            if batch:
                self._commit(batch, stats)
            self._save_symbols()
            return stats

    def _prepare(
        self,
        found: DiscoveredFile,
        state: FileState | None,
        stats: CrawlStats,
        symbols_only: bool = False,
        recheck: bool = False,
    ) -> _Prepared | None:
        """Read and chunk a file if it changed; None when the index already has it.

        What is read must be the very file the filter judged (`found.identity`), inside the
        workspace: a file swapped for a symlink or another file since is given up.

        `recheck`: compare the content even when size and mtime match, for a file an event
        says changed (a same-size write within the file system's timestamp granularity
        leaves both as they were).
        """
        path, rel = found.path, found.rel
        try:
            st = path.stat()
        except OSError as exc:  # deleted between listing and reading
            self._give_up(rel, state, f"unreadable: {exc.strerror or exc}")
            return None
        fresh = (
            state is not None
            and not state.pending
            and state.size == st.st_size
            and state.mtime_ns == st.st_mtime_ns
        )
        if fresh and not symbols_only and not recheck:
            return None
        try:
            data = self._read(found)
        except NotIndexable as exc:  # replaced since it was listed: a FIFO, too large, binary
            self._give_up(rel, state, str(exc))
            return None
        except OSError as exc:  # deleted, or replaced by a directory
            self._give_up(rel, state, f"unreadable: {exc.strerror or exc}")
            return None
        file_hash = hashlib.sha256(data).hexdigest()
        same = state is not None and state.file_hash == file_hash
        if recheck and same and fresh and not symbols_only:
            return None
        started = time.perf_counter()
        chunks, symbols, calls = _symbols_of(
            rel, data.decode("utf-8", "replace"), language_for(rel)
        )
        stats.parse_s += time.perf_counter() - started
        if same and fresh:
            # Only the symbol table is behind; _commit sets it (with ctags), writes no chunks.
            return _Prepared(
                rel, file_hash, st.st_size, st.st_mtime_ns, chunks, symbols, calls, indexed=True
            )
        stats.changed += 1
        return _Prepared(rel, file_hash, st.st_size, st.st_mtime_ns, chunks, symbols, calls)

    def _read(self, found: DiscoveredFile) -> bytes:
        """The bytes of the file the filter judged; a file replaced since is judged again once.

        An editor's atomic save replaces a file with a new one under the same name: that one
        is indexed if it passes the rules itself. A symlink re-pointed at a secret does not.
        """
        limit, root = self.filter.max_file_bytes, self.filter.real_root
        try:
            return read_source(found.path, limit, root, found.identity)
        except Replaced:
            again = self.filter.examine(found.path)
            if isinstance(again, str):
                raise NotIndexable(again) from None
            return read_source(found.path, limit, root, again.identity)

    def _give_up(self, rel: str, state: FileState | None, reason: str) -> None:
        """Skip a listed file that changed before it could be read, with a logged reason.

        Chunks indexed from an earlier version go too: they would describe a file that is no
        longer there, or no longer one the index may hold.
        """
        self.filter.record_skip(rel, reason)
        if state is not None:
            self.remove(rel)

    def _commit(self, batch: list[_Prepared], stats: CrawlStats) -> None:
        from lsp_ai.index.store import ChunkRecord, FileUpdate

        writes = [p for p in batch if not p.indexed]
        chunks = [c for p in writes for c in p.chunks]
        started = time.perf_counter()
        vectors = self.store.known_vectors({c.content_hash for c in chunks})
        missing = list(
            {c.content_hash: c for c in chunks if c.content_hash not in vectors}.values()
        )
        stats.chunks_reused += len(chunks) - len(missing)
        # One call for the whole batch: sentence-transformers sorts texts by length across
        # the call, so padding waste is lower than with many small calls.
        embedded = self.embedder.embed([c.embed_text for c in missing], "document")
        for chunk, vec in zip(missing, embedded, strict=True):
            vectors[chunk.content_hash] = vec
        stats.chunks_embedded += len(missing)
        stats.embed_s += time.perf_counter() - started
        ctags_defs = self._ctags([p.rel for p in batch])
        started = time.perf_counter()
        self.store.replace_files(
            FileUpdate(
                p.rel,
                p.file_hash,
                p.size,
                p.mtime_ns,
                [ChunkRecord.from_chunk(c, vectors[c.content_hash]) for c in p.chunks],
            )
            for p in writes
        )
        stats.write_s += time.perf_counter() - started
        for p in batch:
            defs = [*p.symbols, *ctags_defs.get(p.rel, [])]
            self.symbols.set_file(p.rel, defs, p.calls, p.file_hash)

    def _ctags(self, rels: list[str]) -> dict[str, list[Symbol]]:
        """Ctags definitions; their signature is the source line, so secrets are masked."""
        if not self.ctags:
            return {}
        found = run_ctags(self.ctags, self.root, rels)
        return {
            rel: [replace(d, signature=redact(d.signature)) for d in defs]
            for rel, defs in found.items()
        }

    # -- live updates -----------------------------------------------------------------------

    def update(self, rel: str, text: str | None = None) -> bool:
        """Re-index one file from disk, or from an unsaved buffer's `text`. True if it changed."""
        path = self.root / rel
        with self._lock:
            if not self._may_write():
                return False
            if text is None:
                found = self.filter.examine(path)
                if isinstance(found, str):
                    self.remove(rel)
                    return False
                read = self._prepare(found, self.store.file_state(rel), CrawlStats(), recheck=True)
                if read is None:
                    return False
                prepared = read
            else:
                # A buffer need not exist on disk yet; ignore rules and secrets still apply.
                reason = self.filter.check(path)
                if reason is not None and not reason.startswith(("unreadable", "not a file")):
                    return False
                data = text.encode("utf-8", "replace")
                if len(data) > self.filter.max_file_bytes:  # a buffer is bounded as a file is
                    log.info("%s: %s", rel, too_large(len(data), self.filter.max_file_bytes))
                    self.remove(rel)  # what is indexed of it no longer matches the buffer
                    return False
                file_hash = hashlib.sha256(data).hexdigest()
                state = self.store.file_state(rel)
                if state is not None and state.file_hash == file_hash:
                    return False
                chunks, symbols, calls = _symbols_of(rel, text, language_for(rel))
                # mtime 0 marks "from a buffer": the next crawl re-reads the file from disk.
                prepared = _Prepared(rel, file_hash, len(data), 0, chunks, symbols, calls)
            self._commit([prepared], CrawlStats())
            self._save_symbols()
            return True

    def remove(self, rel: str) -> None:
        with self._lock:
            if not self._may_write():
                return
            if self.store.file_state(rel) is not None:
                self.store.remove_file(rel)
            self.symbols.remove_file(rel)

    def stats(self) -> dict[str, int]:
        return self.store.stats()


class IndexService:
    """All roots of the workspace, behind one search; what the server and CLI call."""

    name = "hybrid"

    def __init__(
        self,
        roots: Sequence[Path],
        *,
        embedder: Callable[[], Embedder],
        embedder_name: str | None = None,
        exclude: Sequence[str] = (),
        max_file_bytes: int = 1_000_000,
        db_path: str = "",
        rerank: Rerank | None = None,
        use_ctags: bool = True,
        pacer: Pacer | None = None,
        on_damage: Callable[[str], None] | None = None,
        secret_patterns: Sequence[str] = (),
    ) -> None:
        """`on_damage`: told once, in words, each time a damaged index is moved aside."""
        self.roots = [r.resolve() for r in roots]
        self._on_damage = on_damage or (lambda message: None)
        self._recover_lock = threading.Lock()
        self._secret_patterns = tuple(secret_patterns)
        self._secrets = secret_files(self._secret_patterns)  # fails now on a negation
        self._embedder = LazyEmbedder(embedder, embedder_name, pacer)
        self._exclude = tuple(exclude)
        self._max_file_bytes = max_file_bytes
        self._db_path = db_path
        self._rerank = rerank
        self._use_ctags = use_ctags
        self._indexes: list[RootIndex] | None = None
        self._writers = [WriterLock(d) for d in self.db_dirs()]
        self._open_lock = threading.Lock()
        self._built = threading.Event()
        self.last_crawl: CrawlStats | None = None

    @property
    def home(self) -> Path:
        """The first root's index folder: other per-workspace state (chat sessions) lives here."""
        return self._db_dir(0, self.roots[0])

    def _db_dir(self, i: int, root: Path) -> Path:
        return index_dir(root, self._db_path, len(self.roots))

    def indexes(self) -> list[RootIndex]:
        """Open every root's index; the embedder loads only if a store needs its dimension."""
        with self._open_lock:
            if self._indexes is None:
                self._indexes = [self._open_root(i, root) for i, root in enumerate(self.roots)]
            return self._indexes

    def _new_root(self, i: int) -> RootIndex:
        root = self.roots[i]
        return RootIndex(
            root,
            self._db_dir(i, root),
            self._embedder,
            self._exclude,
            self._max_file_bytes,
            self._use_ctags,
            self._damaged,
            self._writers[i],
            self._secret_patterns,
        )

    def _open_root(self, i: int, root: Path) -> RootIndex:
        """Open one root's index; one whose own files cannot be read is moved aside first."""
        from lsp_ai.index.store import StoreError, plain_error

        try:
            return self._new_root(i)
        except StoreError as exc:
            if not exc.suspect_damage or not self._writers[i].held:
                raise  # the folder or the disk, or another process's: not ours to move
            damage = plain_error(exc.__cause__ or exc)
        db = self._db_dir(i, root)
        aside = move_aside(db)
        self._damaged(
            f"the index at {db} was damaged ({damage}); it was moved to {aside} "
            "and is being rebuilt"
        )
        return self._new_root(i)

    def _damaged(self, message: str) -> None:
        log.warning("%s", message)
        self._on_damage(f"lsp-ai: {message}")

    def _recover(self, i: int, failed: RootIndex) -> bool:
        """If root `i`'s database is damaged, move it aside and open a new one; True if so.

        Also True when another thread already replaced `failed`: the caller retries either way.
        """
        with self._recover_lock, failed._lock:
            if self._indexes is None or self._indexes[i] is not failed:
                return True
            if not failed.writes:
                return False  # the writing process finds it and moves it
            damage = failed.store.verify()
            if damage is None:
                return False
            failed.store.close()
            aside = move_aside(failed.db_dir)
            self._indexes[i] = self._new_root(i)
            self._built.clear()  # the next search or crawl rebuilds it
        self._damaged(
            f"the index at {failed.db_dir} was damaged ({damage}); it was moved to {aside} "
            "and is being rebuilt"
        )
        return True

    def _on_root(self, i: int, action: Callable[[RootIndex], T]) -> T:
        """`action` on root `i`'s index; once more on a new one if the database was damaged."""
        from lsp_ai.index.store import StoreError

        idx = self.indexes()[i]
        try:
            return action(idx)
        except StoreError as exc:
            if not exc.suspect_damage or not self._recover(i, idx):
                raise
        return action(self.indexes()[i])

    def db_dirs(self) -> list[Path]:
        """Every root's index folder, known without opening anything."""
        return [self._db_dir(i, root) for i, root in enumerate(self.roots)]

    def open_if_present(self) -> bool:
        """Open the index only if one was built before by the configured embedding model.

        For callers that must not build one (repository context), and for the server's status
        at start: what is on disk is counted at once, without loading the model (a database
        built by another model would need it to learn its dimension, and is rebuilt anyway).
        """
        if self._indexes is not None:
            return True
        if all(
            d.is_dir() and self._embedder.recorded_identity(d) is not None for d in self.db_dirs()
        ):
            self.indexes()
            return True
        return False

    def build(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> int:
        """Sync every root; returns the number of files now indexed."""
        from lsp_ai.index.store import NotCreatedYet

        total = CrawlStats()
        try:
            self.indexes()
        except NotCreatedYet as exc:  # another process is creating it: nothing to read yet
            log.info("%s", exc)
            return 0
        for i in range(len(self.indexes())):
            s = self._on_root(i, lambda idx: idx.sync(progress, cancel))
            for field in vars(total):
                setattr(total, field, getattr(total, field) + getattr(s, field))
        self.last_crawl = total
        # Not while another process writes: the next search tries again to take over.
        if (cancel is None or not cancel.is_set()) and self.writes:
            self._built.set()  # a cancelled crawl is finished by the next search or reindex
        return self.stats()["indexed_files"]

    def ensure_built(self) -> None:
        if not self._built.is_set():
            self.build()

    def invalidate(self) -> None:
        self._built.clear()

    @property
    def skipped(self) -> int:
        return sum(i.filter.skipped_count for i in self._indexes or [])

    def skipped_kinds(self) -> Counter[str]:
        """How many paths the last crawl skipped, by kind of reason ("binary": 3, ...)."""
        kinds: Counter[str] = Counter()
        for idx in self._indexes or []:
            kinds.update(idx.filter.skipped_kinds)
        return kinds

    def locate(self, path: Path) -> tuple[int, str] | None:
        real = path.resolve()
        for i, root in enumerate(self.roots):
            if real.is_relative_to(root):
                return i, real.relative_to(root).as_posix()
        return None

    def private_reason(self, path: Path) -> str | None:
        """Why a document must stay out of every prompt: a secret, or a file git ignores.

        Judged on the path as named and on the file it resolves to, so a symlink
        `notes.txt -> .env` is as private as `.env`. A file with more than one name (a hard
        link) is private too: its other names may be secrets (`discover.HARD_LINK`). The
        user's `index.exclude` patterns are left out on purpose: they keep noise out of the
        index, they do not mark files private.
        """
        named = Path(os.path.abspath(path))
        resolved = Path(os.path.realpath(named))
        if any(self._secrets.match(self._secret_key(p)) for p in (named, resolved)):
            return "a secret file"
        try:
            st = resolved.stat()
        except OSError:
            st = None  # an unsaved file: judged by its name alone
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            return "a hard link (another name of the file may be a secret)"
        where = self.locate(path)
        if where is None:
            return None
        reason = FileFilter(self.roots[where[0]], secret_patterns=self._secret_patterns).check(
            named
        )
        if reason in ("secret", SYMLINK_TO_SECRET):
            return "a secret file"
        if reason in ("ignored", "symlink to a skipped file (ignored)"):
            return "a file git ignores"
        return None

    def _secret_key(self, path: Path) -> str:
        """How secret patterns see an absolute path: relative to its root, if it has one."""
        for root in self.roots:
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return path.as_posix()

    def resolve(self, rel: str) -> Path:
        head, _, rest = rel.partition("/")
        for root in self.roots[1:]:
            if head == root.name and rest:
                return root / rest
        return self.roots[0] / rel

    def symbols_for(self, path: str) -> tuple[SymbolTable, str] | None:
        """The symbol table of the root holding `path`, and the file's key in it.

        None until the index is open, so that the keystroke path never waits for it.
        """
        if self._indexes is None or not Path(path).is_absolute():
            return None
        where = self.locate(Path(path))
        if where is None:
            return None
        i, rel = where
        return self._indexes[i].symbols, rel

    def update_file(self, path: Path, text: str | None = None) -> bool:
        where = self.locate(path)
        if where is None:
            return False
        return self._on_root(where[0], lambda idx: idx.update(where[1], text))

    def remove_file(self, path: Path) -> None:
        if (where := self.locate(path)) is not None:
            self._on_root(where[0], lambda idx: idx.remove(where[1]))

    def search(
        self, query: str, k: int, mode: Mode = "hybrid", expand: bool = False, build: bool = True
    ) -> list[SearchHit]:
        """Best-first hits over every root; `expand` adds call-graph neighbours of the top hits.

        `build=False` searches what is committed now, for a caller whose crawl is running
        elsewhere: building here would only wait for that crawl and then repeat it. How the
        hits are found and ordered is `lsp_ai.index.search`'s business.
        """
        from lsp_ai.index.store import StoreError

        if build:
            self.ensure_built()
        try:
            return self._search(query, k, mode, expand)
        except StoreError as exc:
            if not exc.suspect_damage:
                raise
            recovered = [self._recover(i, idx) for i, idx in enumerate(self.indexes())]
            if not any(recovered):
                raise
        self.ensure_built()  # a moved-aside root is rebuilt before it is searched again
        return self._search(query, k, mode, expand)

    def _search(self, query: str, k: int, mode: Mode, expand: bool) -> list[SearchHit]:
        return search(
            self.views(), query, k, mode, self._embed_query, rerank=self._rerank, expand=expand
        )

    def views(self) -> list[Root]:
        """Every root's chunks and call graph, as of now, with its name in paths.

        A read-only follower first re-reads the symbol table the writer saved since.
        """
        for idx in self.indexes():
            idx.follow()
        return [
            Root(idx.store, idx.symbols, self.prefix(i)) for i, idx in enumerate(self.indexes())
        ]

    def prefix(self, i: int) -> str:
        """How paths of root `i` start in hits: "" for the first root, "<name>/" for others."""
        return "" if i == 0 else f"{self.roots[i].name}/"

    def file_filter(self, i: int) -> FileFilter:
        """Root `i`'s indexing rules as configured: what the index may hold is what may be read."""
        return FileFilter(self.roots[i], self._exclude, self._max_file_bytes, self._secret_patterns)

    def last_update(self) -> float | None:
        """When any root's index last changed (epoch seconds), by this or another process."""
        times = [t for idx in self._indexes or [] if (t := idx.store.last_commit()) is not None]
        return max(times, default=None)

    def _embed_query(self, query: str) -> list[float]:
        return self._embedder.embed([query], "query")[0]

    def stats(self) -> dict[str, int]:
        totals = {"indexed_files": 0, "chunks": 0}
        for idx in self._indexes or []:
            s = idx.stats()
            totals["indexed_files"] += s["files"]
            totals["chunks"] += s["chunks"]
        return totals

    @property
    def writes(self) -> bool:
        """True when this process writes every root's index (no other process does)."""
        return all(w.held for w in self._writers)

    def writer(self) -> dict[str, Any]:
        """For status: whether another process writes the index, and which (its pid)."""
        if self._indexes is None:
            return {"read_only": False, "writer": None}
        other = next((w for w in self._writers if not w.held), None)
        if other is None:
            return {"read_only": False, "writer": os.getpid()}
        return {"read_only": True, "writer": other.holder()}

    def iter_roots(self) -> Iterator[RootIndex]:
        yield from self._indexes or []

    def retire(self) -> None:
        """Stop writing for good: a newer index of the same folders (new settings) takes over.

        A crawl in flight here stops at its next batch.
        """
        for w in self._writers:
            w.retire()

    def close(self) -> None:
        for idx in self._indexes or []:
            idx.store.close()
        for w in self._writers:
            w.release()
