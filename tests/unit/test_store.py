"""Tests for the LanceDB chunk store, on a real database in a temporary directory.

Vectors are small (dimension 8) and derived from a hash, so every run sees the same
geometry; the embedding model is not under test here.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lsp_ai.index.search import VECTOR_WEIGHT, hybrid
from lsp_ai.index.store import (
    ChunkRecord,
    ChunkStore,
    FileUpdate,
    StoreError,
    fts_terms,
    table_name_for,
)
from lsp_ai.spans import CodeSpan

DIM = 8
MODEL = "test-model"


def vec(seed: str) -> list[float]:
    """A deterministic unit vector for any string."""
    digest = hashlib.sha256(seed.encode()).digest()
    raw = np.frombuffer(digest[:DIM], dtype=np.uint8).astype(np.float64) - 127.5
    return (raw / np.linalg.norm(raw)).tolist()


def axis(*weights: float) -> list[float]:
    """A unit vector from leading coordinates, e.g. axis(1, 0.5) ~ e0 + 0.5 e1."""
    raw = np.zeros(DIM)
    raw[: len(weights)] = weights
    return (raw / np.linalg.norm(raw)).tolist()


def chunk(path: str, text: str, line: int = 0, *, vector: list[float] | None = None) -> ChunkRecord:
    return ChunkRecord(
        span=CodeSpan(path, line, line + 2, text, symbol=f"sym_{line}", scope=""),
        language="python",
        kind="function",
        embed_text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        vector=vector if vector is not None else vec(text),
    )


def put(store: ChunkStore, path: str, *rows: ChunkRecord, file_hash: str = "h") -> None:
    store.replace_file(path, file_hash, 100, 1, list(rows))


def dump(store: ChunkStore) -> set[tuple[Any, ...]]:
    """Every stored row (vector rounded), for comparing two databases."""
    table = store._chunks.search().limit(None).to_arrow()
    return {
        (
            r["path"],
            r["start_line"],
            r["end_line"],
            r["symbol"],
            r["text"],
            r["content_hash"],
            tuple(round(x, 5) for x in r["vector"]),
        )
        for r in table.to_pylist()
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChunkStore]:
    opened = ChunkStore(tmp_path / "db", MODEL, DIM)
    yield opened
    opened.close()


# -- search ------------------------------------------------------------------------------


def test_vector_search_returns_nearest_first(store: ChunkStore) -> None:
    put(store, "a.py", chunk("a.py", "exact match", vector=axis(1)))
    put(store, "b.py", chunk("b.py", "close", vector=axis(1, 0.5)))
    put(store, "c.py", chunk("c.py", "far", vector=axis(0, 0, 1)))

    hits = store.search_vector(axis(1), k=3)

    assert [h.span.path for h in hits] == ["a.py", "b.py", "c.py"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[2].score == pytest.approx(0.0, abs=1e-5)
    assert not hasattr(hits[0], "vector")
    assert store.search_vector(axis(1), k=1)[0].span.path == "a.py"


def test_fts_search_ranks_rows_with_more_matching_terms_first(store: ChunkStore) -> None:
    put(store, "cfg.py", chunk("cfg.py", "def parse_config(path): load the json settings"))
    put(store, "json.py", chunk("json.py", "def dump(obj): write json"))
    put(store, "http.py", chunk("http.py", "def send_request(url): http client post"))

    hits = store.search_fts("parse json", k=10)

    assert [h.span.path for h in hits] == ["cfg.py", "json.py"]
    assert hits[0].score > hits[1].score > 0
    assert hits[0].span.symbol == "sym_0" and hits[0].language == "python"
    assert hits[0].span.text == "def parse_config(path): load the json settings"


def test_hybrid_ranks_row_good_in_both_lists_above_rows_good_in_one(store: ChunkStore) -> None:
    # Vector list: vec_top, both, fillers..., fts_top.  FTS list: fts_top, both.
    put(store, "vec_top.py", chunk("vec_top.py", "unrelated words only", vector=axis(1)))
    both_text = "the tokenizer handles unicode input with care and several other words"
    put(store, "both.py", chunk("both.py", both_text, vector=axis(1, 0.2)))
    weak = "a long text that mentions the tokenizer once among very many other unrelated words"
    put(store, "weak.py", chunk("weak.py", weak, vector=axis(0, 0, 0, 0, 0, 0, 0, 1)))
    fts_text = "tokenizer tokenizer tokenizer"
    put(store, "fts_top.py", chunk("fts_top.py", fts_text, vector=axis(0, 0, 1)))
    for n in range(10):
        weights = [0.0] * DIM
        weights[0], weights[3 + n % 5] = 0.1 * (n + 1), 1.0
        put(store, f"filler{n}.py", chunk(f"filler{n}.py", f"filler {n}", vector=axis(*weights)))

    assert store.search_vector(axis(1), 1)[0].span.path == "vec_top.py"
    assert store.search_fts("tokenizer", 1)[0].span.path == "fts_top.py"
    hits = hybrid(store, "tokenizer", axis(1), k=5)

    assert hits[0].span.path == "both.py"
    assert 1.0 - VECTOR_WEIGHT < hits[0].score <= 1.0
    assert hits[1].span.path == "vec_top.py"
    # A row only the full-text leg likes still makes the list, below strong vector matches.
    assert "fts_top.py" in {h.span.path for h in hybrid(store, "tokenizer", axis(1), k=20)}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hybrid_without_usable_terms_falls_back_to_vector_order(store: ChunkStore) -> None:
    put(store, "a.py", chunk("a.py", "alpha", vector=axis(1)))
    put(store, "b.py", chunk("b.py", "beta", vector=axis(0, 1)))

    assert [h.span.path for h in hybrid(store, "((--))", axis(1), k=2)] == ["a.py", "b.py"]


def test_search_results_convert_to_protocol_hits(store: ChunkStore) -> None:
    put(store, "a.py", chunk("a.py", "alpha", line=4))

    hit = store.search_fts("alpha", 1)[0].to_search_hit()

    assert hit.span == CodeSpan("a.py", 4, 6, "alpha", symbol="sym_4")
    assert hit.span.text == "alpha"


# -- updates -----------------------------------------------------------------------------


@pytest.mark.parametrize("refresh_first", [False, True], ids=["index-lagging", "index-fresh"])
def test_fts_sees_updated_content_after_replace_file(
    store: ChunkStore, refresh_first: bool
) -> None:
    put(store, "a.py", chunk("a.py", "def alpha(): pass"), chunk("a.py", "def keep(): pass", 5))
    put(store, "b.py", chunk("b.py", "def other(): pass"))
    assert [h.span.path for h in store.search_fts("alpha", 5)] == ["a.py"]
    if refresh_first:
        store.optimize()

    put(store, "a.py", chunk("a.py", "def gamma(): pass"), chunk("a.py", "def keep(): pass", 9))

    assert store.search_fts("alpha", 5) == []
    assert [(h.span.path, h.span.start_line) for h in store.search_fts("gamma", 5)] == [("a.py", 0)]
    assert [h.span.start_line for h in store.search_fts("keep", 5)] == [9]
    store.optimize()
    assert store.search_fts("alpha", 5) == []
    assert [h.span.path for h in store.search_fts("gamma", 5)] == ["a.py"]


def test_replace_file_records_manifest_and_is_idempotent(store: ChunkStore) -> None:
    rows = [chunk("a.py", "one"), chunk("a.py", "two", 3), chunk("a.py", "two", 3)]
    store.replace_file("a.py", "hash1", 42, 7, rows)
    store.replace_file("a.py", "hash1", 42, 7, rows)

    state = store.file_state("a.py")
    assert state is not None and not state.pending
    assert (state.file_hash, state.size, state.mtime_ns, state.chunks) == ("hash1", 42, 7, 2)
    assert store.stats() == {"files": 1, "chunks": 2}
    assert set(store.all_files()) == {"a.py"}
    assert store.file_state("missing.py") is None


def test_replace_files_batches_many_files_and_empties_files(store: ChunkStore) -> None:
    batch = [
        FileUpdate(f"f{i}.py", f"h{i}", i, i, [chunk(f"f{i}.py", f"body {i}")]) for i in range(5)
    ]
    store.replace_files(batch)
    store.replace_files([FileUpdate("f0.py", "h0-empty", 0, 0, [])])

    assert store.stats() == {"files": 5, "chunks": 4}
    state = store.file_state("f0.py")
    assert state is not None and (state.file_hash, state.chunks) == ("h0-empty", 0)


def test_remove_file_removes_chunks_and_manifest_entry(store: ChunkStore) -> None:
    put(store, "a.py", chunk("a.py", "alpha shared"))
    put(store, "b.py", chunk("b.py", "beta shared"))

    store.remove_file("a.py")
    store.remove_files(["never-indexed.py"])

    assert [h.span.path for h in store.search_fts("shared", 5)] == ["b.py"]
    assert [h.span.path for h in store.search_vector(vec("alpha shared"), 5)] == ["b.py"]
    assert store.file_state("a.py") is None
    assert store.stats() == {"files": 1, "chunks": 1}


def test_all_chunks_lists_every_row_with_its_vector_in_a_stable_order(store: ChunkStore) -> None:
    b_rows = [chunk("b.py", "later", 5), chunk("b.py", "first", 0)]
    put(store, "b.py", *b_rows)
    put(store, "a.py", chunk("a.py", "only"))

    listed = store.all_chunks()

    assert [(r.span.path, r.span.start_line) for r in listed] == [
        ("a.py", 0),
        ("b.py", 0),
        ("b.py", 5),
    ]
    assert listed[1] == ChunkRecord(**{**b_rows[1].__dict__, "vector": listed[1].vector})
    assert np.allclose(listed[1].vector, b_rows[1].vector)


def test_known_vectors_finds_content_stored_under_another_path(store: ChunkStore) -> None:
    moved = chunk("old/place.py", "def moved(): return 1")
    put(store, "old/place.py", moved)

    found = store.known_vectors([moved.content_hash, "0" * 64])

    assert set(found) == {moved.content_hash}
    assert np.allclose(found[moved.content_hash], moved.vector, atol=1e-6)
    assert store.known_vectors([]) == {}


def test_rejects_rows_that_would_corrupt_the_table(store: ChunkStore) -> None:
    with pytest.raises(ValueError, match="dimension 8"):
        put(store, "a.py", chunk("a.py", "x", vector=[1.0, 0.0]))
    with pytest.raises(ValueError, match="NaN"):
        put(store, "a.py", chunk("a.py", "x", vector=[float("nan")] * DIM))
    with pytest.raises(ValueError, match=r"b\.py"):
        put(store, "a.py", chunk("b.py", "x"))
    with pytest.raises(ValueError, match="dimension 8"):
        store.search_vector([1.0], 3)

    assert store.file_state("a.py") is None
    assert store.stats() == {"files": 0, "chunks": 0}


# -- crash safety ------------------------------------------------------------------------


class _Crash(Exception):
    pass


class _CrashBeforeManifest(ChunkStore):
    """Dies after the chunk commit, before the manifest records the file."""

    def _commit_manifest(self, updates: Sequence[FileUpdate], counts: dict[str, int]) -> None:
        raise _Crash


class _CrashBeforeChunks(ChunkStore):
    def _commit_chunks(self, paths: Sequence[str], data: Any) -> None:
        raise _Crash


def test_manifest_is_written_only_after_chunks(tmp_path: Path) -> None:
    calls: list[str] = []

    class Recording(ChunkStore):
        def _commit_chunks(self, paths: Sequence[str], data: Any) -> None:
            calls.append("chunks")
            super()._commit_chunks(paths, data)

        def _upsert_manifest(self, states: Sequence[Any]) -> None:
            calls.append("pending" if states[0].pending else "manifest")
            super()._upsert_manifest(states)

    with Recording(tmp_path / "db", MODEL, DIM) as rec:
        put(rec, "a.py", chunk("a.py", "alpha"))
    assert calls == ["pending", "chunks", "manifest"]


def test_crash_before_manifest_leaves_file_stale(tmp_path: Path) -> None:
    with ChunkStore(tmp_path / "db", MODEL, DIM) as clean:
        put(clean, "old.py", chunk("old.py", "old body"), file_hash="v1")

    with _CrashBeforeManifest(tmp_path / "db", MODEL, DIM) as crashing:
        with pytest.raises(_Crash):
            put(crashing, "new.py", chunk("new.py", "new body"), file_hash="v1")
        with pytest.raises(_Crash):
            put(crashing, "old.py", chunk("old.py", "old body changed"), file_hash="v2")

    with ChunkStore(tmp_path / "db", MODEL, DIM) as reopened:
        states = reopened.all_files()
        # Committed chunks are searchable, but no file claims to be up to date, not even
        # old.py, whose previous entry ("v1") no longer describes its stored chunks.
        assert states["new.py"].pending and states["old.py"].pending
        assert reopened.stats()["files"] == 0
        assert {h.span.path for h in reopened.search_fts("body", 5)} == {"new.py", "old.py"}


def test_crash_before_chunks_keeps_old_chunks_and_marks_stale(tmp_path: Path) -> None:
    with ChunkStore(tmp_path / "db", MODEL, DIM) as clean:
        put(clean, "a.py", chunk("a.py", "original text"), file_hash="v1")
    with _CrashBeforeChunks(tmp_path / "db", MODEL, DIM) as crashing, pytest.raises(_Crash):
        put(crashing, "a.py", chunk("a.py", "edited text"), file_hash="v2")

    with ChunkStore(tmp_path / "db", MODEL, DIM) as reopened:
        state = reopened.file_state("a.py")
        assert state is not None and state.pending
        assert [h.span.text for h in reopened.search_fts("text", 5)] == ["original text"]


def _workspace(version: str) -> dict[str, list[ChunkRecord]]:
    """Two versions of a small workspace: edits, moved chunks, deleted and new files."""
    files: dict[str, list[ChunkRecord]] = {}
    names = [f"src/f{i:02d}.py" for i in range(30)]
    if version == "new":
        names = names[:25] + [f"src/g{i:02d}.py" for i in range(6)]
    for n, path in enumerate(names):
        edited = version == "new" and n % 2 == 0
        shift = 2 if version == "new" and n % 3 == 0 else 0
        files[path] = [
            chunk(
                path,
                f"def widget{n}_{j}(): return {n * j}  # {'new' if edited else 'old'}",
                j * 5 + shift,
            )
            for j in range(3 + n % 3)
        ]
    return files


def _file_hash(rows: Sequence[ChunkRecord]) -> str:
    """Stands in for the hash of the file's bytes, which changes when chunks move."""
    return hashlib.sha256(
        repr([(r.span.start_line, r.content_hash) for r in rows]).encode()
    ).hexdigest()


