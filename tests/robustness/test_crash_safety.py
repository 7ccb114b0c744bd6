"""Crash safety: `kill -9` of the real server at random points of indexing, many times.

Each round starts `python -m lsp_ai serve` on the index the previous round's kill left behind
and checks that it opens and answers `lsp-ai.status` and `lsp-ai.search` while it re-indexes;
then it is killed again at a random point. One test kills full crawls (every generated file
rewritten before each round, so each crawl re-chunks and re-embeds them all), the other kills
incremental updates (files saved, deleted and created under a running server). Both end with a
restart left to finish, whose index must equal a clean build of the same workspace, chunk for
chunk, manifest entry for manifest entry and symbol for symbol. The workspace is hashed around
every round: the server must never write to it.

Rounds: LSP_AI_CRASH_ROUNDS (default 5 per test). Choices come from LSP_AI_CRASH_SEED (default
fixed); the seed and every round's kill point are in each failure message. Kill times are
real time, so a seed reproduces the choices, not the exact instant of each kill.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lsp_ai.index.discover import FileFilter
from lsp_ai.index.service import IndexService
from lsp_ai.index.store import ChunkStore
from tests.conftest import make_workspace
from tests.harness.env import isolated_env
from tests.harness.lsp_client import LspClient, ServerExited

ROUNDS = int(os.environ.get("LSP_AI_CRASH_ROUNDS", "5"))
SEED = int(os.environ.get("LSP_AI_CRASH_SEED", "20251125"))
GENERATED_FILES = 70  # more than one 64-file commit batch, so kills land between batches
ANSWER_S = 180.0  # generous: each start imports torch and loads MiniLM on a shared 2-core box
VECTOR_ATOL = 1e-4  # MiniLM on CPU: batch composition moves vectors by ~1e-7, not more

KILL_TEST_TIMEOUT_S = 300 + 2 * ROUNDS * 60


# -- the server, under the shared client ----------------------------------------------------

# An editor with progress bars, workspace folders and save notifications.
CAPABILITIES = {
    "window": {"workDoneProgress": True},
    "workspace": {"workspaceFolders": True},
    "textDocument": {"synchronization": {"didSave": True}},
}


def wait_indexing_end(server: LspClient) -> str:
    """The `end` message of the Indexing progress, once the crawl is over."""
    with contextlib.suppress(TimeoutError, ServerExited):
        server.wait_for(lambda s: s.indexing_ended, ANSWER_S)
    assert server.indexing_ended, f"indexing did not finish in {ANSWER_S:.0f} s"
    return str(server.indexing[-1].get("message", ""))


# -- the workspace ---------------------------------------------------------------------------


def _py_source(tag: str, i: int) -> str:
    return f'''"""Module {i}: {tag} helpers."""


def {tag}_total(values):
    """Add up the {tag} values."""
    total = 0
    for value in values:
        total += value * {i}
    return total


class {tag.capitalize()}Ledger:
    def __init__(self):
        self.entries = []

    def record_{tag}(self, amount):
        self.entries.append(amount)
        return {tag}_total(self.entries)
'''


def _js_source(tag: str, i: int) -> str:
    return f"""// Module {i}: {tag} widgets.
export function {tag}Render(items) {{
  return items.map((item) => `<li>${{item}} {i}</li>`).join("");
}}

export function {tag}Count(items) {{
  return items.filter((item) => item.length > {i % 7}).length;
}}
"""


def snapshot(root: Path) -> dict[str, tuple[str, int, int] | None]:
    """Every file's (sha256, size, mtime_ns) and every folder (None): any write shows."""
    out: dict[str, tuple[str, int, int] | None] = {}
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in dirs:
            out[(base / name).relative_to(root).as_posix() + "/"] = None
        for name in files:
            path = base / name
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[path.relative_to(root).as_posix()] = (digest, st.st_size, st.st_mtime_ns)
    return out


