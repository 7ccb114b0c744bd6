"""On-disk chunk store: one embedded LanceDB database per workspace root.

The store keeps two tables in ``db_dir``:

* ``chunks_<model>_<dim>`` — one row per chunk with its embedding. The name carries the
  embedding model and dimension so vectors of different models can never be compared.
* ``files`` — the per-file manifest (content hash, size, mtime, chunk count) the indexer
  diffs against the disk to decide what to re-index.

Why the manifest is a LanceDB table rather than a JSON file: an update of N files costs one
small versioned commit proportional to N, instead of rewriting (and fsyncing) a JSON
document proportional to the whole workspace on every save; it also lives in the same
crash-safe, versioned store as the chunks, and is dropped together with them on a rebuild.

Crash safety rests on LanceDB's commit model: every write (``add``, ``delete``,
``merge_insert``, ``optimize``) publishes a new table version atomically, so a process
killed mid-write leaves the previous version readable. Across the two tables a batch is
written in three commits::

    1. manifest: mark the batch's files *pending*   (file_hash = "")
    2. chunks:   one merge_insert that inserts new rows and deletes the files' stale rows
    3. manifest: record the files' final state

A kill between any two commits leaves the files pending, which the indexer sees as stale
and redoes; a completed manifest entry therefore always describes exactly the chunks
stored for that path. ``meta.json`` (written atomically) records which model, dimension
and schema the database was built with; opening with different ones starts clean.

Concurrency: writes and index maintenance hold one ``threading.RLock``. Searches do not:
every LanceDB query reads one committed table version (Lance is multi-version, readers
never see a half-applied commit), and because a batch replaces chunks in a single
``merge_insert`` commit a concurrent search sees either the old or the new chunks of a
file, never both. Only one *process* writes a database at a time (`lsp_ai.index.writer`);
others open it ``read_only``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.expr import col
from lancedb.index import FTS
from lancedb.query import FullTextOperator, LanceVectorQueryBuilder, MatchQuery

from lsp_ai.index.hits import SearchHit
from lsp_ai.spans import CodeSpan

if TYPE_CHECKING:
    from lsp_ai.index.chunker import Chunk

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
META_FILE = "meta.json"
FILES_TABLE = "files"
_FTS_COLUMN = "embed_text"
_MAX_QUERY_TERMS = 64  # bounds the cost of pasting a whole file into the search box
_PRUNE_AFTER = timedelta(hours=1)  # old versions kept for slow readers in other processes
_FTS_STALE_ROWS = 1000  # unindexed rows FTS may flat-scan before the index is refreshed
_MAX_COMMITS = 64  # chunk-table commits between compactions (each adds small files)
_IN_LIST_CHUNK = 1000  # values per SQL IN (...) list
# LanceDB caches metadata and index parts per table version, and every commit is a version.
# Under its default caps (gigabytes) a store that replaced or removed a file 100 times grew
# ~5 MB and never gave it back. Only the newest version is read, so small caps cost
# nothing: hybrid search over 30,000 chunks took the same time with these as without.
_INDEX_CACHE_BYTES = 64 * 2**20
_METADATA_CACHE_BYTES = 16 * 2**20
_PENDING = ""  # file_hash of a manifest entry whose update has not finished
_FIX_HINT = (
    "Make the directory writable and check the disk has free space, "
    "or set index.db_path to another location."
)
# An operation failed for no reason of the folder or the disk, and the files read back whole
# (`ChunkStore.verify`, which runs before this reaches anyone): not a permission problem.
_UNKNOWN_HINT = (
    "If it persists, move the index folder aside (lsp-ai rebuilds it) "
    "or set index.db_path to another location."
)
#: Storage failures users can fix, recognised by errno or by the text LanceDB wraps them in
#: (its errors carry a Rust source location that helps nobody): (errno, text, cause, fix).
_KNOWN_CAUSES = (
    (
        errno.ENOSPC,
        "No space left on device",
        "the disk is full",
        "Free some space, or set index.db_path to a directory on another disk.",
    ),
    (
        errno.EROFS,
        "Read-only file system",
        "the directory is read-only",
        "Set index.db_path to a writable directory.",
    ),
    (
        errno.EACCES,
        "Permission denied",
        "permission denied",
        "Make the directory writable, or set index.db_path to another location.",
    ),
)
#: A row's `CodeSpan` is flattened into the columns named like its fields here, at the store's
#: boundary, and rebuilt from them on every read; the rest of the code sees only spans.
_SPAN_COLUMNS = tuple(f.name for f in fields(CodeSpan))
_HIT_COLUMNS = (
    "path",
    "start_line",
    "end_line",
    "language",
    "kind",
    "symbol",
    "scope",
    "text",
    "embed_text",
    "content_hash",
)


class StoreError(OSError):
    """The index database cannot be opened, read or written; the message says how to fix it.

    An OSError because it is one (a read-only folder, a full disk), so whatever already
    reports I/O trouble as a plain message (the command line, the server) reports it too.
    `suspect_damage` is True when the cause is not one of the folder or the disk (permission,
    space, a read-only mount): the database's own files may be damaged (`ChunkStore.verify`).
    """

    def __init__(self, message: str, *, suspect_damage: bool = False) -> None:
        super().__init__(message)
        self.suspect_damage = suspect_damage


class NotCreatedYet(StoreError):
    """Another process writes this database and has not created its tables yet."""


@dataclass(frozen=True)
class ChunkRecord:
    """One row of the chunks table: a chunk plus its vector."""

    span: CodeSpan  # path relative to the workspace root; `text` is what a hit shows
    language: str
    kind: str
    embed_text: str  # what was embedded; also what full-text search matches
    content_hash: str  # sha256 hex of embed_text
    vector: Sequence[float]

    @classmethod
    def from_chunk(cls, chunk: Chunk, vector: Sequence[float]) -> ChunkRecord:
        """Pair a chunk with its vector."""
        return cls(
            chunk.span, chunk.language, chunk.kind, chunk.embed_text, chunk.content_hash, vector
        )


@dataclass(frozen=True)
class FileState:
    """The manifest entry of one file, as recorded after its chunks were committed."""

    path: str
    file_hash: str
    size: int
    mtime_ns: int
    chunks: int

    @property
    def pending(self) -> bool:
        """True when an update of this file was interrupted; treat the file as stale."""
        return self.file_hash == _PENDING


@dataclass(frozen=True)
class FileUpdate:
    """Everything ``replace_files`` needs to replace one file's chunks."""

    path: str
    file_hash: str
    size: int
    mtime_ns: int
    rows: Sequence[ChunkRecord]


