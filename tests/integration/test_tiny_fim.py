"""The FIM path on a real llama.cpp, with a tiny hand-weighted model that has Qwen's tokens.

The model (tests/harness/tiny_gguf.py) writes, after `<|fim_middle|>`, the digit found in
the prompt; the prompts here keep their only digit in the suffix, so the answer proves the
suffix reached the model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_ai.completion.engine import CompletionEngine, CompletionRequest
from lsp_ai.completion.fim import choose_layout
from lsp_ai.concurrency import CancelToken
from lsp_ai.inference.base import GenerationParams
from lsp_ai.inference.llama_cpp import LlamaCppModel
from lsp_ai.inference.slots import ModelSlot
from lsp_ai.spans import CodeSpan
from tests.harness.tiny_gguf import token_id, write_tiny_fim_gguf

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_fim_gguf(tmp_path_factory.mktemp("tiny") / "tiny-fim.gguf")


@pytest.fixture(scope="module")
def model(tiny_path: Path) -> Iterator[LlamaCppModel]:
    m = LlamaCppModel(tiny_path, role="completion", n_ctx=1024, n_threads=1)
    yield m
    m.close()


def engine(model: LlamaCppModel) -> CompletionEngine:
    return CompletionEngine(
        ModelSlot("completion", lambda: model), fim_template="auto", max_tokens=8, multiline="auto"
    )


def tokens(model: LlamaCppModel, text: str, special: bool = True) -> list[int]:
    return list(model._llm.tokenize(text.encode(), add_bos=False, special=special))


def test_auto_detection_picks_the_qwen_layout_from_the_file(model: LlamaCppModel) -> None:
    assert model.describe()["fim"] == "qwen"
    assert choose_layout("auto", model.fim_tokens()).name == "qwen"


def test_the_prompt_carries_fim_markers_as_single_special_tokens(model: LlamaCppModel) -> None:
    req = CompletionRequest("def area(r):\n    return r * \n", 1, 15, "/w/geo.py", "python")
    result = engine(model).complete(req, CancelToken())
    ids = tokens(model, result.prompt)
    pre, suf, mid = (token_id(t) for t in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"))
    assert ids.count(pre) == ids.count(suf) == ids.count(mid) == 1
    assert ids.index(pre) < ids.index(suf) < ids.index(mid) == len(ids) - 1
    # The same text read as plain text would spell the markers out byte by byte.
    assert pre not in tokens(model, result.prompt, special=False)


def test_the_suffix_sits_after_its_marker_and_reaches_the_model(model: LlamaCppModel) -> None:
    for digit in "37":
        text = f"def area(r):\n    return r * \n\nLIMIT = {digit}\n"
        req = CompletionRequest(text, 1, 15, "/w/geo.py", "python")
        result = engine(model).complete(req, CancelToken())
        ids = tokens(model, result.prompt)
        after = ids[ids.index(token_id("<|fim_suffix|>")) + 1 : -1]
        assert f"LIMIT = {digit}" in model._llm.detokenize(after).decode()
        assert result.text == digit, result  # copied from the suffix


def test_repository_context_is_rendered_as_file_sep_files(model: LlamaCppModel) -> None:
    layout = choose_layout("auto", model.fim_tokens())
    spans = [
        CodeSpan("pkg/a.py", 0, 0, "def alpha(): ..."),
        CodeSpan("pkg/b.py", 0, 0, "def beta(): ..."),
    ]
    prompt = layout.render("x = ", "\n", spans, path="pkg/c.py", language="python", repo="demo")
    ids = tokens(model, prompt)
    assert ids[0] == token_id("<|repo_name|>")
    assert ids.count(token_id("<|file_sep|>")) == 3  # two context files and the current one
    cut = ids.index(token_id("<|fim_prefix|>"))
    files = model._llm.detokenize(ids[:cut], special=True).decode()
    assert "<|file_sep|>pkg/a.py\ndef alpha(): ...\n<|file_sep|>pkg/b.py\n" in files
    assert files.endswith("<|file_sep|>pkg/c.py\n")


@pytest.mark.parametrize(("digit", "stop"), [("7", "<|endoftext|>"), ("9", "<|file_sep|>")])
def test_end_of_text_and_file_separator_stop_generation(
    model: LlamaCppModel, digit: str, stop: str
) -> None:
    prompt = f"<|fim_prefix|>x = <|fim_suffix|>\ny = {digit}\n<|fim_middle|>"
    ids = tokens(model, prompt)
    llm = model._llm
    gen = llm.generate(ids, temp=0.0, top_k=1)
    assert [next(gen), next(gen)] == [token_id(digit), token_id(stop)]  # what the model does
    out = "".join(model.stream(prompt, GenerationParams(max_tokens=16), CancelToken()))
    assert out == digit
    assert model.last_usage.generated_tokens == 1  # the stop token ended it, not max_tokens


def test_keystrokes_reuse_the_cached_prefix_while_the_suffix_changes(
    model: LlamaCppModel,
) -> None:
    eng = engine(model)
    head = "".join(f"def f_{c}(a, b):\n    return a + b\n\n" for c in "abcdefghijkl")
    lines = head.count("\n")
    first = eng.complete(
        CompletionRequest(head + "total = \nLIMIT = 3\n", lines, 8, "/w/k.py", "python"),
        CancelToken(),
    )
    assert first.text == "3"
    # One more character typed, and the suffix edited too.
    second = eng.complete(
        CompletionRequest(head + "total = s\nLIMIT = 4\n", lines, 9, "/w/k.py", "python"),
        CancelToken(),
    )
    assert second.text == "4"
    prompt_ids = tokens(model, second.prompt)
    unchanged = len(tokens(model, second.prompt.split("total = s")[0]))
    assert second.usage.prompt_tokens == len(prompt_ids)
    assert second.usage.cached_tokens >= unchanged > 100
    assert second.usage.evaluated_tokens < 20


@pytest.mark.skipif(
    not (ROOT.parent / "shared/eval-data/human-eval-infilling").is_dir()
    and not os.environ.get("LSP_AI_EVAL_DATA"),
    reason="HumanEval infilling data not present",
)
def test_humaneval_infilling_harness_runs_the_fim_path(tiny_path: Path, tmp_path: Path) -> None:
    env = dict(os.environ, LSP_AI_BENCH_OUT=str(tmp_path), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "benchmarks.humaneval_infill", "--model", str(tiny_path)]
    done = subprocess.run(
        [*cmd, "--limit", "2", "--n-ctx", "1024"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(qwen)" in done.stderr  # the tasks ran with the FIM layout
    [result] = tmp_path.glob("humaneval_infill-*.json")
    assert '"tasks": 2' in result.read_text()
