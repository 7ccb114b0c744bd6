"""The real server over stdio, driven by a real LSP client, on the real embedded models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from tests.harness.env import isolated_env
from tests.harness.lsp_client import VS_CODE, LspClient, lsp_session

pytestmark = pytest.mark.e2e

HIT_KEYS = {"path", "startLine", "endLine", "symbol", "kind", "language", "score", "text"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(workspace: Path, home: Path) -> AsyncIterator[LspClient]:
    async with lsp_session(workspace, isolated_env(home), capabilities=VS_CODE) as c:
        yield c


async def execute(client: LspClient, command: str, *args: object) -> object:
    return await client.command_async(command, *args)


async def inline(
    client: LspClient, uri: str, line: int, character: int, automatic: bool = False
) -> lsp.InlineCompletionList | list[lsp.InlineCompletionItem] | None:
    kind = lsp.InlineCompletionTriggerKind
    return await client.call_async(
        lsp.TEXT_DOCUMENT_INLINE_COMPLETION,
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=line, character=character),
            context=lsp.InlineCompletionContext(
                trigger_kind=kind.Automatic if automatic else kind.Invoked
            ),
        ),
    )


def insert_text(client: LspClient, uri: str, line: int, character: int, text: str) -> None:
    """An incremental didChange that types `text` at a position, as an editor sends it."""
    here = lsp.Position(line=line, character=character)
    client.notify(
        lsp.TEXT_DOCUMENT_DID_CHANGE,
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=here, end=here), text=text
                )
            ],
        ),
    )


async def test_capabilities_match_the_spec(client: LspClient) -> None:
    assert client.init_result is not None
    caps = client.init_result.capabilities
    assert caps.inline_completion_provider
    assert caps.completion_provider is not None
    assert caps.code_action_provider
    assert caps.execute_command_provider is not None
    assert set(caps.execute_command_provider.commands) >= {
        "lsp-ai.search",
        "lsp-ai.reindex",
        "lsp-ai.status",
        "lsp-ai.codeAction",
    }
    sync = caps.text_document_sync
    assert isinstance(sync, lsp.TextDocumentSyncOptions)
    assert sync.change == lsp.TextDocumentSyncKind.Incremental
    assert sync.open_close and sync.save
    assert caps.workspace and caps.workspace.workspace_folders
    assert caps.workspace.workspace_folders.supported


async def test_status_reports_index_and_models(client: LspClient) -> None:
    status = await execute(client, "lsp-ai.status")
    assert isinstance(status, dict)
    assert {"indexedFiles", "chunks", "pending", "models"} <= set(status)
    assert set(status["models"]) == {"completion", "chat", "embedding"}
    for role in ("completion", "chat", "embedding"):
        assert status["models"][role]["state"] in {"unloaded", "loading", "ready"}
    # How long initialize takes while models load is measured in benchmarks/server_lifecycle.py


async def test_indexing_reports_work_done_progress(client: LspClient) -> None:
    def ended(c: LspClient) -> bool:
        return any(
            v and v[0].get("title") == "Indexing" and v[-1].get("kind") == "end"
            for v in c.work_done.values()
        )

    await client.wait_for_async(ended)
    reports = next(v for v in client.work_done.values() if v[0].get("title") == "Indexing")
    assert reports[0]["kind"] == "begin"
    assert any("percentage" in r for r in reports if r["kind"] == "report")


async def test_inline_completion_from_the_embedded_model(
    client: LspClient, workspace: Path
) -> None:
    path = workspace / "shop" / "scratch.py"
    text = "def add(a, b):\n    return "
    uri = client.open_doc(path, text)
    result = await inline(client, uri, 1, 11)
    assert isinstance(result, lsp.InlineCompletionList)
    assert result.items, "the model produced no completion"
    item = result.items[0]
    assert isinstance(item.insert_text, str) and item.insert_text.strip()
    assert "\n" not in item.insert_text  # mid-expression: one line
    assert item.range is not None and item.range.start == lsp.Position(line=1, character=11)


async def test_plain_completion_for_editors_without_ghost_text(
    client: LspClient, workspace: Path
) -> None:
    path = workspace / "shop" / "scratch2.py"
    uri = client.open_doc(path, "import os\n\nprint(os.path.jo")
    result = await client.call_async(
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=2, character=16),
        ),
    )
    assert isinstance(result, lsp.CompletionList)
    assert result.items
    edit = result.items[0].text_edit
    assert isinstance(edit, lsp.TextEdit)
    # The edit replaces the word being typed, so editors' prefix filtering keeps the item.
    assert edit.range.start == lsp.Position(line=2, character=14)
    assert edit.new_text.startswith("jo")


async def test_completion_for_a_document_never_opened_is_an_error(
    client: LspClient, workspace: Path
) -> None:
    with pytest.raises(JsonRpcException, match="not open"):
        await inline(client, (workspace / "nope.py").as_uri(), 0, 0, automatic=True)
    assert await execute(client, "lsp-ai.status")  # still serving


async def test_old_trigger_kind_numbering_is_accepted(client: LspClient, workspace: Path) -> None:
    uri = client.open_doc(workspace / "shop" / "scratch3.py", "x = 1\ny = ")
    # Pre-3.18 clients send Invoked=0; pygls would reject it without our converter hook.
    raw = {
        "textDocument": {"uri": uri},
        "position": {"line": 1, "character": 4},
        "context": {"triggerKind": 0},
    }
    result = await client.call_async("textDocument/inlineCompletion", raw, raw=True)
    assert result is not None


async def test_search_command_returns_spec_hits(client: LspClient) -> None:
    hits = await execute(client, "lsp-ai.search", "restock item amount", 3)
    assert isinstance(hits, list) and 0 < len(hits) <= 3
    assert all(set(h) == HIT_KEYS for h in hits)
    assert hits[0]["path"] == "shop/inventory.py"
    assert hits == sorted(hits, key=lambda h: -h["score"])


async def test_secrets_and_ignored_files_are_never_searchable(client: LspClient) -> None:
    for query in ("SECRET_TOKEN do-not-index-me-4242", "do-not-index-log debug output"):
        hits = await execute(client, "lsp-ai.search", query, 10)
        assert isinstance(hits, list)
        assert not any(h["path"] in (".env", "debug.log") for h in hits)


async def test_bad_search_arguments_are_rejected(client: LspClient) -> None:
    with pytest.raises(JsonRpcException, match="query must be a non-empty string"):
        await execute(client, "lsp-ai.search", 42)


async def test_reindex_returns_at_once(client: LspClient) -> None:
    assert await execute(client, "lsp-ai.reindex") == {"started": True}


async def test_saved_change_becomes_searchable(client: LspClient, workspace: Path) -> None:
    path = workspace / "shop" / "shipping.py"
    path.write_text("def shipping_quote_zanzibar(weight):\n    return weight * 3\n")
    client.notify(
        lsp.TEXT_DOCUMENT_DID_SAVE,
        lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=path.as_uri())),
    )
    await wait_for_hit(client, "shipping quote zanzibar", "shop/shipping.py")


async def test_unsaved_buffer_becomes_searchable(client: LspClient, workspace: Path) -> None:
    path = workspace / "shop" / "returns.py"
    path.write_text("")
    uri = client.open_doc(path, "")
    insert_text(client, uri, 0, 0, "def refund_parcel_quokka(order):\n    pass\n")
    await wait_for_hit(client, "refund parcel quokka", "shop/returns.py")
    assert path.read_text() == ""  # indexing an unsaved buffer never writes the file


async def wait_for_hit(client: LspClient, query: str, path: str) -> None:
    """Poll search until the change shows (the server promises 2 s; allow slack on CI)."""
    async with asyncio.timeout(15):
        while True:
            hits = await execute(client, "lsp-ai.search", query, 3)
            if isinstance(hits, list) and hits and hits[0]["path"] == path:
                return
            await asyncio.sleep(0.1)


async def test_chat_streams_deltas_and_cites_sources(client: LspClient, workspace: Path) -> None:
    result = await client.call_async(
        "$/chat",
        {
            "message": "What does restock_item do with the amount?",
            "partialResultToken": "chat-1",
            "workDoneToken": "chat-1-work",
        },
    )
    assert result["content"].strip()
    # Every streamed piece arrived before the result, and together they are the answer.
    assert client.chat_text("chat-1").strip() == result["content"]
    paths = [s["path"] for s in result["sources"]]
    assert "shop/inventory.py" in paths
    # A source points at the function's real lines in its real file.
    lines = (workspace / "shop" / "inventory.py").read_text().split("\n")
    def_line = next(i for i, ln in enumerate(lines) if "def restock_item" in ln)
    return_line = next(i for i in range(def_line, len(lines)) if "return item.quantity" in lines[i])
    src = next(
        s
        for s in result["sources"]
        if s["path"] == "shop/inventory.py" and s["startLine"] <= def_line <= s["endLine"]
    )
    assert src["endLine"] >= return_line
    assert src["uri"] == (workspace / "shop" / "inventory.py").as_uri()
    stages = client.work_done["chat-1-work"]
    assert stages[0]["kind"] == "begin" and stages[-1]["kind"] == "end"

    # The same session continues the conversation.
    follow = await client.call_async(
        "$/chat", {"message": "And what if it is negative?", "sessionId": result["sessionId"]}
    )
    assert follow["sessionId"] == result["sessionId"]


async def test_chat_cancel_fails_with_request_cancelled(client: LspClient) -> None:
    future = client.send_request(
        "$/chat", {"message": "Explain every function in this repository in detail."}, "cancel-me"
    )
    await asyncio.sleep(0.5)  # let generation start
    client.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcException) as info:
        await asyncio.wrap_future(future)
    assert info.value.code == -32800
    assert await execute(client, "lsp-ai.status")  # still serving


async def test_chat_rejects_bad_params(client: LspClient) -> None:
    with pytest.raises(JsonRpcException, match="message"):
        await client.call_async("$/chat", {"message": 3})


async def test_unknown_method_is_method_not_found(client: LspClient) -> None:
    with pytest.raises(JsonRpcException) as info:
        await client.call_async("$/noSuchThing", {})
    assert info.value.code == -32601


async def test_bad_setting_is_reported_and_last_good_config_kept(
    client: LspClient, workspace: Path
) -> None:
    client.notify(
        lsp.WORKSPACE_DID_CHANGE_CONFIGURATION,
        lsp.DidChangeConfigurationParams(settings={"lsp-ai": {"completion": {"max_tokens": -1}}}),
    )
    async with asyncio.timeout(30):
        await client.wait_for_notification_async(lsp.WINDOW_SHOW_MESSAGE)
    assert any("completion.max_tokens" in m.message for m in client.messages)
    uri = client.open_doc(workspace / "shop" / "scratch4.py", "def mul(a, b):\n    return ")
    result = await inline(client, uri, 1, 11)
    assert result is not None and result.items


async def test_completion_is_served_while_a_chat_generates(
    client: LspClient, workspace: Path
) -> None:
    chat = client.send_request(
        "$/chat",
        {"message": "Describe every class and function in this shop.", "partialResultToken": "c2"},
    )
    await client.wait_for_async(lambda c: bool(c.deltas.get("c2")))
    uri = client.open_doc(workspace / "shop" / "scratch5.py", "def sub(a, b):\n    return ")
    result = await inline(client, uri, 1, 11, automatic=True)
    # An answer, even an empty one (a 135M model may see nothing to add), that arrives
    # while the chat still generates: chat pauses while a completion runs.
    assert isinstance(result, lsp.InlineCompletionList)
    assert not chat.done(), "the chat finished first: the completion waited behind it"
    await asyncio.wrap_future(chat)


async def test_live_config_reload_applies_index_exclude(client: LspClient) -> None:
    hits = await execute(client, "lsp-ai.search", "apply discount percent", 3)
    assert isinstance(hits, list) and hits[0]["path"] == "shop/pricing.py"
    client.notify(
        lsp.WORKSPACE_DID_CHANGE_CONFIGURATION,
        lsp.DidChangeConfigurationParams(
            settings={"lsp-ai": {"index": {"exclude": ["pricing.py"]}}}
        ),
    )
    async with asyncio.timeout(15):
        while True:
            hits = await execute(client, "lsp-ai.search", "apply discount percent", 3)
            assert isinstance(hits, list)
            if all(h["path"] != "shop/pricing.py" for h in hits):
                break
            await asyncio.sleep(0.1)


async def test_bad_initialization_options_are_reported(workspace: Path, home: Path) -> None:
    async with lsp_session(
        workspace,
        isolated_env(home),
        capabilities=VS_CODE,
        init_options={"models": {"completion": {"n_ctx": "big"}}},
    ) as c:
        async with asyncio.timeout(30):
            while not c.messages:  # it may already have arrived during initialize
                await c.wait_for_notification_async(lsp.WINDOW_SHOW_MESSAGE)
        assert any(
            "initializationOptions" in m.message and "models.completion.n_ctx" in m.message
            for m in c.messages
        )
        assert await execute(c, "lsp-ai.status")


async def test_typing_through_a_suggestion_keeps_the_rest(
    client: LspClient, workspace: Path
) -> None:
    uri = client.open_doc(workspace / "shop" / "scratch6.py", "def half(n):\n    return ")
    first = await inline(client, uri, 1, 11)
    assert isinstance(first, lsp.InlineCompletionList) and first.items
    shown = first.items[0].insert_text
    assert isinstance(shown, str) and len(shown) > 1
    insert_text(client, uri, 1, 11, shown[0])
    second = await inline(client, uri, 1, 12)
    assert isinstance(second, lsp.InlineCompletionList) and second.items
    assert second.items[0].insert_text == shown[1:]


async def test_no_ghost_text_inside_a_comment(client: LspClient, workspace: Path) -> None:
    uri = client.open_doc(workspace / "shop" / "scratch7.py", "x = 1  # the value of ")
    result = await inline(client, uri, 0, 22, automatic=True)
    assert isinstance(result, lsp.InlineCompletionList) and not result.items


async def code_actions(
    client: LspClient, uri: str, first: int, last: int, only: list[str] | None = None
) -> list[dict[str, Any]]:
    """Raw JSON: typed, each CodeAction would read as a Command (both have a title)."""
    context: dict[str, Any] = {"diagnostics": []}
    if only is not None:
        context["only"] = only
    result = await client.call_async(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": {
                "start": {"line": first, "character": 0},
                "end": {"line": last, "character": 0},
            },
            "context": context,
        },
        raw=True,
    )
    assert isinstance(result, list)
    return result


async def test_code_actions_are_offered_on_a_selection_only(
    client: LspClient, workspace: Path
) -> None:
    uri = client.open_doc(workspace / "shop" / "scratch8.py", "def f(x):\n    return x * 2\n")
    actions = await code_actions(client, uri, 0, 2)
    assert [(a["title"], a["kind"]) for a in actions] == [
        ("lsp-ai: Explain this code", "refactor"),
        ("lsp-ai: Write a docstring", "refactor.rewrite"),
        ("lsp-ai: Refactor this code", "refactor.rewrite"),
    ]
    assert all(a["command"]["command"] == "lsp-ai.codeAction" for a in actions)
    assert await code_actions(client, uri, 1, 1) == []  # no selection, no actions
    assert len(await code_actions(client, uri, 0, 2, only=["refactor.rewrite"])) == 2
    assert await code_actions(client, uri, 0, 2, only=["quickfix"]) == []


async def test_docstring_action_applies_a_versioned_edit(
    client: LspClient, workspace: Path
) -> None:
    text = "def area(width, height):\n    return width * height\n"
    uri = client.open_doc(workspace / "shop" / "scratch9.py", text)
    docstring = (await code_actions(client, uri, 0, 2))[1]
    result = await execute(client, "lsp-ai.codeAction", *docstring["command"]["arguments"])
    assert isinstance(result, dict) and result["applied"], result
    (params,) = client.applied_edits[-1:]
    assert params.edit.document_changes  # VS Code's capabilities: versioned edits
    change = params.edit.document_changes[0]
    assert isinstance(change, lsp.TextDocumentEdit) and change.text_document.version == 1
    (edit,) = change.edits
    assert isinstance(edit, lsp.TextEdit)
    assert edit.range.start == edit.range.end == lsp.Position(line=1, character=0)
    assert edit.new_text.startswith('    """') and edit.new_text.endswith('"""\n')


async def test_bad_code_action_arguments_are_rejected(client: LspClient) -> None:
    with pytest.raises(JsonRpcException, match="action"):
        await execute(client, "lsp-ai.codeAction", "poem", "file:///x.py", {})