@dataclass(frozen=True)
class StoredHit:
    """A search result: every stored field except the vector, plus a score (higher = better)."""

    span: CodeSpan
    language: str
    kind: str
    embed_text: str
    content_hash: str
    score: float

    def to_search_hit(self) -> SearchHit:
        """The protocol-facing hit the rest of the server passes around."""
        return SearchHit(self.span, self.kind, self.language, self.score)


def _columns(row: ChunkRecord) -> dict[str, Any]:
    """A row's `_HIT_COLUMNS` as the table stores them: the span flattened to columns."""
    span = row.span
    return {
        "path": span.path,
        "start_line": span.start_line,
        "end_line": span.end_line,
        "language": row.language,
        "kind": row.kind,
        "symbol": span.symbol,
        "scope": span.scope,
        "text": span.text,
        "embed_text": row.embed_text,
        "content_hash": row.content_hash,
    }


def _span_of(row: dict[str, Any]) -> CodeSpan:
    """The span of a row read from the table (a dict of its columns)."""
    return CodeSpan(**{name: row[name] for name in _SPAN_COLUMNS})


def _stored_hit(row: dict[str, Any], score: float) -> StoredHit:
    return StoredHit(
        _span_of(row), row["language"], row["kind"], row["embed_text"], row["content_hash"], score
    )


