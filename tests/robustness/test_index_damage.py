"""A damaged index folder: found at open or on a failed read, moved aside, rebuilt, said once.

Real LanceDB databases under tmp_path whose files are garbled the way a bad disk, a sync tool
or a careless `cp` would; the embedding model is a deterministic stand-in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lsp_ai.assistant import Assistant, Level
from lsp_ai.index.service import IndexService
from lsp_ai.index.store import ChunkStore, StoreError
from lsp_ai.models import Role
from tests.fakes import CountingModel, HashEmbedder

WORDS = ("apple", "banana", "cherry", "damson", "elder")
FILES = len(WORDS)


def _workspace(root: Path) -> Path:
    root.mkdir(parents=True)
    for i, word in enumerate(WORDS):  # one word only this file has, for exact search hits
        (root / f"mod{i}.py").write_text(f"def handler_{i}(request):\n    return {word} + {i}\n")
    return root


def _service(root: Path, db: Path, notices: list[str] | None = None) -> IndexService:
    embedder = HashEmbedder()
    return IndexService(
        [root],
        embedder=lambda: embedder,
        embedder_name=embedder.name,
        db_path=str(db),
        use_ctags=False,
        on_damage=None if notices is None else notices.append,
    )


def _built(tmp_path: Path) -> tuple[Path, Path]:
    root, db = _workspace(tmp_path / "repo"), tmp_path / "db"
    svc = _service(root, db)
    svc.build()
    svc.close()
    (db / "sessions").mkdir()
    (db / "sessions" / "chat.json").write_text('{"kept": true}')  # not index data
    return root, db


def _chunks_table(db: Path) -> Path:
    return next(db.glob("chunks_*.lance"))


def _garble(files: list[Path], cut: bool = False) -> None:
    assert files
    for f in files:
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 2] if cut else b"\x00garbage\xff" * 40)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "chunk data garbled": lambda db: _garble(list((_chunks_table(db) / "data").glob("*"))),
    "chunk data cut short": lambda db: _garble(
        list((_chunks_table(db) / "data").glob("*")), cut=True
    ),
    "chunk versions garbled": lambda db: _garble(
        list((_chunks_table(db) / "_versions").glob("*.manifest"))
    ),
    "manifest versions garbled": lambda db: _garble(
        list((db / "files.lance" / "_versions").glob("*.manifest"))
    ),
}


def _asides(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f"{db.name}.damaged-*"))


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_database_is_moved_aside_rebuilt_and_reported_once(
    tmp_path: Path, damage: str
) -> None:
    root, db = _built(tmp_path)
    DAMAGE[damage](db)
    garbled = {p.relative_to(db): p.read_bytes() for p in db.rglob("*") if p.is_file()}

    notices: list[str] = []
    svc = _service(root, db, notices)
    try:
        svc.build()  # the crawl: it may not read the garbled part, and reports success
        hits = svc.search("damson", 3)
        assert hits and hits[0].span.path == "mod3.py"
        assert svc.search("banana", 3)[0].span.path == "mod1.py"
        assert svc.stats() == {"indexed_files": FILES, "chunks": FILES}
    finally:
        svc.close()

    assert len(notices) == 1, notices  # said once, in words
    (aside,) = _asides(db)
    assert "damaged" in notices[0] and str(aside) in notices[0] and "rebuil" in notices[0]
    # Moved, never deleted: every file of the database is in the aside folder, byte for byte
    # (Lance never rewrites a file; symbols.json may have been saved by the crawl since).
    for rel, data in garbled.items():
        if rel.parts[0].endswith(".lance"):
            assert (aside / rel).read_bytes() == data
    assert (aside / "meta.json").is_file() and (aside / "symbols.json").is_file()
    # Not index data: chat sessions, and the lock another process may be waiting on.
    assert (db / "sessions" / "chat.json").read_text() == '{"kept": true}'
    assert (db / "writer.lock").is_file() and not (aside / "writer.lock").exists()

    again: list[str] = []
    reopened = _service(root, db, again)  # the next start finds a whole index
    try:
        assert reopened.search("elder", 3, build=False)[0].span.path == "mod4.py"
    finally:
        reopened.close()
    assert again == [] and len(_asides(db)) == 1


BAD_SYMBOLS = {
    "an empty array": "[]",
    "null": "null",
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "a number per file": '{"mod0.py": 5}',
    "a wrong symbol": '{"mod0.py": {"defs": [{"oops": 1}], "hash": "x"}}',
}


@pytest.mark.parametrize("content", list(BAD_SYMBOLS))
def test_a_bad_symbol_table_is_moved_aside_and_rebuilt_from_the_sources(
    tmp_path: Path, content: str
) -> None:
    root, db = _built(tmp_path)
    good = _symbols(root, tmp_path / "fresh-db")
    (db / "symbols.json").write_text(BAD_SYMBOLS[content])

    notices: list[str] = []
    svc = _service(root, db, notices)
    try:
        svc.build()
        assert svc.indexes()[0].symbols.to_json() == good
        assert svc.search("cherry", 3)[0].span.path == "mod2.py"
    finally:
        svc.close()
    assert len(notices) == 1 and "symbol table" in notices[0], notices
    (aside,) = _asides(db)
    assert (aside / "symbols.json").read_text() == BAD_SYMBOLS[content]
    assert _chunks_table(db).is_dir()  # the chunks were fine: they stay, nothing re-embedded


def _symbols(root: Path, db: Path) -> object:
    svc = _service(root, db)
    try:
        svc.build()
        return svc.indexes()[0].symbols.to_json()
    finally:
        svc.close()


async def test_the_user_is_told_once_and_search_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's view: no -32603 on every search, one warning through notify."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LSP_AI_CONFIG", str(tmp_path / "no-user-config.toml"))
    root = _workspace(tmp_path / "repo")
    told: list[tuple[Level, str]] = []
    models = {Role.COMPLETION: CountingModel(), Role.CHAT: CountingModel()}

    def assistant() -> Assistant:
        return Assistant(
            [root],
            models={**models, Role.EMBEDDING: HashEmbedder()},
            notify=lambda level, message: told.append((level, message)),
        )

    first = assistant()
    await first.index()
    db = first.wiring.index.home
    first.close()
    DAMAGE["chunk data garbled"](db)

    second = assistant()
    try:
        await second.index()
        for _ in range(3):
            hits = await second.search("apple", 3)
            assert hits[0].span.path == "mod0.py"
    finally:
        second.close()
    damage = [(level, m) for level, m in told if "damaged" in m]
    assert len(damage) == 1 and damage[0][0] is Level.WARNING, told
    assert damage[0][1].startswith("lsp-ai: ") and str(_asides(db)[0]) in damage[0][1]


def test_a_failure_that_is_not_damage_moves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed read of a whole database is reported as it is; the index stays in place."""
    root, db = _built(tmp_path)
    notices: list[str] = []
    svc = _service(root, db, notices)

    def flaky(self: ChunkStore, query: str, k: int) -> object:
        raise self._error("full-text search", RuntimeError("lance error: a passing hiccup"))

    monkeypatch.setattr(ChunkStore, "fts_candidates", flaky)
    try:
        with pytest.raises(StoreError, match="passing hiccup") as caught:
            svc.search("banana", 3, build=False)
        assert "writable" not in str(caught.value)  # the hint no longer blames permissions
    finally:
        svc.close()
    assert notices == [] and _asides(db) == []
    monkeypatch.undo()
    reopened = _service(root, db)
    try:
        assert reopened.search("banana", 3, build=False)[0].span.path == "mod1.py"
    finally:
        reopened.close()
