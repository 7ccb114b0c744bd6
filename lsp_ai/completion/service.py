"""The completion engine shared by inline completion, plain completion and `lsp-ai complete`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from lsp_ai.completion.context import cursor_context, split_at
from lsp_ai.completion.fim import choose_layout
from lsp_ai.completion.postprocess import in_comment_or_string, postprocess, wants_multiline
from lsp_ai.concurrency import CancelToken, Gate
from lsp_ai.inference.base import GenerationParams, TextModel
from lsp_ai.inference.slots import ModelSlot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompletionRequest:
    text: str
    line: int
    character: int
    path: str = ""
    language: str = "text"
    invoked: bool = False  # asked for explicitly (a key press), not as-you-type


@dataclass(frozen=True)
class _Shown:
    """The last suggestion per document, to answer typing-through without the model."""

    before: str  # document text before the cursor when it was computed
    after: str  # and after the cursor
    text: str


@dataclass
class CompletionResult:
    text: str
    prompt_chars: int = 0
    model_ms: float = 0.0
    layout: str = ""
    notes: list[str] = field(default_factory=list)


class CompletionService:
    def __init__(
        self,
        slot: ModelSlot[TextModel],
        *,
        fim_template: str,
        max_tokens: int,
        multiline: str,
        temperature: float = 0.0,
        gate: Gate | None = None,
    ) -> None:
        self._slot = slot
        self._fim_template = fim_template
        self._max_tokens = max_tokens
        self._multiline = multiline
        self._temperature = temperature
        self._gate = gate or Gate()
        self._shown: dict[str, _Shown] = {}

    def complete(self, req: CompletionRequest, cancel: CancelToken) -> CompletionResult:
        """Blocking; run it in the completion executor. Raises Cancelled when superseded."""
        before, after = split_at(req.text, req.line, req.character)
        if (cached := self._typed_through(req.path, before, after)) is not None:
            return CompletionResult(cached, layout="cache", notes=["typing-through: no model"])
        line_prefix = before.rsplit("\n", 1)[-1]
        if not req.invoked and in_comment_or_string(line_prefix, req.language):
            return CompletionResult("", notes=["cursor in a comment or string"])
        result = self._generate(req, cancel)
        if result.text:
            self._shown[req.path] = _Shown(before, after, result.text)
        return result

    def _typed_through(self, key: str, before: str, after: str) -> str | None:
        """The rest of the last suggestion, if the user has been typing exactly its start."""
        shown = self._shown.get(key)
        if shown is None or after != shown.after or not before.startswith(shown.before):
            return None
        typed = before[len(shown.before) :]
        if not typed or not shown.text.startswith(typed) or typed == shown.text:
            return None
        return shown.text[len(typed) :]

    def _generate(self, req: CompletionRequest, cancel: CancelToken) -> CompletionResult:
        model = self._slot.get()
        layout = choose_layout(self._fim_template, model.fim_tokens())
        # Half the window for the prefix, a quarter for the suffix (FIM only), the rest
        # for generation and template tokens.
        prefix_budget = model.n_ctx // 2
        suffix_budget = model.n_ctx // 4 if layout.uses_suffix else 0
        ctx = cursor_context(req.text, req.line, req.character, prefix_budget, suffix_budget)
        multiline = wants_multiline(ctx.line_prefix, ctx.line_suffix, self._multiline)
        stops = layout.stop if multiline else (*layout.stop, "\n")
        prompt = layout.render(ctx.prefix, ctx.suffix)
        params = GenerationParams(self._max_tokens, self._temperature, stops)
        started = time.perf_counter()
        with self._gate:  # chat pauses while this runs
            raw = "".join(model.stream(prompt, params, cancel))
        model_ms = (time.perf_counter() - started) * 1000
        text = postprocess(raw, ctx.line_prefix, ctx.line_suffix, ctx.suffix, multiline)
        notes = [] if text else [f"post-processing left nothing of {raw!r}"]
        return CompletionResult(text, len(prompt), model_ms, layout.name, notes)