def sync(store: ChunkStore, version: str, progress: Callable[[str], None] = print) -> None:
    """What the indexer does: redo files whose manifest entry is missing or stale."""
    files = _workspace(version)
    manifest = store.all_files()
    todo = [
        FileUpdate(path, _file_hash(rows), 10 * len(rows), 0, rows)
        for path, rows in files.items()
        if (state := manifest.get(path)) is None or state.file_hash != _file_hash(rows)
    ]
    for start in range(0, len(todo), 2):
        store.replace_files(todo[start : start + 2])
        progress(f"batch {start // 2}")
    store.remove_files([p for p in manifest if p not in files])
    progress("done")


_WRITER = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("store_cases", sys.argv[1])
cases = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cases)
store = cases.ChunkStore(Path(sys.argv[2]), cases.MODEL, cases.DIM)
cases.sync(store, "new", lambda line: print(line, flush=True))
"""


def _run_writer_and_kill(db: Path, after_batches: int, delay: float) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, __file__, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        seen = 0
        for line in proc.stdout:
            seen += line.startswith("batch")
            if seen >= after_batches or line.startswith("done"):
                break
        time.sleep(delay)  # lands the kill at different points of the next batch's commits
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _assert_consistent(store: ChunkStore) -> None:
    """Complete manifest entries describe exactly their chunks; no chunk lacks an entry."""
    expected = {v: _workspace(v) for v in ("old", "new")}
    stored: dict[str, set[tuple[Any, ...]]] = {}
    for row in dump(store):
        stored.setdefault(row[0], set()).add(row[:6])
    manifest = store.all_files()
    assert set(stored) <= set(manifest)
    for path, state in manifest.items():
        if state.pending:
            continue
        versions = [rows for rows in (expected["old"].get(path), expected["new"].get(path)) if rows]
        match = [rows for rows in versions if _file_hash(rows) == state.file_hash]
        assert match, path
        want = {
            (
                r.span.path,
                r.span.start_line,
                r.span.end_line,
                r.span.symbol,
                r.span.text,
                r.content_hash,
            )
            for r in match[0]
        }
        assert stored.get(path, set()) == want, path


def test_kill_during_batch_writes_leaves_a_db_that_reopens_and_converges(tmp_path: Path) -> None:
    db = tmp_path / "db"
    with ChunkStore(db, MODEL, DIM) as first:
        sync(first, "old", progress=lambda _: None)

    for after, delay in ((1, 0.0), (2, 0.01), (3, 0.025)):
        _run_writer_and_kill(db, after, delay)
        with ChunkStore(db, MODEL, DIM) as reopened:
            assert not reopened.rebuilt
            assert reopened.search_vector(vec("anything"), 3)
            assert reopened.search_fts("widget3_1", 3)
            assert hybrid(reopened, "widget3_1", vec("x"), 3)
            _assert_consistent(reopened)

    with ChunkStore(db, MODEL, DIM) as resumed, ChunkStore(tmp_path / "clean", MODEL, DIM) as clean:
        sync(resumed, "new", progress=lambda _: None)
        sync(clean, "new", progress=lambda _: None)
        assert dump(resumed) == dump(clean)
        assert resumed.all_files() == clean.all_files()
        assert resumed.stats() == clean.stats()
        top = resumed.search_fts("widget4_2", 3)[0]
        assert (top.span.path, top.span.text) == ("src/f04.py", "def widget4_2(): return 8  # new")


def test_concurrent_searches_see_whole_files_during_writes(store: ChunkStore) -> None:
    versions = {
        "a": [chunk("a.py", f"common alpha {i}", i * 3) for i in range(3)],
        "b": [chunk("a.py", f"common beta {i}", i * 4) for i in range(4)],
    }
    allowed = [{r.span.text for r in rows} for rows in versions.values()]
    put(store, "a.py", *versions["a"])
    put(store, "z.py", chunk("z.py", "common static"))
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                for hits in (store.search_fts("common", 50), store.search_vector(vec("q"), 50)):
                    texts = [h.span.text for h in hits if h.span.path == "a.py"]
                    assert len(texts) == len(set(texts)) and set(texts) in allowed, texts
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for n in range(20):
            put(store, "a.py", *versions["ab"[n % 2]])
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert not errors, errors[0]


# -- model changes and errors ------------------------------------------------------------


def test_table_name_is_derived_from_model_and_dimension() -> None:
    assert table_name_for("sentence-transformers/all-MiniLM-L6-v2", 384) == (
        "chunks_sentence_transformers_all_minilm_l6_v2_384"
    )
    long_a, long_b = "/models/" + "x" * 200 + "/a", "/models/" + "x" * 200 + "/b"
    assert table_name_for(long_a, 8) != table_name_for(long_b, 8)
    assert len(table_name_for(long_a, 8)) < 120


def test_reopening_with_same_model_keeps_data(tmp_path: Path) -> None:
    with ChunkStore(tmp_path / "db", MODEL, DIM) as first:
        put(first, "a.py", chunk("a.py", "alpha"))
    with ChunkStore(tmp_path / "db", MODEL, DIM) as again:
        assert not again.rebuilt and again.rebuild_reason is None
        assert again.stats() == {"files": 1, "chunks": 1}
        assert [h.span.path for h in again.search_fts("alpha", 3)] == ["a.py"]
    meta = json.loads((tmp_path / "db" / "meta.json").read_text())
    assert (meta["model"], meta["dimension"]) == (MODEL, DIM)
    assert meta["schema_version"] >= 1


@pytest.mark.parametrize(
    ("model", "dimension", "reason"),
    [("other-model", DIM, "model"), (MODEL, 16, "dimension")],
)
def test_model_or_dimension_change_rebuilds_clean(
    tmp_path: Path, model: str, dimension: int, reason: str
) -> None:
    with ChunkStore(tmp_path / "db", MODEL, DIM) as first:
        put(first, "a.py", chunk("a.py", "alpha"))

    with ChunkStore(tmp_path / "db", model, dimension) as changed:
        assert changed.rebuilt and reason in (changed.rebuild_reason or "")
        assert changed.stats() == {"files": 0, "chunks": 0}
        assert changed.all_files() == {}
        assert changed.search_fts("alpha", 3) == []
        assert changed.table_name.endswith(f"_{dimension}")
    meta = json.loads((tmp_path / "db" / "meta.json").read_text())
    assert (meta["model"], meta["dimension"]) == (model, dimension)


@pytest.mark.parametrize(
    ("meta_text", "reason"),
    [
        ("{not json", "unreadable"),
        ('{"model": "test-model", "dimension": 8}', "schema_version"),
        (None, "missing"),
    ],
)
def test_damaged_old_or_missing_meta_rebuilds(
    tmp_path: Path, meta_text: str | None, reason: str
) -> None:
    with ChunkStore(tmp_path / "db", MODEL, DIM) as first:
        put(first, "a.py", chunk("a.py", "alpha"))
    meta = tmp_path / "db" / "meta.json"
    if meta_text is None:
        meta.unlink()
    else:
        meta.write_text(meta_text)

    with ChunkStore(tmp_path / "db", MODEL, DIM) as reopened:
        assert reopened.rebuilt and reason in (reopened.rebuild_reason or "")
        assert reopened.stats()["chunks"] == 0


def test_unusable_db_path_raises_store_error_naming_path_and_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")

    with pytest.raises(StoreError) as err:
        ChunkStore(blocker / "db", MODEL, DIM)

    assert str(blocker / "db") in str(err.value) and "index.db_path" in str(err.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_db_dir_raises_store_error(tmp_path: Path) -> None:
    db = tmp_path / "db"
    with ChunkStore(db, MODEL, DIM) as first:
        put(first, "a.py", chunk("a.py", "alpha"))
    read_only = [db, *(p for p in db.rglob("*") if p.is_dir())]
    for path in read_only:
        path.chmod(0o555)
    try:
        with pytest.raises(StoreError) as err:
            ChunkStore(db, MODEL, DIM)
        assert str(db) in str(err.value) and "index.db_path" in str(err.value)
    finally:
        for path in read_only:
            path.chmod(0o755)


def test_closed_store_raises_store_error(tmp_path: Path) -> None:
    opened = ChunkStore(tmp_path / "db", MODEL, DIM)
    opened.close()
    opened.close()

    with pytest.raises(StoreError, match="closed"):
        opened.search_fts("alpha", 3)


# -- odd input ---------------------------------------------------------------------------

WEIRD_QUERIES = [
    '"unbalanced',
    "foo(bar",
    "a:b",
    "-x",
    "*",
    "AND",
    "a AND (b OR",
    "NOT",
    "path:/etc/passwd",
    "\\",
    "~2^3",
    "[x TO y]",
    "{}",
    "'; DROP TABLE chunks; --",
    "",
    "   ",
    "émoji 🚀 ü",
    "x" * 5000,
    " ".join(f"w{i}" for i in range(5000)),
]


@pytest.mark.parametrize("query", WEIRD_QUERIES)
def test_weird_fts_queries_do_not_raise(store: ChunkStore, query: str) -> None:
    put(store, "a.py", chunk("a.py", "def parse_config(path): return x"))

    assert isinstance(store.search_fts(query, 5), list)
    assert isinstance(hybrid(store, query, vec("q"), 5), list)


def test_punctuated_query_still_matches_its_words(store: ChunkStore) -> None:
    put(store, "a.py", chunk("a.py", "def parse_config(path): return x"))

    assert fts_terms('parse_config("a:b") -x*') == "parse_config a b x"
    assert [h.span.path for h in store.search_fts('parse_config("path")', 5)] == ["a.py"]


def test_odd_paths_are_stored_and_removed_exactly(store: ChunkStore) -> None:
    paths = ["it's.py", "back\\slash.py", 'q"uote.py', "ünï cödé.py", "100%_.py"]
    for path in paths:
        put(store, path, chunk(path, f"shared body of {path}"))

    store.remove_files(paths[:2])

    assert set(store.all_files()) == set(paths[2:])
    assert {h.span.path for h in store.search_fts("shared", 10)} == set(paths[2:])


def test_empty_store_searches_return_nothing(store: ChunkStore) -> None:
    assert store.search_vector(vec("q"), 5) == []
    assert store.search_fts("anything", 5) == []
    assert hybrid(store, "anything", vec("q"), 5) == []
    assert store.known_vectors(["0" * 64]) == {}
    assert store.all_files() == {}
    assert store.stats() == {"files": 0, "chunks": 0}

    put(store, "a.py", chunk("a.py", "alpha"))
    assert store.search_fts("nomatch", 5) == []
    assert store.search_vector(vec("q"), 0) == []
    assert store.search_vector([0.0] * DIM, 5) == []
    store.remove_file("a.py")
    assert store.search_vector(vec("q"), 5) == []
    assert store.search_fts("alpha", 5) == []


def test_batch_of_2000_rows_is_one_write(store: ChunkStore) -> None:
    batch = [
        FileUpdate(
            f"pkg/m{f}.py",
            f"h{f}",
            1,
            1,
            [chunk(f"pkg/m{f}.py", f"def fn_{f}_{i}(): return {i}", i * 3) for i in range(10)],
        )
        for f in range(200)
    ]

    store.replace_files(batch)  # its speed is measured in benchmarks/, not asserted here

    assert store.stats() == {"files": 200, "chunks": 2000}


def test_lancedb_caches_stay_within_their_caps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every commit is a table version with metadata of its own; the caches must not keep all.

    Under LanceDB's default caps these updates left 7.7 MB cached (and a long-running
    server's RSS crept up with every save); capped at 1 MB each, the caches hold about that.
    """
    cap = 2**20
    monkeypatch.setattr("lsp_ai.index.store._METADATA_CACHE_BYTES", cap)
    monkeypatch.setattr("lsp_ai.index.store._INDEX_CACHE_BYTES", cap)
    store = ChunkStore(tmp_path / "db", MODEL, DIM)
    for i in range(20):
        put(store, f"base/{i}.py", chunk(f"base/{i}.py", f"def base_{i}(): pass"))
    for n in range(150):
        path = f"churn/{n % 5}.py"
        if n % 3 == 2:
            store.remove_file(path)
        else:
            put(store, path, chunk(path, f"def churn_{n}(): return {n}"), file_hash=str(n))
        hybrid(store, "churn return", vec(str(n)), 5)
    assert store._cache.size_bytes <= 2.5 * cap
