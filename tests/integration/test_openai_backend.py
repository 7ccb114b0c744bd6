"""The OpenAI-compatible backend against a real server, started here on 127.0.0.1.

The server is llama-cpp-python's own `python -m llama_cpp.server`, serving the embedded SmolLM2.

Error paths a real server will not produce on demand (a 500, a stream cut in half) use a
small HTTP server on 127.0.0.1 that answers exactly that.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_ai.concurrency import Cancelled, CancelToken
from lsp_ai.inference.base import GenerationParams, ModelError
from lsp_ai.inference.openai_compat import OpenAIEmbedder, OpenAIModel
from tests.harness.llama_server import free_port, start_llama_server, stop

pytest.importorskip("llama_cpp.server.app", reason="pip install 'llama-cpp-python[server]'")


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    port = free_port()
    proc = start_llama_server(port)
    yield f"http://127.0.0.1:{port}/v1"
    stop(proc)


def model(url: str) -> OpenAIModel:
    return OpenAIModel(url, role="chat", model="smollm2", n_ctx=2048)


def test_completion_streams_from_the_server(server_url: str) -> None:
    m = model(server_url)
    text = "".join(m.stream("def add(a, b):\n    return", GenerationParams(8), CancelToken()))
    assert text.strip()
    assert m.last_usage.generated_tokens >= 1


def test_chat_streams_several_deltas(server_url: str) -> None:
    m = model(server_url)
    messages = [{"role": "user", "content": "Name three colours."}]
    deltas = list(m.stream_chat(messages, GenerationParams(24), CancelToken()))  # type: ignore[arg-type]
    assert len(deltas) > 1 and "".join(deltas).strip()


def test_cancel_closes_the_stream_and_the_server_keeps_serving(server_url: str) -> None:
    m = model(server_url)
    cancel = CancelToken()
    messages = [{"role": "user", "content": "Write a long story about a lighthouse."}]
    received = []
    with pytest.raises(Cancelled):
        for delta in m.stream_chat(messages, GenerationParams(400), cancel):  # type: ignore[arg-type]
            received.append(delta)
            if len(received) == 3:
                cancel.cancel("test")
    assert len(received) == 3
    # The same server answers the next request.
    after = "".join(m.stream("def add(a, b):\n    return", GenerationParams(8), CancelToken()))
    assert after.strip()


def test_cancel_while_the_server_is_still_reading_the_prompt(server_url: str) -> None:
    m = model(server_url)
    cancel = CancelToken()
    threading.Timer(0.05, cancel.cancel).start()
    prompt = "\n".join(f"value_{i} = {i} * {i}" for i in range(120))  # ~1,300 tokens
    with pytest.raises(Cancelled):
        list(m.stream(prompt, GenerationParams(32), cancel))


def test_an_unreachable_server_names_the_role_and_the_fix() -> None:
    m = OpenAIModel(f"http://127.0.0.1:{free_port()}/v1", role="completion", model="x")
    with pytest.raises(ModelError) as info:
        list(m.stream("x", GenerationParams(4), CancelToken()))
    assert "models.completion" in str(info.value) and "base_url" in str(info.value)


def test_a_wrong_path_is_reported_with_the_settings_to_check(server_url: str) -> None:
    m = OpenAIModel(server_url.removesuffix("/v1") + "/nope", role="chat", model="x")
    with pytest.raises(ModelError) as info:
        list(m.stream("x", GenerationParams(4), CancelToken()))
    assert "404" in str(info.value) and "models.chat.model" in str(info.value)


def test_embeddings_from_the_server(tmp_path: Path) -> None:
    port = free_port()
    proc = start_llama_server(port, "--embedding", "true")
    try:
        emb = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", model="smollm2")
        vectors = emb.embed(["def add(a, b): return a + b", "colour of the sky"], "document")
        assert len(vectors) == 2 and len(vectors[0]) == emb.dimension > 0
    finally:
        stop(proc)


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers every POST with what the test put in `reply`: (status, headers, body)."""

    reply: tuple[int, dict[str, str], bytes] = (200, {}, b"")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers, body = self.reply
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def scripted() -> Iterator[tuple[str, type[_Scripted]]]:
    handler = type("Handler", (_Scripted,), {})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", handler
    httpd.shutdown()


def test_a_server_error_is_reported(scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.reply = (500, {"Content-Type": "application/json"}, b'{"error": {"message": "boom"}}')
    with pytest.raises(ModelError, match=r"failed \(500: boom\)"):
        list(model(url).stream("x", GenerationParams(4), CancelToken()))


def test_a_stream_cut_short_is_an_error(scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    event = b'data: {"choices": [{"text": "hel"}]}\n\n'
    handler.reply = (200, {"Content-Type": "text/event-stream"}, event)  # and no [DONE]
    got = []
    with pytest.raises(ModelError, match="ended before it was complete"):
        for piece in model(url).stream("x", GenerationParams(4), CancelToken()):
            got.append(piece)
    assert got == ["hel"]
