"""The assistant's parts: a config change rebuilds what it touches; new roots leave none stale."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lsp_ai.config import Config
from lsp_ai.wiring import Wiring
from tests.fakes import stand_ins


@pytest.fixture
def wiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Wiring:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "first").mkdir()
    return Wiring(Config(), [tmp_path / "first"], stand_ins().by_role())


def test_a_chat_setting_rebuilds_chat_and_nothing_else(wiring: Wiring) -> None:
    index, completion, chat = wiring.index, wiring.completion, wiring.chat
    cfg = replace(wiring.config, chat=replace(wiring.config.chat, top_k=3))
    assert wiring.apply_config(cfg) == []  # no model, no index changed
    assert wiring.index is index and wiring.completion is completion
    assert wiring.chat is not chat


def test_an_index_setting_rebuilds_the_index_and_the_chat_that_keeps_sessions_in_it(
    wiring: Wiring,
) -> None:
    index, completion = wiring.index, wiring.completion
    cfg = replace(wiring.config, index=replace(wiring.config.index, max_file_bytes=10))
    assert wiring.apply_config(cfg) == ["index"]
    assert wiring.index is not index and wiring.completion is completion


def test_new_roots_leave_no_part_on_the_old_ones(wiring: Wiring, tmp_path: Path) -> None:
    (tmp_path / "second").mkdir()
    wiring.set_roots([tmp_path / "second"])
    assert wiring.index.roots == [(tmp_path / "second").resolve()]
    assert wiring.completion._repo_name == "second"  # the repository name in FIM prompts
    home = wiring.index.home
    assert "second" in home.name and "first" not in home.name
    assert wiring.chat.sessions._folder == home / "sessions"  # chat history follows the roots
