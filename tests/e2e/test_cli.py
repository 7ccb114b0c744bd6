"""The `lsp-ai` command line, run as a user would, on the real embedded models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.env import isolated_env

pytestmark = pytest.mark.e2e


def run(
    home: Path, *args: str, cwd: Path | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp_ai", *args],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        cwd=cwd,
        timeout=timeout,
    )


def test_help_lists_every_command(home: Path) -> None:
    out = run(home, "--help")
    assert out.returncode == 0
    for command in ("serve", "index", "search", "ask", "complete", "models", "doctor"):
        assert command in out.stdout


def test_unknown_flag_is_one_clear_line(home: Path) -> None:
    out = run(home, "search", "x", "--bogus")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--bogus" in lines[0] and "--help" in lines[0]


def test_ask_answers_from_the_local_model_with_sources(home: Path, workspace: Path) -> None:
    out = run(home, "ask", "How does restock_item change the quantity?", "--root", str(workspace))
    assert out.returncode == 0, out.stderr
    answer, _, sources = out.stdout.partition("\nSources:")
    assert answer.strip(), "the model printed no answer"
    assert "shop/inventory.py:" in sources
    assert "Traceback" not in out.stderr


def test_a_session_continues_in_a_new_process(home: Path, workspace: Path) -> None:
    """History is saved next to the index, so a later process (or server) picks it up."""
    for question in ("What does apply_discount return?", "And for a percent over 100?"):
        out = run(home, "ask", question, "--root", str(workspace), "--session", "thread-7")
        assert out.returncode == 0, out.stderr
        assert "session thread-7" in out.stderr
    (saved,) = [
        json.loads(f.read_text())
        for f in (home / ".cache").rglob("sessions/*.json")
        if json.loads(f.read_text())["id"] == "thread-7"
    ]
    assert [t["role"] for t in saved["turns"]] == ["user", "assistant"] * 2
    assert saved["turns"][0]["content"] == "What does apply_discount return?"


def test_search_json_has_the_spec_shape(home: Path, workspace: Path) -> None:
    out = run(
        home, "search", "apply discount percent", "--root", str(workspace), "-k", "2", "--json"
    )
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert 0 < len(hits) <= 2
    assert hits[0]["path"] == "shop/pricing.py"
    assert set(hits[0]) == {
        "path",
        "startLine",
        "endLine",
        "symbol",
        "kind",
        "language",
        "score",
        "text",
    }


def test_index_prints_a_summary(home: Path, workspace: Path) -> None:
    out = run(home, "index", str(workspace))
    assert out.returncode == 0, out.stderr
    assert "indexed" in out.stdout and "files" in out.stdout


def test_complete_prints_a_completion(home: Path, tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def square(x):\n    return ")
    out = run(home, "complete", str(src), "--line", "1", "--character", "11")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert src.read_text() == "def square(x):\n    return "  # never writes the file


def test_complete_refuses_a_secret_as_the_server_does(home: Path, tmp_path: Path) -> None:
    """The CLI goes through the same assistant: a secret never reaches the model."""
    secret = tmp_path / ".env"
    secret.write_text("API_TOKEN=do-not-complete-4242\nOTHER=")
    trace = tmp_path / "trace.jsonl"
    env = dict(isolated_env(home), LSP_AI_COMPLETION_TRACE=str(trace))
    out = subprocess.run(
        [*COMPLETE, str(secret), "--line", "1", "--character", "6"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 1 and not out.stdout.strip()
    assert "secret" in out.stderr and "never sends it to a model" in out.stderr
    (record,) = [json.loads(line) for line in trace.read_text().splitlines()]
    assert record["outcome"] == "private" and "prompt" not in record


COMPLETE = [sys.executable, "-m", "lsp_ai", "complete"]


def test_complete_uses_the_index_for_imported_signatures(
    home: Path, workspace: Path, tmp_path: Path
) -> None:
    assert run(home, "index", str(workspace)).returncode == 0
    src = workspace / "shop" / "orders.py"
    src.write_text("from shop.inventory import Inventory\n\ndef check(inv: Inventory):\n    inv.")
    trace = tmp_path / "trace.jsonl"
    out = subprocess.run(
        [*COMPLETE, str(src), "--root", str(workspace), "--line", "3", "--character", "8"],
        capture_output=True,
        text=True,
        env=isolated_env(home) | {"LSP_AI_COMPLETION_TRACE": str(trace)},
        timeout=300,
    )
    src.unlink()
    assert out.returncode in (0, 1), out.stderr  # 1: the model had nothing to add
    (record,) = [json.loads(line) for line in trace.read_text().splitlines()]
    assert "# Path: shop/inventory.py" in record["prompt"]
    assert "def restock_item(self, sku: str, amount: int) -> int:" in record["prompt"]


def test_models_lists_the_embedded_defaults(home: Path) -> None:
    out = run(home, "models", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["roles"]["completion"]["path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert data["roles"]["embedding"]["path"].endswith("model")
    assert any(f["source"].startswith("embedded") for f in data["gguf_files"])


def complete_with_model(home: Path, folder: Path, model: str) -> subprocess.CompletedProcess[str]:
    """`lsp-ai complete` in `folder`, whose .lsp-ai.toml points the completion role at `model`."""
    (folder / ".lsp-ai.toml").write_text(f'[models.completion]\nmodel = "{model}"\n')
    trusted = run(home, "trust", str(folder))  # a model path in a repository's file needs it
    assert trusted.returncode == 0, trusted.stderr
    src = folder / "m.py"
    src.write_text("x = ")
    return run(home, "complete", str(src), "--line", "0", "--character", "4", cwd=folder)


def test_corrupt_model_file_is_named_with_its_fix(home: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"not a model at all")
    out = complete_with_model(home, tmp_path, str(bogus))
    assert out.returncode == 1
    line = out.stderr.strip().splitlines()[-1]
    assert "models.completion.model" in line and "not a GGUF file" in line
    assert "Traceback" not in out.stderr


def test_truncated_gguf_is_reported_not_crashed(home: Path, tmp_path: Path) -> None:
    from lsp_ai.inference.discovery import embedded_gguf

    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(embedded_gguf().read_bytes()[:100_000])
    out = complete_with_model(home, tmp_path, str(truncated))
    assert out.returncode == 1
    assert "models.completion.model" in out.stderr and "could not load" in out.stderr
    assert "Traceback" not in out.stderr


def test_gguf_of_an_unknown_architecture_is_reported(home: Path, tmp_path: Path) -> None:
    from tests.unit.test_gguf_discovery import write_gguf

    odd = write_gguf(tmp_path / "odd.gguf", "no-such-arch", ["a", "b"], 7, 2048)
    out = complete_with_model(home, tmp_path, str(odd))
    assert out.returncode == 1
    assert "models.completion.model" in out.stderr and "architecture" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_model_file_is_named(home: Path, tmp_path: Path) -> None:
    out = complete_with_model(home, tmp_path, "/nowhere/m.gguf")
    assert out.returncode == 1
    assert "models.completion.model: no such file /nowhere/m.gguf" in out.stderr


def test_unreadable_config_is_reported_and_defaults_used(home: Path, tmp_path: Path) -> None:
    (tmp_path / ".lsp-ai.toml").write_text("[models.completion\nn_ctx = ")
    out = run(home, "models", "--root", str(tmp_path))
    assert out.returncode == 0
    assert ".lsp-ai.toml" in out.stderr and "cannot read config" in out.stderr
    assert "SmolLM2" in out.stdout


def test_doctor_checks_the_environment(home: Path, workspace: Path) -> None:
    out = run(home, "doctor", "--root", str(workspace))
    assert "[ok] completion model" in out.stdout
    assert "[ok] embedding model" in out.stdout
    assert "[ok] tree-sitter grammars" in out.stdout
    assert "[ok] llama.cpp build" in out.stdout  # scripts/install-llama-cpp.sh: no OpenMP
    assert out.returncode == 0, out.stdout + out.stderr


def test_python_dash_m_matches_the_console_script(home: Path) -> None:
    out = run(home, "--version")
    assert out.returncode == 0 and out.stdout.startswith("lsp-ai ")
