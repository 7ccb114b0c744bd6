"""The inference seam: what completion, chat and the index need from a model.

Every backend (in-process llama.cpp, an OpenAI-compatible server, sentence-transformers)
implements these Protocols. Streaming is the primitive; a whole answer is a joined stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict

from lsp_ai.concurrency import CancelToken


class ModelError(Exception):
    """A model that cannot be loaded or used; the message names the role and the fix."""

    @classmethod
    def from_os_error(cls, message: str, exc: OSError) -> ModelError:
        """`message`, as a `ModelTimeout` when the socket timed out."""
        return (ModelTimeout if isinstance(exc, TimeoutError) else cls)(message)


class ModelTimeout(ModelError):
    """A model server that did not answer in time (recorded as a timeout, not a failure)."""


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 64
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    # Small models loop on their own phrases in long answers; a mild penalty breaks that.
    repeat_penalty: float = 1.0
    # Called between batches of a long prompt's evaluation; it may block. Chat passes one that
    # waits while a completion runs, so keystrokes do not share the CPU with its prompt.
    between_batches: Callable[[], None] | None = None


@dataclass(frozen=True)
class FimTokens:
    """The special tokens a fill-in-the-middle model was trained with."""

    prefix: str
    suffix: str
    middle: str
    style: str  # psm: prefix-suffix-middle order used by the template


@dataclass(frozen=True)
class Usage:
    """What the last generation cost, for benchmarks and traces."""

    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens the KV cache already held: not evaluated again
    generated_tokens: int = 0
    first_token_ms: float = 0.0  # prompt evaluation plus the first token
    total_ms: float = 0.0

    @property
    def evaluated_tokens(self) -> int:
        return self.prompt_tokens - self.cached_tokens


class TextModel(Protocol):
    """A generative model in one role (completion or chat)."""

    name: str
    last_usage: Usage  # of the last finished or stopped generation

    @property
    def n_ctx(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def fim_tokens(self) -> FimTokens | None: ...

    def stream(
        self, prompt: str, params: GenerationParams, cancel: CancelToken
    ) -> Iterator[str]: ...

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Iterator[str]: ...

    def describe(self) -> dict[str, object]: ...


class Embedder(Protocol):
    """Turns text into vectors; queries and documents may take different prefixes."""

    name: str

    @property
    def dimension(self) -> int: ...

    def embed(
        self, texts: Sequence[str], kind: Literal["query", "document"]
    ) -> list[list[float]]: ...


def join_stream(chunks: Iterator[str]) -> str:
    """The non-streaming call is the stream, joined."""
    return "".join(chunks)