@dataclass
class Crash:
    """What one test's rounds share: workspace, index home, seeded choices, and a trail."""

    root: Path
    home: Path
    logs: Path
    rng: random.Random
    tags: dict[str, str] = field(default_factory=dict)  # generated file -> its unique word
    used: set[str] = field(default_factory=set)
    expected: dict[str, tuple[str, int, int] | None] = field(default_factory=dict)
    trail: list[str] = field(default_factory=list)
    starts: int = 0

    def where(self) -> str:
        rounds = "; ".join(self.trail) or "none yet"
        return (
            f"[LSP_AI_CRASH_SEED={SEED} LSP_AI_CRASH_ROUNDS={ROUNDS}; rounds: {rounds}; "
            f"server stderr in {self.logs}, log in {self.home}/.local/state/lsp-ai/log]"
        )

    def new_tag(self) -> str:
        """A pronounceable word no other file version used: its file is the one search hit."""
        while True:
            tag = "".join(
                self.rng.choice("bcdfgklmnprstvz") + self.rng.choice("aeiou") for _ in range(4)
            )
            if tag not in self.used:
                self.used.add(tag)
                return tag

    def write(self, rel: str) -> None:
        """(Re)write a generated file with fresh content under a new tag."""
        tag, path = self.new_tag(), self.root / rel
        index = int(Path(rel).stem[1:])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_js_source(tag, index) if rel.endswith(".js") else _py_source(tag, index))
        self.tags[rel] = tag

    def delete(self, rel: str) -> None:
        (self.root / rel).unlink()
        del self.tags[rel]

    def settle(self) -> None:
        """Record the workspace as the test left it; from here on only the server runs."""
        self.expected = snapshot(self.root)

    def check_untouched(self) -> None:
        now = snapshot(self.root)
        changed = sorted(
            k for k in now.keys() | self.expected.keys() if now.get(k) != self.expected.get(k)
        )
        assert not changed, f"the server wrote to the workspace: {changed[:10]} {self.where()}"

    def indexable(self) -> int:
        return sum(1 for _ in FileFilter(self.root, (), 1_000_000).walk())

    def start(self) -> LspClient:
        self.starts += 1
        server = LspClient(
            isolated_env(self.home),
            cwd=self.root,  # anything written relative to the cwd would land in the workspace
            stderr_path=self.logs / f"server-{self.starts:03d}.log",
            timeout=ANSWER_S,
        )
        server.initialize(self.root, CAPABILITIES)
        return server

    def db_dirs(self, home: Path | None = None) -> list[Path]:
        base = (home or self.home) / ".cache" / "lsp-ai" / "index"
        return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    base = tmp_path_factory.mktemp("crash")
    logs = base / "logs"
    logs.mkdir()
    ctx = Crash(make_workspace(base / "repo"), base / "home", logs, random.Random(SEED))
    for i in range(GENERATED_FILES):
        ctx.write(f"gen/w{i:03d}.js" if i % 3 == 2 else f"gen/m{i:03d}.py")
    ctx.settle()
    return ctx


# -- one round -------------------------------------------------------------------------------


def _check_hits(ctx: Crash, hits: Any, what: str) -> list[str]:
    assert isinstance(hits, list), f"{what}: not a list of hits: {hits!r} {ctx.where()}"
    for hit in hits:
        assert {"path", "startLine", "endLine", "text", "score"} <= set(hit), f"{what}: {hit}"
    return [hit["path"] for hit in hits]


def start_and_check(ctx: Crash, label: str) -> LspClient:
    """Start a server on whatever the last kill left; it must open the index and answer."""
    ctx.trail.append(label)
    server = ctx.start()
    status = server.command("lsp-ai.status")
    assert {"indexedFiles", "chunks", "pending", "models"} <= set(status), ctx.where()
    # Sent at once: it must be answered from the index as it stands, while the crawl runs.
    rel = ctx.rng.choice(sorted(ctx.tags))
    hits = server.command("lsp-ai.search", ctx.tags[rel], 8)
    _check_hits(ctx, hits, f"search right after a restart ({label})")
    return server


def _db_files(base: Path) -> set[str]:
    found: set[str] = set()
    for folder, _, files in os.walk(base):
        found.update(os.path.join(folder, name) for name in files)
    return found


def kill_at_random_point(
    ctx: Crash, server: LspClient, max_delay: float, max_writes: int, crawling: bool
) -> None:
    """Kill after a random delay, or after a random number of new files in the index folder.

    The second kind lands inside LanceDB commits (data file written, manifest not yet) and
    between the three commits of a batch, which a plain delay rarely hits. A full crawl is
    killed at the latest when it ends, updates at the latest after `max_delay`.
    """
    base = ctx.home / ".cache" / "lsp-ai"
    by_writes = ctx.rng.random() < 0.5
    delay, writes = ctx.rng.uniform(0, max_delay), ctx.rng.randint(1, max_writes)
    jitter = ctx.rng.uniform(0, 0.02)
    limit = (ANSWER_S if crawling else max_delay) if by_writes else delay
    started, seen, new = time.monotonic(), _db_files(base), 0
    while time.monotonic() - started < limit and not (by_writes and new >= writes):
        if crawling and server.indexing_ended:
            break
        if by_writes:
            now = _db_files(base)
            new, seen = new + len(now - seen), now
        time.sleep(0.002)
    if by_writes:
        time.sleep(jitter)
    note = f", killed after {time.monotonic() - started:.2f} s"
    if by_writes:
        note += f" and {new}/{writes} new index files"
    if crawling:
        last = server.indexing[-1] if server.indexing else {}
        note += " at crawl end" if last.get("kind") == "end" else f" at {last.get('percentage')}%"
    ctx.trail[-1] += note
    server.kill()
    ctx.check_untouched()