def table_name_for(model_name: str, dimension: int) -> str:
    """A LanceDB-safe table name unique to one embedding model and dimension.

    Long names (a model given as a filesystem path) are cut and suffixed with a hash of the
    full name so two different models never share a table.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", model_name.lower()).strip("_") or "model"
    if len(slug) > 80:
        digest = hashlib.sha256(model_name.encode()).hexdigest()[:10]
        slug = f"{slug[:80]}_{digest}"
    return f"chunks_{slug}_{dimension}"


def fts_terms(query: str) -> str:
    """Reduce a free-form query to plain space-separated terms.

    Quotes, parentheses, colons, ``-``, ``*`` and the like carry query-syntax meaning in
    some full-text engines; keeping only word characters means no user input can turn
    into a syntax error, whatever the engine does with it.
    """
    return " ".join(re.findall(r"\w+", query)[:_MAX_QUERY_TERMS])


def _match_query(terms: str) -> MatchQuery:
    """Any-term (OR), exact-term BM25 match on ``embed_text``; every option spelled out."""
    return MatchQuery(
        terms,
        _FTS_COLUMN,
        boost=1.0,
        fuzziness=0,
        max_expansions=50,
        operator=FullTextOperator.OR,
        prefix_length=0,
        document_granularity=None,
    )


def _chunk_schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("row_key", pa.string(), nullable=False),
            pa.field("path", pa.string(), nullable=False),
            pa.field("start_line", pa.int32(), nullable=False),
            pa.field("end_line", pa.int32(), nullable=False),
            pa.field("language", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("symbol", pa.string(), nullable=True),
            pa.field("scope", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("embed_text", pa.string(), nullable=False),
            pa.field("content_hash", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dimension), nullable=False),
        ]
    )


_FILES_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("file_hash", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("mtime_ns", pa.int64(), nullable=False),
        pa.field("chunks", pa.int32(), nullable=False),
    ]
)


def _row_key(row: ChunkRecord) -> str:
    """Identity of a stored row: a hash of every field but the vector.

    An unchanged chunk keeps its key, so re-writing a file leaves it untouched on disk; a
    chunk that moved lines or changed text gets a new key and replaces the old row.
    """
    span = row.span
    parts = (
        span.path,
        str(span.start_line),
        str(span.end_line),
        row.language,
        row.kind,
        "\x00" if span.symbol is None else span.symbol,
        span.scope,
        span.text,
        row.content_hash,
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _known_cause(exc: BaseException) -> tuple[str, str] | None:
    """(cause, fix) when the folder or the disk is at fault, None for any other failure."""
    text = str(exc)
    code = exc.errno if isinstance(exc, OSError) else None
    for known_errno, known_text, cause, fix in _KNOWN_CAUSES:
        if code == known_errno or known_text in text:
            return cause, fix
    return None


def _explain(exc: BaseException, hint: str = _FIX_HINT) -> str:
    """What went wrong and how to fix it, in words; the raw error and `hint` when unknown."""
    known = _known_cause(exc)
    return f"{known[0]}. {known[1]}" if known else f"{plain_error(exc)}. {hint}"


def plain_error(exc: BaseException) -> str:
    """An error's text without the Rust source locations LanceDB appends (they help nobody)."""
    return re.sub(r",? /\S+\.rs:\d+:\d+", "", str(exc)).strip()


def prepare_db_dir(db_dir: Path) -> None:
    """Create a database directory and check it is writable; StoreError naming the fix if not."""
    try:
        db_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=db_dir, prefix=".probe."):
            pass
    except OSError as exc:
        raise StoreError(f"index database at {db_dir}: open failed: {_explain(exc)}") from exc


def _in_chunks(values: Sequence[str]) -> Iterator[list[str]]:
    """Split an IN (...) list so no single SQL predicate grows with the workspace."""
    for start in range(0, len(values), _IN_LIST_CHUNK):
        yield list(values[start : start + _IN_LIST_CHUNK])


