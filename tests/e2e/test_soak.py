"""A short soak of the real server: every stream runs, nothing errs, nothing hangs.

The figures (latency, memory drift) are the benchmark's (`python -m benchmarks.soak`); this
test only checks that the server stays correct under the mixed load.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.soak import soak
from tests.conftest import make_workspace

pytestmark = pytest.mark.e2e

DURATION_S = 35.0
INLINE = "textDocument/inlineCompletion"


async def test_soak_serves_every_request_without_errors(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "repo")
    result = await soak(root, tmp_path / "work", DURATION_S, seed=3)

    # A hung request comes with the server's Python stacks at the time (py-spy).
    assert result["errors"] == 0, (result["first_errors"], result["stack_dump"])
    assert result["unanswered"] == 0
    assert result["requests"] == result["requests_sent"]  # every request got an answer
    assert result["final"]["alive"], "the server did not answer lsp-ai.status after the run"
    assert result["exit_code"] == 0, result["server_log"]["tail"]
    assert result["server_log"]["errors"] == []

    # Every stream ran, so the test cannot pass on an idle server.
    methods, streams = result["methods"], result["streams"]
    completions = methods[INLINE]["outcomes"]
    assert sum(completions.values()) > 50
    assert completions.get("superseded", 0) > 0
    assert streams["cancel_requests_sent"] > 0
    assert completions.get("cancelled", 0) + methods["$/chat"]["outcomes"].get("cancelled", 0) > 0
    assert methods["$/chat"]["requests"] >= 1
    assert methods["lsp-ai.search"]["requests"] >= 3
    assert methods["lsp-ai.status"]["requests"] >= 3
    assert sum(streams["churn_events"].values()) > 10

    # Once the churn stops, the index matches the files on disk.
    index = streams["index_after_churn"]
    assert index["converged"], index