def finish_and_check(ctx: Crash, server: LspClient, label: str) -> None:
    """Let the crawl end; the index must hold every file, and find fresh content by its word."""
    message = wait_indexing_end(server)
    assert "failed" not in message, f"{label}: indexing ended with {message!r} {ctx.where()}"
    status = server.command("lsp-ai.status")
    assert status["indexedFiles"] == ctx.indexable(), f"{label}: {status} {ctx.where()}"
    for rel in ctx.rng.sample(sorted(ctx.tags), 3):
        paths = _check_hits(ctx, server.command("lsp-ai.search", ctx.tags[rel], 8), label)
        assert rel in paths, f"{label}: {ctx.tags[rel]!r} did not find {rel}: {paths} {ctx.where()}"


# -- comparing with a clean build ------------------------------------------------------------


@dataclass
class IndexContent:
    files: dict[str, tuple[str, int, int, int]]  # path -> (hash, size, mtime_ns, chunks)
    chunks: list[tuple[Any, ...]]  # every field but the vector, text as a hash
    vectors: np.ndarray
    symbols: dict[str, Any]


def read_index(db: Path) -> IndexContent:
    meta = json.loads((db / "meta.json").read_text())
    with ChunkStore(db, meta["model"], meta["dimension"]) as store:
        states = store.all_files()
        records = store.all_chunks()
    pending = [s.path for s in states.values() if s.pending]
    assert not pending, f"files left pending in {db}: {pending}"
    files = {p: (s.file_hash, s.size, s.mtime_ns, s.chunks) for p, s in states.items()}
    chunks = [
        (
            r.span.path,
            r.span.start_line,
            r.span.end_line,
            r.language,
            r.kind,
            r.span.symbol,
            r.span.scope,
            r.content_hash,
            hashlib.sha256(r.span.text.encode("utf-8", "surrogatepass")).hexdigest(),
        )
        for r in records
    ]
    vectors = np.asarray([r.vector for r in records], dtype=np.float32)
    symbols = json.loads((db / "symbols.json").read_text())
    return IndexContent(files, chunks, vectors, symbols)


