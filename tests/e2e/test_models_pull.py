"""`lsp-ai models pull` against a loopback hub (tests/harness/hub.py), in an isolated HOME."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.hub import Hub, hub_env, lsp_ai
from tests.harness.tiny_gguf import write_tiny_fim_gguf

REPO = "test-org/Tiny-FIM-GGUF"
FILE = "tiny-fim-q8_0.gguf"


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_tiny_fim_gguf(tmp_path_factory.mktemp("src") / FILE).read_bytes()


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub() as h:
        yield h


def cache(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".cache" / "huggingface" / "hub"


def leftovers(tmp_path: Path) -> list[Path]:
    """Files in the cache's blobs: partial downloads would be here."""
    return [p for p in cache(tmp_path).rglob("blobs/*") if p.is_file()]


def test_a_clean_pull_lands_in_the_cache_that_models_lists(
    tmp_path: Path, hub: Hub, gguf: bytes
) -> None:
    hub.add(REPO, FILE, gguf)
    env = hub_env(tmp_path / "home", hub.url)
    done = lsp_ai(env, "models", "pull", f"hf:{REPO}/{FILE}")
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout
    [blob] = leftovers(tmp_path)
    assert blob.read_bytes() == gguf
    listed = json.loads(lsp_ai(env, "models", "--json").stdout)
    [found] = [f for f in listed["gguf_files"] if f["path"].endswith(FILE)]
    assert found["fim"] == "qwen" and found["source"] == "huggingface"
    # Pulling again downloads nothing.
    gets = sum(1 for m, _, _ in hub.requests if m == "GET")
    assert lsp_ai(env, "models", "pull", f"hf:{REPO}/{FILE}", "--quiet").returncode == 0
    assert sum(1 for m, _, _ in hub.requests if m == "GET") == gets


def test_a_cut_transfer_resumes_with_a_ranged_request(
    tmp_path: Path, hub: Hub, gguf: bytes
) -> None:
    # huggingface_hub writes in 10 MiB chunks and resumes from the last whole chunk, so the
    # file has to be bigger than one for the resume to start past zero.
    data = gguf + bytes(12 << 20)
    hub.add(REPO, FILE, data, cut_after=11 << 20)
    done = lsp_ai(
        hub_env(tmp_path / "home", hub.url), "models", "pull", f"hf:{REPO}/{FILE}", "--quiet"
    )
    assert done.returncode == 0, done.stderr
    ranges = [r for m, _, r in hub.requests if m == "GET"]
    assert ranges == ["", f"bytes={10 << 20}-"]
    [blob] = leftovers(tmp_path)
    assert blob.read_bytes() == data


def test_a_checksum_mismatch_is_refused_and_leaves_no_file(
    tmp_path: Path, hub: Hub, gguf: bytes
) -> None:
    hub.add(REPO, FILE, gguf, sha256="ab" * 32)
    done = lsp_ai(
        hub_env(tmp_path / "home", hub.url), "models", "pull", f"hf:{REPO}/{FILE}", "--quiet"
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "checksum mismatch" in line and "removed" in line
    assert leftovers(tmp_path) == []
    assert not [p for p in cache(tmp_path).rglob("*.gguf") if p.exists()]


def test_an_unreachable_hub_is_one_line_with_the_folder_to_use(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = hub_env(tmp_path / "home", f"http://127.0.0.1:{port}")
    done = lsp_ai(env, "models", "pull", "qwen2.5-coder-1.5b-q8_0", "--quiet")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "cannot reach" in line and str(cache(tmp_path)) in line
    assert leftovers(tmp_path) == []


def test_too_little_disk_space_stops_before_downloading(
    tmp_path: Path, hub: Hub, gguf: bytes
) -> None:
    hub.add(REPO, FILE, gguf, size=10**18)  # an exabyte: no disk has room for it
    done = lsp_ai(hub_env(tmp_path / "home", hub.url), "models", "pull", f"hf:{REPO}/{FILE}")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "not enough disk space" in line
    assert not [m for m, _, _ in hub.requests if m == "GET"]


def test_a_write_error_mid_download_is_one_line_and_leaves_no_partial_file(
    tmp_path: Path, hub: Hub, gguf: bytes
) -> None:
    hub.add(REPO, FILE, gguf)
    env = hub_env(tmp_path / "home", hub.url)
    done = lsp_ai(env, "models", "pull", f"hf:{REPO}/{FILE}", "--quiet", max_file_bytes=50_000)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "download of" in line and "failed" in line, line
    assert leftovers(tmp_path) == []  # blobs, and the .incomplete files beside them
    assert not list(cache(tmp_path).rglob("*.gguf"))


def test_an_unknown_name_lists_the_presets(tmp_path: Path) -> None:
    done = lsp_ai(hub_env(tmp_path / "home", "http://127.0.0.1:9"), "models", "pull", "nope")
    assert done.returncode == 1
    assert "qwen2.5-coder-1.5b-q8_0" in done.stderr and "hf:OWNER/REPO/FILE.gguf" in done.stderr


def test_offline_mode_says_so(tmp_path: Path) -> None:
    env = dict(hub_env(tmp_path / "home", "http://127.0.0.1:9"), HF_HUB_OFFLINE="1")
    done = lsp_ai(env, "models", "pull", "qwen2.5-coder-0.5b-q8_0")
    assert done.returncode == 1
    assert "offline" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert os.fspath(cache(tmp_path)) in done.stderr
