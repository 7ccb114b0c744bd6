"""Fuzzing the real server's JSON-RPC surface.

After anything a client sends, the server answers with the right JSON-RPC error (or a
correct result) and still serves a normal request.

One server serves a whole module; hypothesis drives it with broken frames, unknown methods
and params with a wrong value in every place of every method the server offers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import make_workspace
from tests.harness.env import isolated_env
from tests.harness.lsp_client import LspClient, encode, frame

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
INTERNAL_ERROR, SERVER_NOT_INITIALIZED = -32603, -32002
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI failures reproduce
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def start(root: Path, home: Path) -> LspClient:
    """The server on pipes, its stderr kept in `home`; not yet initialized."""
    return LspClient(isolated_env(home), stderr_path=home / "server.stderr")


def initialize(srv: LspClient, root: Path, options: dict[str, Any] | None = None) -> None:
    srv.initialize(root, capabilities={}, init_options=options or {})


def check_status(srv: LspClient) -> dict[str, Any]:
    """A normal request that must always work: the proof the server still serves."""
    result = srv.command("lsp-ai.status")
    assert isinstance(result, dict) and "indexedFiles" in result, result
    return result


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LspClient]:
    root = make_workspace(tmp_path_factory.mktemp("ws") / "repo")
    home = tmp_path_factory.mktemp("home")
    # Short answers keep the examples that reach the model quick.
    options = {
        "completion": {"max_tokens": 4},
        "chat": {"top_k": 2, "context_tokens": 200},
        "models": {"chat": {"max_tokens": 4}},
    }
    srv = start(root, home)
    initialize(srv, root, options)
    srv.notify("textDocument/didOpen", {"textDocument": doc_item(srv)})
    check_status(srv)
    yield srv
    srv.close()


def doc_item(srv: LspClient) -> dict[str, Any]:
    path = srv.root / "shop" / "pricing.py"
    return {"uri": path.as_uri(), "languageId": "python", "version": 1, "text": path.read_text()}


def assert_still_serves(srv: LspClient, sent_ids: set[Any]) -> list[dict[str, Any]]:
    """Ask for status; check the answers that came before it. Returns those answers."""
    status_id = srv.post("workspace/executeCommand", {"command": "lsp-ai.status"})
    answers = srv.responses_until(status_id)
    assert "result" in answers[-1], answers[-1]
    for answer in answers[:-1]:
        assert answer.get("id") is None or answer["id"] in sent_ids, answer
        if "error" in answer:
            assert answer["error"]["code"] != INTERNAL_ERROR, (answer, srv.stderr_tail())
    return answers[:-1]


# -- broken frames -------------------------------------------------------------------------

_REQUEST = json.dumps(
    {"jsonrpc": "2.0", "id": "framed", "method": "workspace/executeCommand",
     "params": {"command": "lsp-ai.status"}}
).encode()  # fmt: skip


@st.composite
def broken_frames(draw: st.DrawFn) -> bytes:
    body = draw(st.sampled_from([_REQUEST, b'{"jsonrpc": "2.0", "method": "initialized"}']))
    kind = draw(
        st.sampled_from(
            ["garbage", "short_length", "long_length", "bad_number", "no_length", "not_json"]
        )
    )
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=300))
    if kind == "short_length":
        cut = draw(st.integers(1, len(body) - 1))
        return b"Content-Length: %d\r\n\r\n" % cut + body
    if kind == "long_length":
        extra = draw(st.integers(1, 5000))
        return b"Content-Length: %d\r\n\r\n" % (len(body) + extra) + body
    if kind == "bad_number":
        value = draw(st.sampled_from([b"-5", b"abc", b"", b"1e3", b"99999999999999999999"]))
        return b"Content-Length: " + value + b"\r\n\r\n" + body
    if kind == "no_length":
        return b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" + body
    return frame(draw(st.binary(min_size=1, max_size=200)).replace(b"{", b"["))


@FUZZ
@given(data=broken_frames())
def test_broken_frames_get_errors_and_the_stream_recovers(server: LspClient, data: bytes) -> None:
    server.send_bytes(data)
    answers = assert_still_serves(server, {"framed"})
    for answer in answers:
        if answer["id"] is None:
            assert answer["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST), answer


def _envelope(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"jsonrpc": st.just("2.0"), **fields})


@FUZZ
@given(
    message=st.one_of(
        st.lists(st.integers(), max_size=3),  # a batch: LSP has none
        st.integers() | st.text() | st.none(),
        st.fixed_dictionaries({"jsonrpc": st.just("1.0"), "id": st.just(7), "method": st.text()}),
        _envelope(id=st.floats() | st.lists(st.none())),
        _envelope(id=st.just(7), method=st.integers()),
        _envelope(id=st.just(7)),
    )
)
def test_invalid_envelopes_are_invalid_requests(server: LspClient, message: Any) -> None:
    server.send_bytes(frame(json.dumps(message).encode()))
    answers = assert_still_serves(server, {7})
    assert answers and all(a["error"]["code"] == INVALID_REQUEST for a in answers), answers


@FUZZ
@given(method=st.text(min_size=1, max_size=40).filter(lambda m: m not in SERVED))
def test_unknown_methods(server: LspClient, method: str) -> None:
    msg_id = server.post(method, {})
    server.notify(method, {})  # an unknown notification is ignored
    answers = assert_still_serves(server, {msg_id})
    assert [a["error"]["code"] for a in answers] == [METHOD_NOT_FOUND], answers


# -- wrong values in every param of every method served -------------------------------------


def templates(srv: LspClient) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Valid params for every method the server serves: method -> (is_request, params)."""
    uri = doc_item(srv)["uri"]
    pos = {"line": 3, "character": 4}
    rng = {"start": {"line": 1, "character": 0}, "end": {"line": 4, "character": 0}}
    doc = {"uri": uri}
    return {
        "textDocument/inlineCompletion": (
            True, {"textDocument": doc, "position": pos, "context": {"triggerKind": 2}}),
        "textDocument/completion": (
            True, {"textDocument": doc, "position": pos, "context": {"triggerKind": 1}}),
        "textDocument/codeAction": (
            True, {"textDocument": doc, "range": rng,
                   "context": {"diagnostics": [], "only": ["refactor"]}}),
        "$/chat": (True, {"message": "what does pricing do?", "sessionId": "fuzz",
                          "textDocument": doc, "position": pos, "partialResultToken": "p"}),
        "workspace/executeCommand": (True, {"command": "lsp-ai.search", "arguments": ["price", 3]}),
        "textDocument/didChange": (
            False, {"textDocument": {"uri": uri, "version": 2},
                    "contentChanges": [{"range": rng, "text": "# edited\n"}]}),
        "textDocument/didSave": (False, {"textDocument": doc}),
        "textDocument/didClose": (False, {"textDocument": doc}),
        "textDocument/didOpen": (False, {"textDocument": doc_item(srv)}),
        "workspace/didChangeConfiguration": (
            False, {"settings": {"lsp-ai": {"completion": {"max_tokens": 4}}}}),
        "workspace/didChangeWorkspaceFolders": (
            False, {"event": {"added": [], "removed": []}}),
        "$/cancelRequest": (False, {"id": 123456}),
        "$/setTrace": (False, {"value": "off"}),
        "window/workDoneProgress/cancel": (False, {"token": "nothing"}),
    }  # fmt: skip


