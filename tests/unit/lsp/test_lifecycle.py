"""The lifecycle feature: workspace roots from initialize, in the order clients send them."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as lsp

from lsp_ai.lsp.features.lifecycle import roots


def test_folders_win_over_the_root_uri_and_the_root_path(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    params = lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(),
        root_uri=b.as_uri(),
        root_path=str(b),
        workspace_folders=[lsp.WorkspaceFolder(uri=a.as_uri(), name="a")],
    )
    assert roots(params) == [a]


def test_without_folders_the_root_uri_then_the_root_path_then_the_current_folder(
    tmp_path: Path,
) -> None:
    caps = lsp.ClientCapabilities()
    assert roots(lsp.InitializeParams(capabilities=caps, root_uri=tmp_path.as_uri())) == [tmp_path]
    assert roots(lsp.InitializeParams(capabilities=caps, root_path=str(tmp_path))) == [tmp_path]
    assert roots(lsp.InitializeParams(capabilities=caps)) == [Path.cwd()]
