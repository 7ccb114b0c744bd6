"""`lsp-ai acp` driven through the ACP SDK's own client side, on the real embedded models.

One agent process serves the whole module (models load once): the client is the SDK's
`ClientSideConnection` with a `Client` that records every `session/update`, as an editor's
agent panel would render them. The chat trace (`LSP_AI_CHAT_TRACE`) shows what reached the
model, which is how the `.env` test knows the secret did not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import pytest_asyncio
from acp import PROTOCOL_VERSION, RequestError, spawn_agent_process
from acp.connection import StreamDirection, StreamEvent
from acp.helpers import embedded_text_resource, resource_block, resource_link_block, text_block
from acp.schema import (
    AgentMessageChunk,
    ClientCapabilities,
    Implementation,
    InitializeResponse,
    ResourceContentBlock,
    TextContentBlock,
    ToolCallProgress,
    ToolCallStart,
    UserMessageChunk,
)

from tests.harness.env import isolated_env

pytestmark = pytest.mark.e2e

SECRET = "do-not-index-me-4242"  # conftest.make_workspace writes it into .env
# Short prompts and answers keep the module fast on two cores (prompt evaluation dominates);
# enough tokens for a cancel to land mid-answer.
SETTINGS = {"models": {"chat": {"max_tokens": 64}}, "chat": {"top_k": 4}}
# The arguments Zed is told to start lsp-ai with (README, editors/zed/agent_servers.json).
ZED_ARGS = json.loads(
    (Path(__file__).parents[2] / "editors" / "zed" / "agent_servers.json").read_text()
)["agent_servers"]["lsp-ai"]["args"]
LINK = re.compile(r"^(?P<path>[^#]+)#L(?P<start>\d+):(?P<end>\d+)$")


@dataclass
class Recorder:
    """The client side: records every session/update, by session, in arrival order."""

    updates: dict[str, list[Any]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def session_update(self, session_id: str, update: Any, **_meta: Any) -> None:
        self.updates.setdefault(session_id, []).append(update)
        self.arrived.set()

    async def request_permission(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("lsp-ai runs no tools that need permission")

    def take(self, session_id: str) -> list[Any]:
        return self.updates.pop(session_id, [])


@dataclass
class Agent:
    conn: Any  # acp.ClientSideConnection
    process: asyncio.subprocess.Process
    client: Recorder
    init: InitializeResponse
    workspace: Path
    home: Path
    stderr: Path
    trace: Path
    incoming: list[dict[str, Any]]  # every raw message from the agent
    client_log: list[str]  # what the SDK's client side logged (a line it could not parse)

    async def raw(self, line: bytes, msg_id: Any, timeout: float = 30) -> dict[str, Any]:
        """Write `line` as is and wait for the answer with `msg_id` (bypassing the SDK)."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        await self.process.stdin.drain()
        async with asyncio.timeout(timeout):
            while True:
                for message in self.incoming:
                    if message.get("id") == msg_id and "method" not in message:
                        self.incoming.remove(message)
                        return message
                await asyncio.sleep(0.02)

    async def ask(self, session_id: str, *blocks: Any) -> tuple[str, list[Any]]:
        response = await self.conn.prompt(session_id=session_id, prompt=list(blocks))
        return response.stop_reason, self.client.take(session_id)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent(workspace: Path, home: Path, tmp_path_factory: Any) -> AsyncIterator[Agent]:
    logs = tmp_path_factory.mktemp("acp-logs")
    env = isolated_env(home, SETTINGS)
    env["LSP_AI_CHAT_TRACE"] = str(logs / "chat.jsonl")
    client = Recorder()
    incoming: list[dict[str, Any]] = []

    def observe(event: StreamEvent) -> None:
        if event.direction is StreamDirection.INCOMING:
            incoming.append(event.message)

    client_log: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: client_log.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    stderr = logs / "stderr.txt"
    with stderr.open("wb") as err:
        async with spawn_agent_process(
            client,
            sys.executable,
            "-m",
            "lsp_ai",
            *ZED_ARGS,
            "--root",
            str(workspace),
            env=env,
            cwd=str(workspace),
            transport_kwargs={"stderr": err, "shutdown_timeout": 10.0},
            observers=[observe],
        ) as (conn, process):
            init = await conn.initialize(
                protocol_version=PROTOCOL_VERSION,
                client_capabilities=ClientCapabilities(),
                client_info=Implementation(name="acp-test", version="0"),
            )
            yield Agent(
                conn,
                process,
                client,
                init,
                workspace,
                home,
                stderr,
                logs / "chat.jsonl",
                incoming,
                client_log,
            )
    logging.getLogger().removeHandler(handler)
    assert process.returncode == 0, stderr.read_text()[-2000:]


def texts(updates: list[Any]) -> list[str]:
    return [
        u.content.text
        for u in updates
        if isinstance(u, AgentMessageChunk) and isinstance(u.content, TextContentBlock)
    ]


