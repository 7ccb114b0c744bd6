"""The MCP adapter in process: tool list and schemas, argument errors, refusals, progress.

The SDK's own client talks to the server object directly (no JSON-RPC framing); the assistant
behind it is real, with the stand-in models of tests/fakes.py. tests/e2e/test_mcp.py drives
`lsp-ai mcp` over stdio and HTTP with the real models.
"""

from __future__ import annotations

import json
import re
import shlex
import time
import tomllib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from lsp_ai.assistant import Assistant
from lsp_ai.mcp_server import TOOLS, UNTRUSTED, build_server
from lsp_ai.models import Role
from tests.conftest import make_workspace
from tests.fakes import HashEmbedder, stand_ins


class SlowEmbedder(HashEmbedder):
    """Documents take a while, so that a first build is still running when a tool is called."""

    def embed(self, texts: Sequence[str], kind: str) -> list[list[float]]:
        if kind == "document":
            time.sleep(1.0)
        return super().embed(texts, kind)


def make_assistant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Any = None
) -> Assistant:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LSP_AI_CONFIG", str(tmp_path / "no-user-config.toml"))
    root = make_workspace(tmp_path / "repo")
    models = stand_ins().by_role()
    if embedder is not None:
        models[Role.EMBEDDING] = embedder
    return Assistant([root], models=models)


@pytest.fixture
async def assistant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Assistant]:
    a = make_assistant(tmp_path, monkeypatch)
    await a.index()
    yield a
    a.close()


@asynccontextmanager
async def connect(assistant: Assistant) -> AsyncIterator[Client]:
    """A client session entered and left in the test's own task (anyio's task groups need it)."""
    async with Client(build_server(assistant)) as c:
        yield c


def data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    parsed = json.loads(result.content[0].text)
    assert parsed == result.structured_content
    return parsed


def error(result: Any) -> str:
    assert result.is_error
    return str(result.content[0].text)


async def test_every_tool_is_listed_with_a_schema_and_says_code_is_data(
    assistant: Assistant,
) -> None:
    async with connect(assistant) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert (
            set(tools)
            == set(TOOLS)
            == {
                "search_code",
                "find_symbol",
                "callers",
                "callees",
                "outline",
                "read_code",
                "index_status",
            }
        )
        for name, tool in tools.items():
            schema = tool.input_schema
            assert schema["type"] == "object" and schema["additionalProperties"] is False
            assert "anyOf" not in json.dumps(schema)
            assert tool.annotations is not None and tool.annotations.read_only_hint
            assert tool.description
            if name != "index_status":
                assert UNTRUSTED in tool.description
        assert tools["search_code"].input_schema["required"] == ["query"]
        assert set(tools["search_code"].input_schema["properties"]) == {
            "query",
            "k",
            "path_glob",
            "language",
            "max_tokens",
        }
        assert tools["read_code"].input_schema["required"] == ["path", "start_line", "end_line"]


@pytest.mark.parametrize(
    ("tool", "arguments", "named"),
    [
        ("search_code", {}, "`query` is required"),
        ("search_code", {"query": 42}, "`query`"),
        ("search_code", {"query": "x", "k": 10**9}, "`k`"),
        ("search_code", {"query": "x", "k": -3}, "`k`"),
        ("search_code", {"query": "x", "k": "ten"}, "`k`"),
        ("search_code", {"query": "x", "max_tokens": 5}, "`max_tokens`"),
        ("search_code", {"query": "x", "limit": 3}, "`limit` is not one this tool takes"),
        ("search_code", {"query": "\ud800"}, "`query`: Input should be a valid string"),
        ("search_code", {"query": "x" * 5000}, "`query`"),
        ("find_symbol", {"name": ""}, "`name`"),
        ("callers", {"name": None}, "`name`"),
        ("outline", {"path": ["a", "b"]}, "`path`"),
        ("read_code", {"path": "shop/pricing.py", "start_line": -1, "end_line": 3}, "`start_line`"),
        ("read_code", {"path": "shop/pricing.py", "start_line": 1}, "`end_line` is required"),
        ("read_code", {"path": "a\x00b", "start_line": 1, "end_line": 2}, "`path`: holds a NUL"),
        ("index_status", {"verbose": True}, "`verbose`"),
    ],
)
async def test_malformed_arguments_are_a_tool_error_naming_the_argument(
    assistant: Assistant, tool: str, arguments: dict[str, Any], named: str
) -> None:
    async with connect(assistant) as client:
        message = error(await client.call_tool(tool, arguments))
        assert message.startswith(f"{tool}: ") and named in message
        assert "\ud800" not in message and "x" * 100 not in message  # no echo of the value
        # The server keeps serving.
        assert data(await client.call_tool("find_symbol", {"name": "apply_discount"}))[
            "definitions"
        ]


