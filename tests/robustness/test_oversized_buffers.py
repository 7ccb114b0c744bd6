"""Unsaved buffers are bounded exactly as files are, and status tells the truth about work.

The real assistant, real LanceDB and the real index worker; the models are stand-ins (the
question is what gets indexed and when, not what a model says).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_ai.assistant import Assistant
from lsp_ai.live_index import CHANGE_DEBOUNCE_S
from tests.fakes import private_workspace, stand_ins


@pytest.fixture
def assistant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Assistant]:
    root = private_workspace(tmp_path, monkeypatch)
    (root / "small.py").write_text("def small():\n    return 1\n")
    (root / ".lsp-ai.toml").write_text("[index]\nmax_file_bytes = 10000\n")
    a = Assistant([root], models=stand_ins().by_role())
    yield a
    a.close()


async def settled(a: Assistant, timeout: float = 30.0) -> None:
    """Until nothing is pending; fails if status keeps saying there is work."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while a.status()["pending"]:
        assert loop.time() < deadline, a.status()
        await asyncio.sleep(0.05)


async def test_a_buffer_over_max_file_bytes_is_not_indexed(assistant: Assistant) -> None:
    await assistant.index()
    path = assistant.roots[0] / "small.py"
    uri = path.as_uri()
    assistant.document_opened(uri, path.read_text())
    huge = "def pasted():\n    return 'needle_in_a_huge_buffer'\n" + "x = 1\n" * 5000  # ~30 kB
    assistant.document_changed(uri, huge, 1)
    await asyncio.sleep(CHANGE_DEBOUNCE_S)
    await settled(assistant)
    hits = await assistant.search("needle_in_a_huge_buffer", 5)
    assert all("needle_in_a_huge_buffer" not in h.span.text for h in hits)
    assert all(h.span.path != "small.py" for h in hits), "the old text no longer matches it"


async def test_status_counts_updates_waiting_for_the_index_worker(assistant: Assistant) -> None:
    await assistant.index()
    path = assistant.roots[0] / "small.py"
    uri = path.as_uri()
    assistant.document_opened(uri, path.read_text())
    busy = threading.Event()
    assistant.workers.index.submit(busy.wait, 30)  # the worker is busy with something long
    assistant.document_changed(uri, "def small():\n    return 2\n", 1)
    await asyncio.sleep(CHANGE_DEBOUNCE_S + 0.2)  # the debounced edit has gone to the worker
    assert assistant.status()["pending"] >= 1, "an update is waiting: status must say so"
    busy.set()
    await settled(assistant)
