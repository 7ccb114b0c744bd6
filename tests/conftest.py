"""Shared test helpers: a throw-away copy of the fixture repository and an isolated HOME."""

from __future__ import annotations

import os
import shutil
import sys
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


def isolated_env(home: Path) -> dict[str, str]:
    """Environment for a server or CLI process that cannot see the developer's config."""
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".state"),
        LSP_AI_CONFIG=str(home / "no-user-config.toml"),
        PYTHONUNBUFFERED="1",
        LSP_AI_LOG_LEVEL=os.environ.get("LSP_AI_LOG_LEVEL", ""),
    )
    return env


SERVER_COMMAND = [sys.executable, "-m", "lsp_ai", "serve"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("ws") / "repo")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")
