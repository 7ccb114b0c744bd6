"""Any OpenAI-compatible server as a model role: llama-server, Ollama, LM Studio, vLLM.

Plain `http.client` on purpose: a request runs in the role's worker thread, and a cancel must
stop it at once, even while the server is still evaluating the prompt and nothing is being
read. A watcher shuts the socket down when the cancel token fires, which makes the blocked
read return. Connection failures are retried with backoff before any byte of an answer has
arrived; after that, an error is the answer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from lsp_ai.concurrency import Cancelled, CancelToken
from lsp_ai.inference.base import ChatMessage, FimTokens, GenerationParams, ModelError, Usage
from lsp_ai.log_redaction import mask_credentials

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # a big prompt on a busy CPU server takes a while to start answering
RETRIES = 3
BACKOFF_S = (0.2, 0.5, 1.0)
CHARS_PER_TOKEN = 3.5  # no tokenizer on this side: budgets are estimated


class Endpoint:
    """One base URL (`http://127.0.0.1:8080/v1`) and how to talk to it."""

    def __init__(self, base_url: str, api_key: str, role: str) -> None:
        if not base_url:
            raise ModelError(
                f'models.{role}.base_url is required with backend = "openai", '
                'e.g. "http://127.0.0.1:8080/v1" (llama-server) or "http://127.0.0.1:11434/v1" '
                "(Ollama)"
            )
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelError(f"models.{role}.base_url: {base_url!r} is not an http(s) URL")
        self.url = base_url.rstrip("/")
        self.role = role
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/") or "/v1"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def _connect(self, cancel: CancelToken | None) -> http.client.HTTPConnection:
        """A connected socket, retrying refused or timed-out connects with backoff."""
        last: OSError | None = None
        for attempt in range(RETRIES + 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            conn_cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = conn_cls(self._host, self._port, timeout=CONNECT_TIMEOUT_S)
            try:
                conn.connect()
                if conn.sock is not None:
                    conn.sock.settimeout(READ_TIMEOUT_S)
                return conn
            except OSError as exc:
                last = exc
                conn.close()
                if attempt < RETRIES:
                    if cancel is not None and cancel.wait(BACKOFF_S[min(attempt, 2)]):
                        raise Cancelled(cancel.reason) from exc
                    if cancel is None:
                        time.sleep(BACKOFF_S[min(attempt, 2)])
        message = (
            f"models.{self.role}: cannot reach {self.url} ({last}); start the server or fix "
            f"models.{self.role}.base_url"
        )
        raise ModelError.from_os_error(message, last) if last else ModelError(message)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, cancel: CancelToken | None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = self._connect(cancel)
        data = json.dumps(body).encode() if body is not None else None
        try:
            conn.request(method, self._prefix + path, body=data, headers=self._headers)
            resp = conn.getresponse()
        except OSError as exc:
            conn.close()
            if cancel is not None and cancel.cancelled:
                raise Cancelled(cancel.reason) from exc
            raise ModelError.from_os_error(
                f"models.{self.role}: {self.url} dropped the request ({exc})", exc
            ) from exc
        if resp.status >= 400:
            detail = mask_credentials(_error_text(resp.read()))  # servers may echo the key back
            conn.close()
            raise ModelError(self._http_error(resp.status, detail, body))
        return conn, resp

    def _http_error(self, status: int, detail: str, body: dict[str, Any] | None) -> str:
        key = f"models.{self.role}"
        model = (body or {}).get("model", "")
        if status in (401, 403):
            return (
                f"{key}: {self.url} refused the request ({status}: {detail}); check {key}.api_key"
            )
        if status == 404 or ("model" in detail.lower() and status == 400):
            return (
                f"{key}: {self.url} answered {status} ({detail}); check that {key}.model "
                f"({model!r}) is a model that server serves, and the base_url's path"
            )
        return f"{key}: the server at {self.url} failed ({status}: {detail})"

    def get_json(self, path: str) -> Any:
        conn, resp = self._send("GET", path, None, None)
        try:
            return json.loads(resp.read())
        finally:
            conn.close()

    def post_json(self, path: str, body: dict[str, Any], cancel: CancelToken | None) -> Any:
        conn, resp = self._send("POST", path, body, cancel)
        try:
            with _CancelWatch(conn, cancel):
                raw = resp.read()
        except OSError as exc:
            if cancel is not None and cancel.cancelled:
                raise Cancelled(cancel.reason) from exc
            raise ModelError.from_os_error(
                f"models.{self.role}: reading from {self.url} failed ({exc})", exc
            ) from exc
        finally:
            conn.close()
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ModelError(f"models.{self.role}: {self.url} sent something not JSON") from exc

    def stream(
        self, path: str, body: dict[str, Any], cancel: CancelToken
    ) -> Iterator[dict[str, Any]]:
        """The `data:` events of a server-sent-events answer, until `[DONE]`."""
        conn, resp = self._send("POST", path, {**body, "stream": True}, cancel)
        done = False
        try:
            with _CancelWatch(conn, cancel):
                while True:
                    try:
                        line = resp.readline()
                    except OSError as exc:
                        if cancel.cancelled:
                            raise Cancelled(cancel.reason) from exc
                        raise ModelError.from_os_error(
                            f"models.{self.role}: the stream from {self.url} broke ({exc})", exc
                        ) from exc
                    cancel.raise_if_cancelled()
                    if not line:
                        break
                    text = line.decode("utf-8", "replace").strip()
                    if not text.startswith("data:"):
                        continue
                    payload = text[5:].strip()
                    if payload == "[DONE]":
                        done = True
                        break
                    try:
                        event = json.loads(payload)
                    except ValueError:
                        continue
                    if "error" in event:
                        raise ModelError(
                            f"models.{self.role}: {self.url}: {_error_text(payload.encode())}"
                        )
                    yield event
        finally:
            conn.close()
        if not done:
            raise ModelError(
                f"models.{self.role}: the stream from {self.url} ended before it was complete"
            )


class _CancelWatch:
    """Shut the socket down when `cancel` fires, so a read blocked in another call returns."""

    def __init__(self, conn: http.client.HTTPConnection, cancel: CancelToken | None) -> None:
        self._conn = conn
        self._cancel = cancel
        self._done = threading.Event()

    def __enter__(self) -> None:
        if self._cancel is not None:
            threading.Thread(target=self._watch, daemon=True, name="http-cancel").start()

    def _watch(self) -> None:
        assert self._cancel is not None
        while not self._done.is_set():
            if self._cancel.wait(0.05):
                sock = self._conn.sock
                if sock is not None and not self._done.is_set():
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    def __exit__(self, *exc: object) -> None:
        self._done.set()


def _pooled(embedding: Any) -> list[float]:
    """A text's vector; servers running a model without pooling send one per token: average."""
    if embedding and isinstance(embedding[0], list):
        n = len(embedding)
        return [sum(col) / n for col in zip(*embedding, strict=True)]
    return [float(x) for x in embedding]