SERVED = {
    "initialize", "initialized", "shutdown", "exit", "textDocument/inlineCompletion",
    "textDocument/completion", "textDocument/codeAction", "$/chat", "workspace/executeCommand",
    "textDocument/didChange", "textDocument/didSave", "textDocument/didClose",
    "textDocument/didOpen", "workspace/didChangeConfiguration",
    "workspace/didChangeWorkspaceFolders", "$/cancelRequest", "$/setTrace",
    "window/workDoneProgress/cancel",
}  # fmt: skip
# Lifecycle messages end the session; they have tests of their own below.
FUZZED = sorted(SERVED - {"initialize", "initialized", "shutdown", "exit"})


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


# Hostile values of their own: lone UTF-16 surrogates (valid as JSON escapes), a string far
# over any buffer bound, and nesting past the transport's limit (64 levels).
LONE_SURROGATES = st.sampled_from(["\ud800", "x\udfff", "\udc00\ud83d"])
OVERSIZED = st.just("# " + "x" * 1_200_000)
TOO_DEEP = st.sampled_from([nested(70), nested(400)])  # deeper: tests/unit/test_transport.py
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | LONE_SURROGATES
    | OVERSIZED
)
json_values = (
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=6,
    )
    | TOO_DEEP
)


def leaf_paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value, the value itself included."""
    paths = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += leaf_paths(item, (*here, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            paths += leaf_paths(item, (*here, i))
    return paths


def mutate(params: dict[str, Any], path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    out = copy.deepcopy(params)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return out


@pytest.mark.parametrize("method", FUZZED)
def test_wrong_values_in_every_param(server: LspClient, method: str) -> None:
    is_request, params = templates(server)[method]
    paths = leaf_paths(params)

    @FUZZ
    @given(
        path=st.sampled_from(paths),
        new=json_values,
        delete=st.booleans(),
    )
    def run(path: tuple[Any, ...], new: Any, delete: bool) -> None:
        sent = mutate(params, path, new, delete and bool(path))
        if is_request:
            msg_id = server.post(method, sent)
            # Its answer first: a model run can finish after a status asked later.
            answers = server.responses_until(msg_id, timeout=60)
            assert all(a.get("id") == msg_id for a in answers), (sent, answers)
            if "error" in answers[-1]:
                # params that are not an object or array break the request itself (JSON-RPC),
                # and so does nesting past the limit, or past what the JSON reader can.
                deep = not delete and new in (nested(70), nested(400))
                allowed = (
                    (INVALID_PARAMS,)
                    if path and not deep
                    else (INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR)
                )
                assert answers[-1]["error"]["code"] in allowed, (sent, answers[-1])
            assert_still_serves(server, set())
        else:
            server.notify(method, sent)
            assert_still_serves(server, set())
        server.notify("textDocument/didOpen", {"textDocument": doc_item(server)})  # undo edits

    # Each hostile value surely once, at the deepest place, besides what hypothesis draws.
    for hostile in (nested(70), "\ud800", "# " + "x" * 1_200_000):
        run = example(path=paths[-1], new=hostile, delete=False)(run)
    run()


# -- documents never opened, positions out of range, huge messages, lifecycle ---------------


def error_code(srv: LspClient, method: str, params: Any) -> int | None:
    msg_id = srv.post(method, params)
    answer = srv.responses_until(msg_id)[-1]
    return answer["error"]["code"] if "error" in answer else None


def test_documents_never_opened_are_invalid_params(server: LspClient) -> None:
    never = {"uri": (server.root / "nowhere.py").as_uri()}
    pos = {"line": 0, "character": 0}
    for method, params in [
        ("textDocument/inlineCompletion",
         {"textDocument": never, "position": pos, "context": {"triggerKind": 1}}),
        ("textDocument/completion", {"textDocument": never, "position": pos}),
        ("$/chat", {"message": "hi", "textDocument": never}),
    ]:  # fmt: skip
        assert error_code(server, method, params) == INVALID_PARAMS, method
    server.notify("textDocument/didChange", {
        "textDocument": {"uri": never["uri"], "version": 2},
        "contentChanges": [{"text": "x = 1\n"}],
    })  # fmt: skip
    check_status(server)


@given(line=st.integers(0, 2**31 - 1), character=st.integers(0, 2**31 - 1))
@FUZZ
def test_positions_out_of_range_are_clamped(server: LspClient, line: int, character: int) -> None:
    uri = doc_item(server)["uri"]
    lines = doc_item(server)["text"].count("\n") + 1
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    msg_id = server.post("textDocument/completion", params)
    answer = server.responses_until(msg_id)[-1]
    assert "result" in answer, answer
    for item in answer["result"]["items"]:
        edit = item["textEdit"]["range"]
        assert edit["start"]["line"] < lines and edit["end"]["line"] < lines, item


def test_a_huge_document_is_served_and_an_oversized_message_refused(server: LspClient) -> None:
    big = server.root / "big_generated.py"
    text = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(400_000))  # ~11 MB
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": big.as_uri(), "languageId": "python", "version": 1, "text": text + "def g(x):\n"
    }})  # fmt: skip
    params = {"textDocument": {"uri": big.as_uri()}, "position": {"line": 800_000, "character": 9}}
    assert error_code(server, "textDocument/completion", params) is None
    server.notify("textDocument/didClose", {"textDocument": {"uri": big.as_uri()}})

    over = encode({"jsonrpc": "2.0", "id": "over", "method": "$/chat",
                   "params": {"message": "x" * (65 * 2**20)}})  # fmt: skip
    server.send_bytes(over)
    answers = assert_still_serves(server, {"over"})
    assert [a["error"]["code"] for a in answers] == [INVALID_REQUEST], answers
    assert "limit" in answers[0]["error"]["message"]


def test_a_second_initialize_is_refused(server: LspClient) -> None:
    code = error_code(server, "initialize", {"processId": None, "rootUri": None,
                                             "capabilities": {}})  # fmt: skip
    assert code == INVALID_REQUEST
    check_status(server)


def test_requests_before_initialize_and_after_shutdown(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "repo")
    srv = start(root, tmp_path)
    try:
        status = {"command": "lsp-ai.status"}
        assert error_code(srv, "workspace/executeCommand", status) == SERVER_NOT_INITIALIZED
        initialize(srv, root)
        check_status(srv)
        assert error_code(srv, "shutdown", None) is None
        assert error_code(srv, "workspace/executeCommand", status) == INVALID_REQUEST
        srv.notify("exit", None)
        assert srv.proc.wait(timeout=20) == 0
    finally:
        srv.close()
