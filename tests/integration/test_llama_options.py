"""Per-role llama.cpp options reach the real library."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from lsp_ai.concurrency import CancelToken
from lsp_ai.governor import CpuLoad, cores
from lsp_ai.inference.base import GenerationParams
from lsp_ai.inference.discovery import embedded_gguf
from lsp_ai.inference.llama_cpp import LlamaCppModel


def test_a_quantised_kv_cache_loads_and_generates() -> None:
    model = LlamaCppModel(embedded_gguf(), role="chat", n_ctx=512, kv_cache_type="q8_0")
    try:
        text = "".join(
            model.stream("def add(a, b):\n    return", GenerationParams(4), CancelToken())
        )
        assert text and model.last_usage.generated_tokens >= 1
    finally:
        model.close()


def test_auto_threads_leave_out_the_cores_another_process_keeps_busy() -> None:
    if cores() < 2:
        pytest.skip("needs 2 cores: with 1 there is nothing to leave out")
    model = LlamaCppModel(embedded_gguf(), role="completion", n_ctx=512, adapt_threads=True)
    prompt, params = "def add(a, b):\n    return", GenerationParams(2)
    try:
        time.sleep(CpuLoad.MIN_WINDOW_S)  # if the process's reader exists, a quiet window
        "".join(model.stream(prompt, params, CancelToken()))
        assert model.threads == cores()
        spin = "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"
        subprocess.run([sys.executable, "-c", spin], check=True)
        "".join(model.stream(prompt, params, CancelToken()))
        assert model.threads == cores() - 1 == model.describe()["threads"]
        time.sleep(1.5 * CpuLoad.MIN_WINDOW_S)  # the other process is gone: all cores again
        "".join(model.stream(prompt, params, CancelToken()))
        assert model.threads == cores()
    finally:
        model.close()
