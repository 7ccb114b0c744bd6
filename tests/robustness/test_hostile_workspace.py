"""Hostile workspaces: every odd file is indexed or skipped with a logged reason, the rest indexed.

Real parts throughout: the `lsp-ai` command line and server in subprocesses, the index service
in-process, the embedded MiniLM, LanceDB on disk and tree-sitter. Nothing is mocked; the one
seam patched is the moment between listing a workspace and reading its files, to change files
exactly then. The read-only and full-disk cases mount small tmpfs file systems: they need root
and skip elsewhere. Each case but the one that changes files itself also checks that
nothing was written into the workspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from lsp_ai.config import Config
from lsp_ai.index.discover import DiscoveredFile, FileFilter
from lsp_ai.index.service import IndexService
from lsp_ai.inference.base import Embedder
from lsp_ai.inference.factory import embedder_factory, embedder_name
from tests.harness.env import isolated_env
from tests.harness.lsp_client import VS_CODE, lsp_session

pytestmark = pytest.mark.e2e

NEST = 10_000  # levels of nesting in the deep files: far past Python's recursion limit
HUGE = 50 * 1024 * 1024


# -- helpers --------------------------------------------------------------------------------


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "lsp_ai", *args],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        timeout=240,
    )


def snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every entry under `root`, symlinks not followed: type, size, mtime and content hash.

    Directories are included, so a file created anywhere in the workspace changes the
    snapshot too. FIFOs are never opened (a read would block).
    """
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(path)
            else:
                digest = ""
            found[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return found


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def tmpfs(where: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` for the block; the test skips where that fails."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    try:
        mounted = _mount("-t", "tmpfs", "-o", options, "tmpfs", str(where))
    except FileNotFoundError:
        pytest.skip("mount(8) is not installed")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)  # still busy


def use_db(root: Path, db: Path, home: Path) -> None:
    """Point the workspace's index at `db`, as a user would: `<root>/.lsp-ai.toml`, trusted.

    A repository's file chooses where data is written only once its user trusted it, which
    `lsp-ai trust` records in `home`'s state folder.
    """
    (root / ".lsp-ai.toml").write_text(f'[index]\ndb_path = "{db}"\n')
    trusted = run_cli(home, "trust", str(root))
    assert trusted.returncode == 0, trusted.stderr


def service(root: Path, db: Path, embedder: Embedder) -> IndexService:
    return IndexService(
        [root],
        embedder=lambda: embedder,
        embedder_name=embedder_name(Config().models.embedding),
        db_path=str(db),
    )


def indexed_paths(svc: IndexService) -> set[str]:
    (index,) = svc.iter_roots()
    return {path for path, state in index.store.all_files().items() if not state.pending}


def handlers_repo(root: Path, count: int) -> Path:
    """`count` small Python modules, one function each, all distinct."""
    (root / "pkg").mkdir(parents=True)
    for i in range(count):
        (root / "pkg" / f"mod{i}.py").write_text(
            f"def handler_{i}(request):\n"
            f"    '''Handle request kind {i}: look it up and scale it.'''\n"
            f"    return request.get('kind{i}', 0) * {i}\n"
        )
    return root


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return embedder_factory(Config().models.embedding)()


# -- a workspace of odd files ---------------------------------------------------------------

#: What `lsp-ai -v index` must log for each file it leaves out.
EXPECTED_SKIPS = {
    "blob.dat": "binary",
    "picture.png": "binary",
    "huge.py": f"larger than index.max_file_bytes ({HUGE} > 1000000 bytes)",
    "pkg/loop": "symlink loop",
    "self": "symlink loop",
    "ping": "symlink loop",
    "pong": "symlink loop",
    "pipe": "not a regular file",
    "bad\\xffname.py": "name is not valid UTF-8",
}
EXPECTED_INDEXED = {
    ".lsp-ai.toml",
    "pkg/good.py",
    "latin1.py",
    "broken.py",
    "deep.py",
    "deep.js",
    "deep.json",
    "deep.c",
}


def build_hostile(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "good.py").write_text(
        "def restock_marmalade_jars(shelf, jars):\n"
        "    '''Put more jars of marmalade on a shelf.'''\n"
        "    shelf.count += jars\n"
        "    return shelf.count\n"
    )
    (root / "latin1.py").write_bytes(b"# caf\xe9 au lait\ndef brew_espresso_shot():\n    pass\n")
    (root / "broken.py").write_text(
        "def (((:\n  unterminated = 'zebra\n}}} class :: quagga\n))) okapi ((\n"
    )
    (root / "deep.py").write_text("# walrus\nx = " + "(" * NEST + "1" + ")" * NEST + "\n")
    (root / "deep.js").write_text("// pangolin\nconst x = " + "[" * NEST + "]" * NEST + ";\n")
    (root / "deep.json").write_text('{"narwhal": ' + "[" * NEST + "]" * NEST + "}\n")
    (root / "deep.c").write_text("/* axolotl */\nint main() {" + "{" * NEST + "}" * NEST + "}\n")
    (root / "blob.dat").write_bytes(bytes(range(256)) * 16)
    (root / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"pixels" * 100)
    with (root / "huge.py").open("wb") as handle:  # real bytes, not a sparse file
        line = b"value = 'a fifty megabyte file'  # padding\n"
        handle.write(line * (HUGE // len(line)) + b"#" * (HUGE % len(line)))
    (root / "pkg" / "loop").symlink_to("..", target_is_directory=True)
    (root / "self").symlink_to("self")
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    os.mkfifo(root / "pipe")
    (root / os.fsdecode(b"bad\xffname.py")).write_text("def hidden_by_its_name():\n    pass\n")


@pytest.mark.timeout(300)
def test_cli_indexes_the_rest_and_logs_why_each_odd_file_is_left_out(
    tmp_path: Path, embedder: Embedder
) -> None:
    root, db = tmp_path / "repo", tmp_path / "db"
    build_hostile(root)
    use_db(root, db, tmp_path / "home")
    before = snapshot(root)

    out = run_cli(tmp_path / "home", "-v", "index", str(root))

    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    for rel, reason in EXPECTED_SKIPS.items():
        assert f"skipped {rel}: {reason}" in out.stderr
    assert "broken.py: mostly syntax errors; indexed as line windows" in out.stderr
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"indexed {len(EXPECTED_INDEXED)} files")
    assert f"{len(EXPECTED_SKIPS)} skipped: " in summary
    for kind in ("4 symlink loop", "2 binary", "1 larger than index.max_file_bytes"):
        assert kind in summary
    assert snapshot(root) == before  # nothing written: no source file, no stray file

    svc = service(root, db, embedder)
    try:
        svc.build()  # re-opens what the command line built; the same files are skipped
        assert indexed_paths(svc) == EXPECTED_INDEXED
        latin = svc.search("brew espresso shot", 1)[0]
        assert latin.span.path == "latin1.py" and "caf\ufffd au lait" in latin.span.text
        broken = svc.search("zebra quagga okapi", 1, "fts")[0]
        assert broken.span.path == "broken.py" and broken.kind == "window"
        for word, path in [
            ("walrus", "deep.py"),
            ("pangolin", "deep.js"),
            ("narwhal", "deep.json"),
            ("axolotl", "deep.c"),
        ]:
            assert svc.search(word, 1, "fts")[0].span.path == path
        good = svc.search("put jars of marmalade on the shelf", 1)[0]
        assert good.span.path == "pkg/good.py"
    finally:
        svc.close()
    assert snapshot(root) == before


# -- files that change between listing and reading ------------------------------------------


def swap_files(root: Path) -> None:
    """Change the workspace the way a checkout or a build might while it is being indexed."""
    (root / "gone.py").unlink()
    (root / "now_dir.py").unlink()
    (root / "now_dir.py").mkdir()
    (root / "now_fifo.py").unlink()
    os.mkfifo(root / "now_fifo.py")  # a plain read of it would block for ever
    (root / "now_huge.py").write_text("x = 1\n" * 400_000)
    (root / "now_binary.py").write_bytes(b"\x7fELF\x00\x00\x01" * 100)
    (root / "rewritten.py").write_text("def squeeze_pomegranate_juice():\n    return 'red'\n")


@pytest.mark.timeout(120)
def test_files_deleted_or_replaced_between_listing_and_reading(
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    names = ["gone", "now_dir", "now_fifo", "now_huge", "now_binary", "rewritten", "steady"]
    for name in names:
        (root / f"{name}.py").write_text(f"def {name}_original_version():\n    return '{name}'\n")
    svc = service(root, tmp_path / "db", embedder)
    svc.build()
    assert indexed_paths(svc) == {f"{name}.py" for name in names}

    listing = FileFilter.walk

    def walk_then_swap(self: FileFilter) -> Iterator[DiscoveredFile]:
        yield from listing(self)
        swap_files(root)  # the listing is complete; no file has been read yet

    monkeypatch.setattr(FileFilter, "walk", walk_then_swap)
    caplog.set_level(logging.INFO, logger="lsp_ai")
    try:
        svc.build()
        assert indexed_paths(svc) == {"rewritten.py", "steady.py"}
        assert svc.search("squeeze pomegranate juice", 1, "fts")[0].span.path == "rewritten.py"
        stale = svc.search("original version", 10, "fts")
        assert {h.span.path for h in stale} == {"steady.py"}  # old chunks of the others are gone
    finally:
        svc.close()
    logged = caplog.text
    assert "skipped gone.py: unreadable: No such file or directory" in logged
    assert "skipped now_dir.py: unreadable: Is a directory" in logged
    assert "skipped now_fifo.py: not a regular file" in logged
    assert "skipped now_huge.py: larger than index.max_file_bytes (2400000 > 1000000" in logged
    assert "skipped now_binary.py: binary" in logged


# -- the index folder: read-only, then a full disk ------------------------------------------


@pytest.mark.timeout(180)
def test_read_only_index_directory_is_one_clear_line_from_the_cli(tmp_path: Path) -> None:
    root = handlers_repo(tmp_path / "repo", 3)
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as read_only:
        use_db(root, read_only / "index", tmp_path / "home")
        before = snapshot(root)
        for command in (["index", str(root)], ["search", "handle request", "--root", str(root)]):
            out = run_cli(tmp_path / "home", *command)
            assert out.returncode == 1, out.stdout
            assert "Traceback" not in out.stderr
            (line,) = out.stderr.strip().splitlines()
            assert str(read_only / "index") in line
            assert "read-only" in line and "Set index.db_path to a writable directory" in line
        assert snapshot(root) == before


@pytest.mark.timeout(240)
async def test_server_reports_a_read_only_index_and_keeps_serving(tmp_path: Path) -> None:
    root = handlers_repo(tmp_path / "repo", 3)
    before = snapshot(root)
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as read_only:
        options = {"index": {"db_path": str(read_only)}}
        env = isolated_env(tmp_path / "home")
        async with lsp_session(root, env, capabilities=VS_CODE, init_options=options) as client:
            async with asyncio.timeout(120):  # the first crawl fails at once, models or not
                while not any("read-only" in m.message for m in client.messages):
                    await client.wait_for_notification_async(lsp.WINDOW_SHOW_MESSAGE)
            shown = next(m for m in client.messages if "read-only" in m.message)
            assert shown.type == lsp.MessageType.Error
            assert str(read_only) in shown.message and "index.db_path" in shown.message

            status = await client.command_async("lsp-ai.status")
            assert isinstance(status, dict) and status["indexedFiles"] == 0
            with pytest.raises(JsonRpcException, match="read-only"):
                await client.command_async("lsp-ai.search", "handler")
            uri = client.open_doc(root / "pkg" / "new.py", "def double(x):\n    return ")
            completion = await client.call_async(
                lsp.TEXT_DOCUMENT_COMPLETION,
                lsp.CompletionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    position=lsp.Position(line=1, character=11),
                ),
            )
            assert isinstance(completion, lsp.CompletionList)  # completion needs no index
    assert snapshot(root) == before


FULL_DISK_FILES = 130


@pytest.mark.timeout(300)
def test_full_disk_fails_cleanly_and_a_later_run_completes_the_index(
    tmp_path: Path, embedder: Embedder
) -> None:
    root = handlers_repo(tmp_path / "repo", FULL_DISK_FILES)
    total = FULL_DISK_FILES + 1  # and .lsp-ai.toml
    # Room for the first commit of 64 files (about 190 KiB) but not the second (about 350 KiB):
    # the disk fills in the middle of the crawl.
    with tmpfs(tmp_path / "small", "256k") as small:
        db = small / "index"
        use_db(root, db, tmp_path / "home")
        before = snapshot(root)

        out = run_cli(tmp_path / "home", "index", str(root))

        assert out.returncode == 1, out.stdout
        assert "Traceback" not in out.stderr
        line = out.stderr.strip().splitlines()[-1]
        assert str(db) in line and "write failed: the disk is full" in line
        assert "index.db_path" in line

        assert _mount("-o", "remount,size=64m", str(small)).returncode == 0  # space freed
        svc = service(root, db, embedder)
        try:
            assert svc.open_if_present()
            kept = svc.stats()["indexed_files"]
            assert 0 < kept < total  # what was committed before the disk filled is intact
            svc.build()
            assert svc.stats() == {"indexed_files": total, "chunks": total}
            assert svc.search("handle request kind 77", 1)[0].span.path == "pkg/mod77.py"
        finally:
            svc.close()
        assert snapshot(root) == before