def _isin_sql(column: str, values: Sequence[str]) -> str:
    """A correctly quoted ``column IN (...)`` predicate (LanceDB's expression builder)."""
    return col(column).isin(list(values)).to_sql()


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write via a temp file in the same directory + os.replace, so readers never see half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class ChunkStore:
    """Chunks and their vectors for one workspace root, with vector and full-text search.

    Fusing the two (hybrid search) is retrieval policy: see `lsp_ai.index.search`.

    ``rebuilt`` / ``rebuild_reason`` say whether opening discarded an index built with a
    different model, dimension or schema (every file must then be re-indexed).

    ``read_only``: another process writes this database (`lsp_ai.index.writer`). Opening then
    creates, drops and rewrites nothing, every read sees the newest committed version, and a
    write raises StoreError; the tables must exist (the writer creates them when it opens).
    """

    def __init__(
        self, db_dir: Path, model_name: str, dimension: int, *, read_only: bool = False
    ) -> None:
        if dimension <= 0:
            raise ValueError(f"embedding dimension must be positive, got {dimension}")
        self.db_dir = Path(db_dir)
        self.model_name = model_name
        self.dimension = dimension
        self.table_name = table_name_for(model_name, dimension)
        self.rebuilt = False
        self.rebuild_reason: str | None = None
        self._lock = threading.RLock()
        self._closed = False
        self._commits_since_optimize = 0
        self.read_only = read_only
        if read_only:
            self._open_following()
            return
        prepare_db_dir(self.db_dir)
        with self._guard("open"):
            self._cache = lancedb.Session(
                index_cache_size_bytes=_INDEX_CACHE_BYTES,
                metadata_cache_size_bytes=_METADATA_CACHE_BYTES,
            )
            self._db = lancedb.connect(str(self.db_dir), session=self._cache)
            self._check_meta()
            self._chunks = self._db.create_table(
                self.table_name, schema=_chunk_schema(dimension), exist_ok=True
            )
            self._files = self._db.create_table(FILES_TABLE, schema=_FILES_SCHEMA, exist_ok=True)
            self._fts_dirty = self._fts_needs_refresh()

    # -- opening ---------------------------------------------------------------------------

    def _open_following(self) -> None:
        """Open another process's database to read what it commits, as it commits it."""
        with self._guard("open"):
            self._cache = lancedb.Session(
                index_cache_size_bytes=_INDEX_CACHE_BYTES,
                metadata_cache_size_bytes=_METADATA_CACHE_BYTES,
            )
            # Interval 0: every read checks for a newer version (one small listing).
            self._db = lancedb.connect(
                str(self.db_dir), session=self._cache, read_consistency_interval=timedelta(0)
            )
            names = set(self._table_names())
            missing = [n for n in (self.table_name, FILES_TABLE) if n not in names]
            if missing:
                raise NotCreatedYet(
                    f"index database at {self.db_dir} has no table {missing[0]} yet: the "
                    "process that writes it has not created it (or uses another embedding "
                    "model); try again in a moment"
                )
            self._chunks = self._db.open_table(self.table_name)
            self._files = self._db.open_table(FILES_TABLE)
            self._fts_dirty = False

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"index database at {self.db_dir} is written by another process")

    def _check_meta(self) -> None:
        """Start clean when the database was built by another model, dimension or schema."""
        wanted = {
            "model": self.model_name,
            "dimension": self.dimension,
            "schema_version": SCHEMA_VERSION,
            "table": self.table_name,
        }
        reason = self._meta_mismatch(wanted)
        if reason is not None:
            log.info("rebuilding index in %s: %s", self.db_dir, reason)
            self._db.drop_all_tables()
            self.rebuilt, self.rebuild_reason = True, reason
        if reason is not None or not (self.db_dir / META_FILE).exists():
            _write_json_atomic(self.db_dir / META_FILE, wanted)

    def _meta_mismatch(self, wanted: dict[str, Any]) -> str | None:
        """Why the existing database cannot be reused, or None when it can (or is empty)."""
        meta_path = self.db_dir / META_FILE
        if not meta_path.exists():
            return "meta.json is missing" if self._table_names() else None
        try:
            found = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            return f"meta.json is unreadable ({exc})"
        if not isinstance(found, dict):
            return "meta.json is not an object"
        for key in ("model", "dimension", "schema_version"):
            if found.get(key) != wanted[key]:
                return f"{key} changed from {found.get(key)!r} to {wanted[key]!r}"
        return None

    def _table_names(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = self._db.list_tables(page_token=token)
            names.extend(page.tables)
            token = page.page_token
            if not token:
                return names

    # -- errors and guards -----------------------------------------------------------------

    def _error(self, action: str, exc: BaseException) -> StoreError:
        return StoreError(
            f"index database at {self.db_dir}: {action} failed: {_explain(exc, _UNKNOWN_HINT)}",
            suspect_damage=_known_cause(exc) is None,
        )

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn storage failures (permissions, full disk, corrupt files) into StoreError."""
        if self._closed:
            raise StoreError(f"index database at {self.db_dir} is closed")
        try:
            yield
        except StoreError:
            raise
        except (OSError, RuntimeError) as exc:
            raise self._error(action, exc) from exc

    # -- manifest --------------------------------------------------------------------------

    def file_state(self, path: str) -> FileState | None:
        """The manifest entry of one file; None if never indexed, ``pending`` if interrupted."""
        with self._guard("read file state"):
            rows = (
                self._files.search()
                .where(col("path") == path)
                .select(list(_FILES_SCHEMA.names))
                .limit(1)
                .to_arrow()
                .to_pylist()
            )
        return FileState(**rows[0]) if rows else None

    def all_files(self) -> dict[str, FileState]:
        """Every manifest entry by path, including pending ones (their files are stale)."""
        with self._guard("read file states"):
            rows = self._files.search().select(list(_FILES_SCHEMA.names)).limit(None).to_arrow()
        return {r["path"]: FileState(**r) for r in rows.to_pylist()}

    def _upsert_manifest(self, states: Sequence[FileState]) -> None:
        data = pa.Table.from_pylist([s.__dict__ for s in states], schema=_FILES_SCHEMA)
        (
            self._files.merge_insert("path")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )

    def _mark_pending(self, paths: Sequence[str]) -> None:
        """Invalidate the files' entries before touching their chunks (see module docstring)."""
        self._upsert_manifest([FileState(p, _PENDING, -1, -1, -1) for p in paths])

    def _commit_manifest(self, updates: Sequence[FileUpdate], counts: dict[str, int]) -> None:
        states = [
            FileState(u.path, u.file_hash, u.size, u.mtime_ns, counts.get(u.path, 0))
            for u in updates
        ]
        self._upsert_manifest(states)

    # -- writes ----------------------------------------------------------------------------

    def replace_file(
        self, path: str, file_hash: str, size: int, mtime_ns: int, rows: Sequence[ChunkRecord]
    ) -> None:
        """Replace every chunk of one file and record the file in the manifest."""
        self.replace_files([FileUpdate(path, file_hash, size, mtime_ns, rows)])

    def replace_files(self, batch: Iterable[FileUpdate]) -> None:
        """Replace the chunks of many files in one chunk-table commit.

        Per-file table operations are slow in LanceDB (each is a versioned commit), so a
        batch costs three commits however many files it holds: mark pending, one
        ``merge_insert`` keyed on the row identity (inserts new rows, leaves unchanged rows
        alone, deletes the files' rows that are no longer produced), record the manifest.
        """
        updates = list({u.path: u for u in batch}.values())  # last update of a path wins
        if not updates:
            return
        data, counts = self._rows_table(updates)
        paths = [u.path for u in updates]
        self._writable()
        with self._lock, self._guard("write"):
            self._mark_pending(paths)
            self._commit_chunks(paths, data)
            self._note_chunk_commit()
            self._commit_manifest(updates, counts)

    def _commit_chunks(self, paths: Sequence[str], data: pa.Table) -> None:
        """One atomic commit: readers see all of a batch's files old, or all new."""
        stale = col("path").isin(list(paths))
        (
            self._chunks.merge_insert("row_key")
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(stale)
            .execute(data)
        )

    def _rows_table(self, updates: Sequence[FileUpdate]) -> tuple[pa.Table, dict[str, int]]:
        """Validate rows and turn them into one Arrow table; also count rows per file."""
        rows: dict[str, ChunkRecord] = {}
        counts: dict[str, int] = {}
        for update in updates:
            for row in update.rows:
                if row.span.path != update.path:
                    raise ValueError(
                        f"row of {row.span.path!r} given in the update of {update.path!r}"
                    )
                key = _row_key(row)
                if key not in rows:  # the chunker emitted the same chunk twice: keep one
                    rows[key] = row
                    counts[update.path] = counts.get(update.path, 0) + 1
        return self._arrow_rows(rows), counts

    def _arrow_rows(self, rows: dict[str, ChunkRecord]) -> pa.Table:
        values = list(rows.values())
        flat = [_columns(r) for r in values]
        columns: dict[str, Any] = {"row_key": list(rows)}
        for name in _HIT_COLUMNS:
            columns[name] = [f[name] for f in flat]
        vectors = self._vector_matrix(values)
        columns["vector"] = pa.FixedSizeListArray.from_arrays(
            pa.array(vectors.ravel(), type=pa.float32()), self.dimension
        )
        return pa.Table.from_pydict(columns, schema=_chunk_schema(self.dimension))

    def _vector_matrix(self, rows: Sequence[ChunkRecord]) -> np.ndarray:
        """Rows' vectors as an (n, dimension) float32 matrix, rejecting bad ones early."""
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            matrix = np.asarray([r.vector for r in rows], dtype=np.float32)
        except ValueError as exc:
            raise ValueError(f"vectors of unequal length: {exc}") from exc
        if matrix.ndim != 2 or matrix.shape[1] != self.dimension:
            raise ValueError(
                f"vectors must have dimension {self.dimension} ({self.model_name}), "
                f"got shape {matrix.shape}"
            )
        if not np.isfinite(matrix).all():
            raise ValueError("vectors contain NaN or infinite values")
        return matrix

    def remove_file(self, path: str) -> None:
        """Forget one file: its chunks and its manifest entry."""
        self.remove_files([path])

    def remove_files(self, paths: Iterable[str]) -> None:
        """Forget many files; pending-first ordering means a kill leaves them stale, not lost."""
        unique = list(dict.fromkeys(paths))
        if not unique:
            return
        self._writable()
        with self._lock, self._guard("remove"):
            self._mark_pending(unique)
            for part in _in_chunks(unique):
                self._chunks.delete(_isin_sql("path", part))
            self._note_chunk_commit()
            for part in _in_chunks(unique):
                self._files.delete(_isin_sql("path", part))

    def _note_chunk_commit(self) -> None:
        self._fts_dirty = True
        self._commits_since_optimize += 1

    # -- reads -----------------------------------------------------------------------------

    def known_vectors(self, hashes: Iterable[str]) -> dict[str, list[float]]:
        """Vectors already stored for these content hashes, from any path.

        Lets the indexer skip the embedding model for unchanged and moved chunks.
        """
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, list[float]] = {}
        with self._guard("read vectors"):
            for part in _in_chunks(wanted):
                table = (
                    self._chunks.search()
                    .where(_isin_sql("content_hash", part))
                    .select(["content_hash", "vector"])
                    .limit(None)
                    .to_arrow()
                )
                for h, v in zip(
                    table["content_hash"].to_pylist(), table["vector"].to_pylist(), strict=True
                ):
                    found.setdefault(h, v)
        return found

    def search_vector(self, vector: Sequence[float], k: int) -> list[StoredHit]:
        """Nearest chunks by cosine similarity (score = 1 - cosine distance), best first.

        The search is exact (no ANN index): at workspace scale a flat scan is fast and an
        approximate index would need training and periodic rebuilds.
        """
        return [hit for _, hit in self.vector_candidates(vector, k)]

    def search_fts(self, query: str, k: int) -> list[StoredHit]:
        """BM25 full-text matches on ``embed_text``, best first; [] when nothing matches."""
        return [hit for _, hit in self.fts_candidates(query, k)]

    def vector_candidates(self, vector: Sequence[float], k: int) -> list[tuple[str, StoredHit]]:
        """`search_vector`'s hits, each with its row identity (for fusing with other legs)."""
        query = np.asarray(vector, dtype=np.float32)
        if query.shape != (self.dimension,):
            raise ValueError(f"query vector must have dimension {self.dimension}")
        if k <= 0 or not np.any(query):
            return []  # a zero vector has no direction, so no cosine neighbours
        with self._guard("vector search"):
            builder = self._chunks.search(query, query_type="vector")
            assert isinstance(builder, LanceVectorQueryBuilder)
            table = (
                builder.distance_type("cosine")
                .select(["row_key", *_HIT_COLUMNS, "_distance"])
                .limit(k)
                .to_arrow()
            )
        return self._hits(table, "_distance", lambda d: 1.0 - d)

    def fts_candidates(self, query: str, k: int) -> list[tuple[str, StoredHit]]:
        """`search_fts`'s hits, each with its row identity (for fusing with other legs)."""
        terms = fts_terms(query)
        if k <= 0 or not terms:
            return []
        self.ensure_fts()
        if self.read_only and self._fts_index() is None:
            return []  # the writer has not built one yet; vector search still answers
        with self._guard("full-text search"):
            table = (
                self._chunks.search(_match_query(terms), query_type="fts")
                .select(["row_key", *_HIT_COLUMNS, "_score"])
                .limit(k)
                .to_arrow()
            )
        return self._hits(table, "_score", float)

    @staticmethod
    def _hits(
        table: pa.Table, score_column: str, to_score: Callable[[float], float]
    ) -> list[tuple[str, StoredHit]]:
        out = []
        for row in table.to_pylist():
            score = to_score(row.pop(score_column))
            key = row.pop("row_key")
            out.append((key, _stored_hit(row, float(score))))
        return out

    def all_chunks(self) -> list[ChunkRecord]:
        """Every stored chunk with its vector, ordered by path, lines and row identity.

        A read-only view of the whole table, for checking one index against another (a
        crash-recovered index against a clean build) rather than for serving requests.
        """
        with self._guard("read chunks"):
            table = (
                self._chunks.search()
                .select(["row_key", *_HIT_COLUMNS, "vector"])
                .limit(None)
                .to_arrow()
            )
        order = ("path", "start_line", "end_line", "row_key")
        rows = sorted(table.to_pylist(), key=lambda r: tuple(r[n] for n in order))
        return [
            ChunkRecord(
                _span_of(r),
                r["language"],
                r["kind"],
                r["embed_text"],
                r["content_hash"],
                r["vector"],
            )
            for r in rows
        ]

    def chunks_overlapping(
        self, path: str, line: int, end_line: int | None = None
    ) -> list[StoredHit]:
        """Stored chunks of `path` that overlap lines [line, end_line]; for call-graph expansion."""
        end = line if end_line is None else end_line
        quoted = path.replace("'", "''")
        where = f"path = '{quoted}' AND start_line <= {int(end)} AND end_line >= {int(line)}"
        with self._guard("chunk lookup"):
            table = self._chunks.search().where(where).select(["row_key", *_HIT_COLUMNS]).to_arrow()
        rows = table.to_pylist()
        hits = [_stored_hit(r, 0.0) for r in rows]
        return sorted(hits, key=lambda h: (h.span.end_line - h.span.start_line, h.span.start_line))

    # -- maintenance -----------------------------------------------------------------------

    def _fts_index(self) -> Any | None:
        for index in self._chunks.list_indices():
            if index.index_type == "FTS" and list(index.columns) == [_FTS_COLUMN]:
                return index
        return None

    def _fts_needs_refresh(self) -> bool:
        index = self._fts_index()
        return index is None or bool(index.num_unindexed_rows)

    def ensure_fts(self, *, force: bool = False) -> None:
        """Bring the full-text index up to date if rows changed since it was last built.

        Lance's native FTS also scans rows committed after the index was built and skips
        deleted ones, so results are correct even while the index lags. Refreshing is
        therefore lazy (first search after writes) and, once the index exists, deferred
        until enough unindexed rows or commits pile up to slow queries down: a refresh
        compacts the table, which on a large workspace costs more than a save.
        """
        if self.read_only or (not self._fts_dirty and not force):
            return  # a follower searches what the writer indexed (Lance scans the rest)
        with self._lock, self._guard("build full-text index"):
            index = self._fts_index()
            if index is None:
                self._chunks.create_index(_FTS_COLUMN, config=FTS(), replace=True)
            if force or (index is not None and self._fts_lagging(index)):
                self._optimize_tables()
            self._fts_dirty = False

    def _fts_lagging(self, index: Any) -> bool:
        unindexed = index.num_unindexed_rows or 0
        return unindexed > _FTS_STALE_ROWS or self._commits_since_optimize >= _MAX_COMMITS

    def optimize(self) -> None:
        """Compact small commits, fold new rows into the indexes and prune old versions."""
        self.ensure_fts(force=True)

    def _optimize_tables(self) -> None:
        # Versions younger than _PRUNE_AFTER survive, so a reader in another process that
        # still holds one keeps working.
        self._chunks.optimize(cleanup_older_than=_PRUNE_AFTER)
        self._files.optimize(cleanup_older_than=_PRUNE_AFTER)
        self._commits_since_optimize = 0

    def verify(self) -> str | None:
        """What is damaged in the database, or None when every part of it reads.

        Reads every row of both tables and runs each kind of query once: the check for an
        operation that failed for no reason of the folder or the disk, before the index is
        moved aside. Trouble with the folder or the disk is not damage (None).
        """
        with self._lock:
            if self._closed:
                return None
            try:
                for table in (self._chunks, self._files):
                    table.checkout_latest()
                    table.to_arrow()
                probe = np.ones(self.dimension, dtype=np.float32)
                builder = self._chunks.search(probe, query_type="vector")
                assert isinstance(builder, LanceVectorQueryBuilder)
                builder.distance_type("cosine").limit(1).to_arrow()
                if self._fts_index() is not None:
                    query = self._chunks.search(_match_query("probe"), query_type="fts")
                    query.limit(1).to_arrow()
            except (OSError, RuntimeError, ValueError) as exc:
                return None if _known_cause(exc) else plain_error(exc)
        return None

    def last_commit(self) -> float | None:
        """When a commit last changed this database (epoch seconds), by any process; None if never.

        Every LanceDB commit adds a manifest to the table's `_versions` folder, which sets the
        folder's mtime: so a read-only follower learns when the writing process last committed
        without reading a table.
        """
        times = []
        for table in (self.table_name, FILES_TABLE):
            with contextlib.suppress(OSError):
                times.append((self.db_dir / f"{table}.lance" / "_versions").stat().st_mtime)
        return max(times, default=None)

    def stats(self) -> dict[str, int]:
        """Counts for status reports: complete files in the manifest, and chunks."""
        with self._guard("count"):
            return {
                "files": self._files.count_rows(f"file_hash != '{_PENDING}'"),
                "chunks": self._chunks.count_rows(),
            }

    def close(self) -> None:
        """Drop the handles; later calls raise StoreError. Safe to call twice."""
        with self._lock:
            self._closed = True
            self.__dict__.pop("_chunks", None)
            self.__dict__.pop("_files", None)
            self.__dict__.pop("_db", None)

    def __enter__(self) -> ChunkStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