def links(updates: list[Any]) -> list[ResourceContentBlock]:
    return [
        u.content
        for u in updates
        if isinstance(u, AgentMessageChunk) and isinstance(u.content, ResourceContentBlock)
    ]


def prompts_seen(agent: Agent) -> list[str]:
    """Every chat prompt the model was given, as one string each (LSP_AI_CHAT_TRACE)."""
    if not agent.trace.exists():
        return []
    records = [json.loads(line) for line in agent.trace.read_text().splitlines()]
    return [json.dumps(r["messages"]) for r in records]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def first_turn(agent: Agent) -> tuple[str, str, list[Any]]:
    """One question on a new session: (session id, stop reason, its updates)."""
    session = await agent.conn.new_session(cwd=str(agent.workspace), mcp_servers=[])
    stop, updates = await agent.ask(
        session.session_id, text_block("How does restock_item change the quantity?")
    )
    return session.session_id, stop, updates


async def test_initialize_says_what_the_agent_can_do(agent: Agent) -> None:
    init = agent.init
    assert init.protocol_version == PROTOCOL_VERSION
    assert init.agent_info is not None and init.agent_info.name == "lsp-ai"
    caps = init.agent_capabilities
    assert caps is not None and caps.load_session is True
    assert caps.prompt_capabilities is not None and caps.prompt_capabilities.embedded_context


async def test_a_malformed_request_gets_an_error_and_the_agent_keeps_serving(
    agent: Agent,
) -> None:
    reply = await agent.raw(b"this is not json", None)
    assert reply["error"]["code"] == -32700
    bad = {"jsonrpc": "2.0", "id": "bad-1", "method": "session/prompt", "params": {"sessionId": 7}}
    reply = await agent.raw(json.dumps(bad).encode(), "bad-1")
    assert reply["error"]["code"] == -32602
    message = reply["error"]["message"]
    assert "\n" not in message and "sessionId" in message and "prompt" in message
    unknown = {"jsonrpc": "2.0", "id": "bad-2", "method": "session/fly", "params": {}}
    reply = await agent.raw(json.dumps(unknown).encode(), "bad-2")
    assert reply["error"]["code"] == -32601
    with pytest.raises(RequestError) as err:
        await agent.conn.prompt(session_id="no-such-session", prompt=[text_block("hi")])
    assert "no-such-session" in str(err.value)
    # Still serving (and every later test's prompt is answered by the same process).
    session = await agent.conn.new_session(cwd=str(agent.workspace), mcp_servers=[])
    assert session.session_id


async def test_a_prompt_streams_the_answer_and_links_its_sources(
    agent: Agent, first_turn: tuple[str, str, list[Any]]
) -> None:
    _, stop, updates = first_turn
    assert stop == "end_turn"
    chunks = texts(updates)
    assert len(chunks) > 1, "the answer came in one piece, not as the model generated it"
    answer = "".join(chunks)
    assert answer.strip() and answer == answer.strip()
    sources = links(updates)
    assert sources, "no source was linked"
    for link in sources:
        m = LINK.match(link.uri)
        assert m is not None, link.uri
        path = Path(unquote(urlparse(m["path"]).path))
        start, end = int(m["start"]), int(m["end"])
        assert path.is_file() and path.is_relative_to(agent.workspace.resolve())
        assert 1 <= start <= end <= len(path.read_text().splitlines())
        rel = path.relative_to(agent.workspace.resolve()).as_posix()
        assert link.name == f"{rel}:{start}-{end}"
    assert any(link.name.startswith("shop/inventory.py:") for link in sources)


async def test_retrieval_is_a_search_tool_call_with_the_sources_locations(
    first_turn: tuple[str, str, list[Any]],
) -> None:
    _, _, updates = first_turn
    (start,) = [u for u in updates if isinstance(u, ToolCallStart)]
    assert start.kind == "search" and start.status == "pending"
    assert updates.index(start) < min(
        i for i, u in enumerate(updates) if isinstance(u, AgentMessageChunk)
    ), "the search is shown before the answer"
    progress = [u for u in updates if isinstance(u, ToolCallProgress)]
    assert all(p.tool_call_id == start.tool_call_id for p in progress)
    assert [p.status for p in progress if p.status][-1] == "completed"
    final = progress[-1]
    sources = links(updates)
    assert final.title == f"Searched the index: {len(sources)} snippets"
    assert final.locations is not None
    located = [(loc.path, loc.line) for loc in final.locations]
    linked = []
    for link in sources:
        m = LINK.match(link.uri)
        assert m is not None
        linked.append((unquote(urlparse(m["path"]).path), int(m["start"]) - 1))
    assert located == linked