def clean_build(ctx: Crash, label: str) -> Path:
    """`lsp-ai index` of the same workspace into a fresh cache: the reference."""
    home = ctx.logs.parent / f"clean-{label}"
    done = subprocess.run(
        [sys.executable, "-m", "lsp_ai", "index", str(ctx.root)],
        env=isolated_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"clean build failed: {done.stderr[-2000:]}"
    [db] = ctx.db_dirs(home)
    return db


def _diff(name: str, got: Any, want: Any) -> str:
    if isinstance(got, dict):
        keys = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
        first = keys[:2]
        return (
            f"{name} differ at {keys[:5]}: got {[got.get(k) for k in first]}, "
            f"clean {[want.get(k) for k in first]}"
        )
    extra = sorted(set(got) - set(want))[:3]
    missing = sorted(set(want) - set(got))[:3]
    return f"{name} differ: extra {extra}, missing {missing} (got {len(got)}, clean {len(want)})"


def converge_and_compare(ctx: Crash, label: str) -> None:
    """One last restart, left to finish; its index must equal a clean build's."""
    server = start_and_check(ctx, f"{label}: final restart")
    try:
        finish_and_check(ctx, server, f"{label}: final restart")
    finally:
        server.shutdown()
    ctx.check_untouched()
    [db] = ctx.db_dirs()
    assert not db.is_relative_to(ctx.root), "the index must live outside the workspace"
    got, want = read_index(db), read_index(clean_build(ctx, label))
    assert got.files == want.files, _diff("manifests", got.files, want.files) + ctx.where()
    assert got.chunks == want.chunks, _diff("chunks", got.chunks, want.chunks) + ctx.where()
    assert got.symbols == want.symbols, (
        _diff("symbol tables", got.symbols, want.symbols) + ctx.where()
    )
    gap = float(np.abs(got.vectors - want.vectors).max(initial=0.0))
    assert gap <= VECTOR_ATOL, f"vectors differ by up to {gap} {ctx.where()}"
    ctx.check_untouched()


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.timeout(KILL_TEST_TIMEOUT_S)
def test_kill_9_during_full_index_recovers_and_converges(crash: Crash) -> None:
    generated = sorted(crash.tags)
    for n in range(ROUNDS):
        if n:  # every generated file changes: the crawl re-chunks and re-embeds all of them
            for rel in generated:
                crash.write(rel)
            crash.settle()
        server = start_and_check(crash, f"full {n}")
        kill_at_random_point(crash, server, max_delay=8.0, max_writes=24, crawling=True)
    converge_and_compare(crash, "full")
    print(crash.where())  # with -s: where the kills landed


def _edit_some_files(ctx: Crash, n: int) -> list[Path]:
    """Rewrite a few files, delete one and create one; returns the files to save."""
    rels = ctx.rng.sample(sorted(ctx.tags), ctx.rng.randint(2, 5) + 1)
    gone, changed = rels[0], rels[1:]
    ctx.delete(gone)
    created = f"gen/n{n:03d}.py"
    for rel in [*changed, created]:
        ctx.write(rel)
    ctx.settle()
    ctx.trail[-1] += f", edited {len(changed)}, deleted {gone}, created {created}"
    return [ctx.root / rel for rel in [*changed, created]]


@pytest.mark.e2e
@pytest.mark.timeout(KILL_TEST_TIMEOUT_S)
def test_kill_9_during_incremental_updates_recovers_and_converges(crash: Crash) -> None:
    for n in range(ROUNDS):
        label = f"incremental {n}"
        server = start_and_check(crash, label)
        finish_and_check(crash, server, label)
        for path in _edit_some_files(crash, n):
            server.notify("textDocument/didSave", {"textDocument": {"uri": path.as_uri()}})
        kill_at_random_point(crash, server, max_delay=3.0, max_writes=30, crawling=False)
    converge_and_compare(crash, "incremental")
    print(crash.where())


# -- the symbol table across a crash, deterministically --------------------------------------
#
# symbols.json is written after the store commits, so a kill between the two leaves it behind
# the index. The kills above hit that window only now and then; these tests stage it.


class HashEmbedder:
    """Deterministic vectors without a model: these tests are about what survives a crash."""

    name = "hash-embedder"
    dimension = 8

    def embed(self, texts: Sequence[str], kind: str) -> list[list[float]]:
        return [[b / 255 + 0.01 for b in hashlib.sha256(t.encode()).digest()[:8]] for t in texts]


def _index(root: Path, db: Path) -> IndexService:
    embedder = HashEmbedder()
    return IndexService(
        [root], embedder=lambda: embedder, embedder_name=embedder.name, db_path=str(db)
    )


def _symbols_after_build(root: Path, db: Path) -> dict[str, object]:
    svc = _index(root, db)
    try:
        svc.build()
        return next(svc.iter_roots()).symbols.to_json()
    finally:
        svc.close()


def _crash_before_symbols_saved(root: Path, db: Path) -> None:
    """A crawl whose store commits land but whose symbol table never reaches the disk."""
    svc = _index(root, db)
    try:
        idx = svc.indexes()[0]
        idx._save_symbols = lambda: None  # type: ignore[method-assign]
        svc.build()
    finally:
        svc.close()


@pytest.mark.parametrize("damage", ["stale", "missing", "torn"])
def test_symbol_table_behind_the_index_is_rebuilt_on_reopen(tmp_path: Path, damage: str) -> None:
    root, db = make_workspace(tmp_path / "repo"), tmp_path / "db"
    _symbols_after_build(root, db)
    inventory = root / "shop" / "inventory.py"
    inventory.write_text(inventory.read_text().replace("def restock_item", "def refill_item"))
    (root / "shop" / "pricing.py").unlink()
    _crash_before_symbols_saved(root, db)  # the saved table still has the old content
    if damage == "missing":
        (db / "symbols.json").unlink()
    elif damage == "torn":
        (db / "symbols.json").write_text('{"shop/inventory.py": {"defs": [')
    reopened = _symbols_after_build(root, db)
    clean = _symbols_after_build(root, tmp_path / "clean")
    assert "shop/pricing.py" not in reopened
    assert reopened == clean  # ctags definitions included, as a clean build has them
