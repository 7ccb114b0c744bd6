"""Shared test fixtures: a throw-away copy of the fixture repository and a HOME folder.

The environment a server or CLI process runs in is `tests.harness.env.isolated_env`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE_REPO = Path(__file__).parent / "fixtures" / "sample_repo"


def make_workspace(dst: Path) -> Path:
    """Copy the sample repository and add what must never be indexed.

    The secret and the git-ignored file are written here rather than committed, because
    the repository's own ignore rules would keep them out of a fresh clone.
    """
    shutil.copytree(FIXTURE_REPO, dst)
    (dst / ".gitignore").write_text("*.log\n")
    (dst / ".env").write_text("SECRET_TOKEN=do-not-index-me-4242\n")
    (dst / "debug.log").write_text("debug output do-not-index-log\n")
    return dst


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("ws") / "repo")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")
