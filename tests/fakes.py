"""Stand-in models for unit tests of plumbing: they count calls and can be held mid-answer.

What the real models produce is tested end to end with the embedded models; these answer the
question "did the assistant call the model, how often, and for what?".
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lsp_ai.concurrency import CancelToken
from lsp_ai.inference.base import ChatMessage, FimTokens, GenerationParams, Usage
from lsp_ai.models import Role


class CountingModel:
    """A text model that answers `answer` (for completion and chat) and counts its calls.

    `hold()` makes the next generations wait until `release()`, so a test can have a request
    in flight while it sends another.
    """

    name = "counting"
    n_ctx = 512

    def __init__(self, answer: str = "x") -> None:
        self.answer = answer
        self.calls = 0
        self.prompts: list[str] = []
        self.last_usage = Usage()
        self._open = threading.Event()
        self._open.set()
        self.started = threading.Event()  # set when a generation starts

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def fim_tokens(self) -> FimTokens | None:
        return None

    def _answer(self, prompt: str, cancel: CancelToken) -> Iterator[str]:
        self.calls += 1
        self.prompts.append(prompt)
        self.started.set()
        while not self._open.wait(0.01):
            cancel.raise_if_cancelled()
        cancel.raise_if_cancelled()
        yield from _words(self.answer)

    def stream(self, prompt: str, params: GenerationParams, cancel: CancelToken) -> Iterator[str]:
        yield from self._answer(prompt, cancel)

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Iterator[str]:
        yield from self._answer("\n".join(m["content"] for m in messages), cancel)

    def describe(self) -> dict[str, object]:
        return {"backend": "counting"}


def _words(text: str) -> Iterator[str]:
    """The answer in pieces that join back to it exactly (a stream of several deltas)."""
    parts = text.split(" ")
    for i, part in enumerate(parts):
        yield part if i == len(parts) - 1 else part + " "


class HashEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words land near each other."""

    name = "hash-embedder"
    dimension = 32

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str], kind: str) -> list[list[float]]:
        self.calls += 1
        out = []
        for text in texts:
            vec = [0.0] * self.dimension
            for word in text.lower().split():
                vec[hashlib.sha1(word.encode()).digest()[0] % self.dimension] += 1.0
            norm = sum(v * v for v in vec) ** 0.5 or 1.0
            out.append([v / norm for v in vec])
        return out


@dataclass
class StandIns:
    """One stand-in per model role, for an `Assistant(models=...)` or a `Wiring`."""

    completion: CountingModel
    chat: CountingModel
    embedder: HashEmbedder

    def by_role(self) -> dict[Role, Any]:
        return {
            Role.COMPLETION: self.completion,
            Role.CHAT: self.chat,
            Role.EMBEDDING: self.embedder,
        }


def stand_ins(completion: str = "x", chat: str = "x") -> StandIns:
    chat_model = CountingModel(chat)
    chat_model.n_ctx = 8192  # room for retrieved snippets in a chat prompt
    return StandIns(CountingModel(completion), chat_model, HashEmbedder())


def private_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty `repo` folder; the index cache and the user config file point into tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LSP_AI_CONFIG", str(tmp_path / "no-user-config.toml"))
    root = tmp_path / "repo"
    root.mkdir()
    return root