async def test_refusals_are_tool_errors_with_the_fix(assistant: Assistant) -> None:
    async with connect(assistant) as client:
        outside = error(
            await client.call_tool("read_code", {"path": "../x.py", "start_line": 1, "end_line": 2})
        )
        assert "outside the workspace" in outside
        secret = error(
            await client.call_tool("read_code", {"path": ".env", "start_line": 1, "end_line": 2})
        )
        assert "secret" in secret and "do-not-index" not in secret
        language = error(await client.call_tool("search_code", {"query": "x", "language": "cobol"}))
        assert "language 'cobol'" in language and "python" in language
        assert "no tool named" in error(await client.call_tool("rm_rf", {}))


async def test_results_carry_one_based_lines_that_match_the_file(assistant: Assistant) -> None:
    async with connect(assistant) as client:
        found = data(await client.call_tool("search_code", {"query": "discount percent", "k": 3}))
        top = found["results"][0]
        assert top["location"] == "shop/pricing.py:6-10"
        assert top["scope"] == "function `apply_discount`"
        read = data(
            await client.call_tool(
                "read_code", {"path": "shop/pricing.py", "start_line": 6, "end_line": 10}
            )
        )
        assert read["code"] == top["code"]
        assert (read["start_line"], read["end_line"]) == (6, 10)
        (site,) = data(await client.call_tool("callers", {"name": "apply_discount"}))["callers"]
        assert site["location"] == "shop/pricing.py:22"
        status = data(await client.call_tool("index_status", {}))
        assert status["files"] == 4 and status["writer"] == "this server"


async def test_a_first_build_is_awaited_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant = make_assistant(tmp_path, monkeypatch, SlowEmbedder())
    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    try:
        assistant.start(roles=(Role.EMBEDDING,))
        async with Client(build_server(assistant)) as c:
            result = await c.call_tool(
                "search_code", {"query": "restock"}, progress_callback=progress
            )
            hits = data(result)["results"]
        assert hits and "note" not in data(result)
        assert seen and seen[-1] == (4, 4)
    finally:
        assistant.close()


README = Path(__file__).parents[2] / "README.md"


def agent_commands() -> dict[str, list[str]]:
    """The command line each set-up snippet of the README's MCP section starts, by client."""
    section = README.read_text().split("## Coding agents (MCP)")[1].split("\n## ")[0]
    found: dict[str, list[str]] = {}
    claude = re.search(r"`claude mcp add lsp-ai -- ([^`]+)`", section)
    assert claude is not None
    found["claude"] = shlex.split(claude.group(1))
    for lang, body in re.findall(r"```(json|toml)\n(.*?)```", section, re.S):
        if lang == "toml":
            entry = tomllib.loads(body)["mcp_servers"]["lsp-ai"]
            found["codex"] = [entry["command"], *entry["args"]]
            continue
        config = json.loads(body)
        key = next(iter(config))  # mcpServers (Cursor), servers (VS Code), context_servers (Zed)
        entry = config[key]["lsp-ai"]
        found[key] = [entry["command"], *entry["args"]]
    return found


def test_the_readme_set_up_snippets_start_lsp_ai_mcp() -> None:
    from lsp_ai.cli import _build_parser

    commands = agent_commands()
    assert set(commands) == {"claude", "codex", "mcpServers", "servers", "context_servers"}
    for client, argv in commands.items():
        assert argv[0] == "lsp-ai", client
        args = _build_parser().parse_args(argv[1:])
        assert args.command == "mcp" and args.root and args.http is None, client
