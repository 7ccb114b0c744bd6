"""RAG chat: retrieve, build the prompt, stream the answer, return it with its sources.

`$/chat` and `lsp-ai ask` both call `ChatService.chat`; only the way deltas are delivered
differs (LSP `$/progress` vs stdout).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsp_ai.chat.prompt import CurrentFile, Snippet, build_prompt
from lsp_ai.chat.session import SessionStore
from lsp_ai.chat.stream import paced_stream
from lsp_ai.concurrency import CancelToken, CompletionFirst
from lsp_ai.index.hits import Retriever
from lsp_ai.inference.base import ChatMessage, TextModel
from lsp_ai.inference.slots import ModelSlot
from lsp_ai.spans import CodeSpan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatRequest:
    message: str
    session_id: str | None = None
    current: CurrentFile | None = None


@dataclass(frozen=True)
class Source:
    """A snippet the answer was given, located for the editor (`uri`)."""

    uri: str
    span: CodeSpan
    score: float


@dataclass
class ChatResult:
    session_id: str
    content: str
    sources: list[Source]
    timings_ms: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    messages: list[ChatMessage] = field(default_factory=list)  # the prompt, for traces
    # What retrieval found, what the prompt kept, what the token budget dropped: for traces.
    retrieval: dict[str, Any] = field(default_factory=dict)


class ChatService:
    def __init__(
        self,
        slot: ModelSlot[TextModel],
        retriever: Callable[[], Retriever],
        resolve: Callable[[str], Path],
        *,
        top_k: int,
        context_tokens: int,
        max_tokens: int,
        temperature: float,
        first: CompletionFirst,
        sessions: SessionStore | None = None,
    ) -> None:
        self._slot = slot
        self._retriever = retriever
        self._resolve = resolve
        self._top_k = top_k
        self._context_tokens = context_tokens
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._first = first
        self.sessions = sessions or SessionStore(None)

    def chat(
        self,
        req: ChatRequest,
        on_delta: Callable[[str], None],
        cancel: CancelToken,
        on_stage: Callable[[str], None] = lambda _stage: None,
    ) -> ChatResult:
        """Blocking; run it in the chat executor. Raises Cancelled if the token fires."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        on_stage("Searching the codebase")
        retriever = self._retriever()
        # Call-graph neighbours of the best hits come along: the helper a function calls
        # is often what the answer needs.
        hits = retriever.search(req.message, self._top_k, expand=True)
        timings["retrieval"] = (time.perf_counter() - t0) * 1000
        cancel.raise_if_cancelled()

        on_stage("Loading the chat model")
        model = self._slot.get()
        t1 = time.perf_counter()
        session_id = req.session_id or uuid.uuid4().hex
        history = self.sessions.history(session_id)
        snippets = [Snippet(h.span, h.score) for h in hits]
        budget = min(model.n_ctx - self._max_tokens - 32, self._context_tokens)
        prompt = build_prompt(
            req.message, snippets, history, model.count_tokens, budget, req.current
        )
        timings["prompt"] = (time.perf_counter() - t1) * 1000
        log.debug(
            "chat prompt: %d tokens, %d snippets (%d dropped), %d turns dropped",
            prompt.tokens,
            len(prompt.snippets),
            prompt.dropped_snippets,
            prompt.dropped_turns,
        )

        on_stage("Generating")
        answer = paced_stream(
            model,
            prompt.messages,
            max_tokens=self._max_tokens,
            temperature=self._temperature,
            first=self._first,
            cancel=cancel,
            on_delta=on_delta,
        )
        if answer.first_token_ms is not None:
            timings["first_token"] = answer.first_token_ms
        timings["generation"] = answer.total_ms
        content = answer.text

        self.sessions.append(session_id, req.message, content)
        sources = [
            Source(self._resolve(s.span.path).as_uri(), s.span, s.score) for s in prompt.snippets
        ]
        kept = {(s.span.path, s.span.start_line) for s in prompt.snippets}
        retrieval = {
            "hits": [
                {
                    "path": h.span.path,
                    "startLine": h.span.start_line,
                    "endLine": h.span.end_line,
                    "score": round(h.score, 4),
                    "kept": (h.span.path, h.span.start_line) in kept,
                }
                for h in hits
            ],
            "dropped_snippets": prompt.dropped_snippets,
            "dropped_turns": prompt.dropped_turns,
        }
        return ChatResult(
            session_id, content, sources, timings, prompt.tokens, list(prompt.messages), retrieval
        )