def _error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:300] or "no details"
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        return str(err.get("message") or err)[:300]
    return str(err)[:300]


class OpenAIModel:
    """A completion or chat role served over HTTP."""

    def __init__(
        self,
        base_url: str,
        *,
        role: str,
        model: str,
        api_key: str = "",
        n_ctx: int = 2048,
        fim: FimTokens | None = None,
    ) -> None:
        self.endpoint = Endpoint(base_url, api_key, role)
        self.role = role
        self.name = model
        self._n_ctx = n_ctx
        self._fim = fim
        self.last_usage = Usage()

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        return int(len(text) / CHARS_PER_TOKEN) + 1

    def fim_tokens(self) -> FimTokens | None:
        return self._fim

    def describe(self) -> dict[str, object]:
        return {
            "backend": "openai",
            "base_url": self.endpoint.url,
            "model": self.name,
            "n_ctx": self._n_ctx,
            "fim": self._fim.style if self._fim else None,
        }

    def stream(self, prompt: str, params: GenerationParams, cancel: CancelToken) -> Iterator[str]:
        body = {"model": self.name, "prompt": prompt, **self._sampling(params)}
        return self._run("/completions", body, cancel, lambda c: c.get("text"))

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Iterator[str]:
        body = {"model": self.name, "messages": list(messages), **self._sampling(params)}
        return self._run(
            "/chat/completions", body, cancel, lambda c: (c.get("delta") or {}).get("content")
        )

    @staticmethod
    def _sampling(params: GenerationParams) -> dict[str, Any]:
        out: dict[str, Any] = {"max_tokens": params.max_tokens, "temperature": params.temperature}
        if params.stop:
            out["stop"] = list(params.stop)[:4]  # the OpenAI API takes at most four
        if params.repeat_penalty != 1.0:
            out["repeat_penalty"] = params.repeat_penalty  # llama-server and vLLM know it
        return out

    def _run(
        self, path: str, body: dict[str, Any], cancel: CancelToken, pick: Any
    ) -> Iterator[str]:
        started = time.perf_counter()
        first_ms = 0.0
        pieces = 0
        usage: dict[str, Any] = {}
        try:
            for event in self.endpoint.stream(path, body, cancel):
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    text = pick(choice)
                    if text:
                        if not pieces:
                            first_ms = (time.perf_counter() - started) * 1000
                        pieces += 1
                        yield text
        finally:
            self.last_usage = Usage(
                prompt_tokens=int(usage.get("prompt_tokens", 0) or 0),
                generated_tokens=int(usage.get("completion_tokens", pieces) or pieces),
                first_token_ms=first_ms,
                total_ms=(time.perf_counter() - started) * 1000,
            )

    def close(self) -> None:
        pass


class OpenAIEmbedder:
    """Embeddings from `/v1/embeddings`.

    The dimension is learned from one probe, on first use rather than at load, so a server
    that is down when lsp-ai starts only delays indexing until it is back.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str = "",
        query_prefix: str = "",
        document_prefix: str = "",
        batch: int = 32,
    ) -> None:
        self.endpoint = Endpoint(base_url, api_key, "embedding")
        self.name = model
        self._prefix = {"query": query_prefix, "document": document_prefix}
        self._batch = batch
        self._dimension: int | None = None

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self._request(["dimension probe"])[0])
        return self._dimension

    def embed(self, texts: Sequence[str], kind: str) -> list[list[float]]:
        prefix = self._prefix[kind]
        out: list[list[float]] = []
        for i in range(0, len(texts), self._batch):
            out.extend(self._request([prefix + t for t in texts[i : i + self._batch]]))
        return out

    def _request(self, inputs: list[str]) -> list[list[float]]:
        data = self.endpoint.post_json("/embeddings", {"model": self.name, "input": inputs}, None)
        try:
            rows = sorted(data["data"], key=lambda d: d.get("index", 0))
            vectors = [_pooled(row["embedding"]) for row in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"models.embedding: {self.endpoint.url} answered /embeddings without vectors; "
                "is models.embedding.model an embedding model?"
            ) from exc
        if len(vectors) != len(inputs):
            raise ModelError(
                f"models.embedding: {self.endpoint.url} returned {len(vectors)} "
                f"vectors for {len(inputs)} texts"
            )
        return vectors