async def test_load_replays_the_history_and_the_session_goes_on(
    agent: Agent, first_turn: tuple[str, str, list[Any]]
) -> None:
    session_id, _, updates = first_turn
    answer = "".join(texts(updates))
    await agent.conn.load_session(cwd=str(agent.workspace), session_id=session_id, mcp_servers=[])
    replayed = agent.client.take(session_id)
    assert [type(u) for u in replayed] == [UserMessageChunk, AgentMessageChunk]
    assert replayed[0].content.text == "How does restock_item change the quantity?"
    assert replayed[1].content.text == answer

    stop, more = await agent.ask(session_id, text_block("And what if the amount is negative?"))
    assert stop == "end_turn" and "".join(texts(more))
    # The store `$/chat` and `lsp-ai ask --session` use: the file is the one they read.
    (saved,) = [
        json.loads(f.read_text())
        for f in agent.home.rglob("sessions/*.json")
        if json.loads(f.read_text())["id"] == session_id
    ]
    assert [t["role"] for t in saved["turns"]] == ["user", "assistant"] * 2


async def test_an_unknown_session_cannot_be_loaded(agent: Agent) -> None:
    with pytest.raises(RequestError) as err:
        await agent.conn.load_session(
            cwd=str(agent.workspace), session_id="never-was", mcp_servers=[]
        )
    assert "never-was" in str(err.value) and "session/new" in str(err.value)


async def test_cancel_stops_the_answer_and_the_next_prompt_is_answered(agent: Agent) -> None:
    session = (await agent.conn.new_session(cwd=str(agent.workspace), mcp_servers=[])).session_id
    question = text_block("Explain every function of the shop package, one by one, in detail.")
    turn = asyncio.ensure_future(agent.conn.prompt(session_id=session, prompt=[question]))
    async with asyncio.timeout(120):
        while not texts(agent.client.updates.get(session, [])):
            await asyncio.sleep(0.01)
    await agent.conn.cancel(session_id=session)
    async with asyncio.timeout(10):
        response = await turn
    assert response.stop_reason == "cancelled"
    said = agent.client.take(session)
    await asyncio.sleep(1.0)
    assert not agent.client.updates.get(session), "updates came after the cancelled response"
    assert not links(said), "a cancelled answer has no sources"

    stop, updates = await agent.ask(session, text_block("What does apply_discount return?"))
    assert stop == "end_turn" and "".join(texts(updates))


async def test_a_mentioned_env_file_never_reaches_the_model(agent: Agent) -> None:
    env_file = (agent.workspace / ".env").resolve()
    pricing = (agent.workspace / "shop" / "pricing.py").resolve()
    session = (await agent.conn.new_session(cwd=str(agent.workspace), mcp_servers=[])).session_id
    before = len(prompts_seen(agent))
    # The editor embeds the file's text (what Zed sends for an @-mention) and links it.
    stop, updates = await agent.ask(
        session,
        text_block("What is in this file?"),
        resource_block(embedded_text_resource(env_file.as_uri(), env_file.read_text())),
        resource_link_block(".env", env_file.as_uri()),
    )
    assert stop == "end_turn" and "".join(texts(updates))
    # A file the facade does let through becomes the current file: the check can fail.
    stop, _ = await agent.ask(
        session, text_block("Explain this"), resource_link_block("pricing.py", pricing.as_uri())
    )
    assert stop == "end_turn"
    seen = prompts_seen(agent)[before:]
    assert len(seen) == 2
    assert SECRET not in seen[0]
    assert "</current_file>" not in seen[0]  # the system prompt names the tag; this closes one
    assert "</current_file>" in seen[1] and "def apply_discount" in seen[1]
    everything = json.dumps([repr(u) for u in updates]) + agent.stderr.read_text()
    assert SECRET not in everything


async def test_stdout_carried_only_protocol_messages(agent: Agent) -> None:
    """Logs went to stderr: every line on stdout was a JSON-RPC message (none was skipped)."""
    assert all(m.get("jsonrpc") == "2.0" for m in agent.incoming)
    assert not [m for m in agent.client_log if "JSON-RPC" in m], agent.client_log


def test_the_agent_holds_no_network_socket(agent: Agent) -> None:
    """After the whole module: every socket the agent holds is a Unix one (asyncio's self-pipe).

    Weaker than the strace jail of tests/robustness/test_privacy.py (a socket opened and
    closed in between is not seen), but it runs everywhere Linux's /proc does.
    """
    fds = Path(f"/proc/{agent.process.pid}/fd")
    if not fds.is_dir():
        pytest.skip("needs Linux /proc")
    inodes = set()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # an fd closed while listing
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    internet = set()  # the inode column of the process's TCP and UDP tables
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            rows = Path(f"/proc/{agent.process.pid}/net/{table}").read_text().splitlines()[1:]
            internet |= {row.split()[9] for row in rows if len(row.split()) > 9}
    assert inodes, "no socket at all: asyncio's self-pipe should be one, so the check is blind"
    assert not inodes & internet, "the agent holds an internet socket"
