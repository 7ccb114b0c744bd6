"""The completion engine: from a document and a cursor to a suggestion (prompt, model, cuts).

It knows nothing of requests racing each other: `completion/session.py` decides which request
runs, which is superseded and what is computed ahead.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

from lsp_ai.completion.context import cursor_context, split_at
from lsp_ai.completion.fim import choose_layout
from lsp_ai.completion.postprocess import (
    completion_shape,
    in_comment_or_string,
    open_brackets,
    postprocess,
    shape_done,
)
from lsp_ai.completion.repo_context import RepoContext
from lsp_ai.concurrency import CancelToken, CompletionFirst
from lsp_ai.inference.base import GenerationParams, TextModel, Usage
from lsp_ai.inference.slots import ModelSlot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompletionRequest:
    text: str
    line: int
    character: int
    path: str = ""  # the document's key: a file system path, or a URI for unsaved buffers
    language: str = "text"
    invoked: bool = False  # asked for explicitly (a key press), not as-you-type

    @cached_property
    def halves(self) -> tuple[str, str]:
        """The text before and after the cursor, split once per request."""
        return split_at(self.text, self.line, self.character)


@dataclass(frozen=True)
class _Shown:
    """The last suggestion per document, to answer typing-through without the model."""

    before: str  # document text before the cursor when it was computed
    after: str  # and after the cursor
    text: str


@dataclass
class _Document:
    """What the engine remembers per document between requests."""

    shown: _Shown | None = None
    first_line: int | None = None  # where the prompt's prefix started last time
    ahead: _Shown | None = None  # computed for the text as it will be once `shown` is accepted


@dataclass
class CompletionResult:
    text: str
    prompt: str = ""
    model_ms: float = 0.0
    layout: str = ""  # FIM layout name, or "cache" when typing-through answered
    usage: Usage = field(default_factory=Usage)
    context_snippets: int = 0
    notes: list[str] = field(default_factory=list)
    context_paths: tuple[str, ...] = ()  # the files the repository context came from
    stop: tuple[str, ...] = ()  # the stop strings the model ran with


# Per-document state kept for this many documents, least recently completed dropped first.
DOCUMENTS_KEPT = 64
# Prompt room kept for the template's own tokens.
TEMPLATE_TOKENS = 32
# Share of the context window (n_ctx) the character-counted budgets may fill.
HEADROOM = 0.85


class CompletionEngine:
    def __init__(
        self,
        slot: ModelSlot[TextModel],
        *,
        fim_template: str,
        max_tokens: int,
        multiline: str,
        temperature: float = 0.0,
        first: CompletionFirst | None = None,
        repo_context: RepoContext | None = None,
        repo_name: str = "",
    ) -> None:
        self._slot = slot
        self._fim_template = fim_template
        self._max_tokens = max_tokens
        self._multiline = multiline
        self._temperature = temperature
        self._first = first or CompletionFirst()
        self._context = repo_context
        self._repo_name = repo_name
        self._docs: OrderedDict[str, _Document] = OrderedDict()

    def drop_caches(self) -> None:
        """Forget per-document state (memory pressure); rebinding is safe across threads."""
        self._docs = OrderedDict()
        if self._context is not None:
            self._context.drop_caches()

    def _doc(self, key: str) -> _Document:
        doc = self._docs.pop(key, None) or _Document()
        self._docs[key] = doc
        while len(self._docs) > DOCUMENTS_KEPT:
            self._docs.popitem(last=False)
        return doc

    def complete(self, req: CompletionRequest, cancel: CancelToken) -> CompletionResult:
        """Blocking; run it in the completion executor. Raises Cancelled when superseded."""
        before, after = req.halves
        doc = self._doc(req.path)
        if (cached := self._typed_through(doc.shown, before, after)) is not None:
            return CompletionResult(cached, layout="cache", notes=["typing-through: no model"])
        if (ahead := doc.ahead) is not None and (ahead.before, ahead.after) == (before, after):
            doc.shown, doc.ahead = ahead, None
            return CompletionResult(ahead.text, layout="speculative", notes=["computed ahead"])
        line_prefix = before.rsplit("\n", 1)[-1]
        if not req.invoked and in_comment_or_string(line_prefix, req.language):
            return CompletionResult("", notes=["cursor in a comment or string"])
        result = self._generate(req, doc, cancel)
        if result.text:
            doc.shown = _Shown(before, after, result.text)
        return result

    def speculate(self, req: CompletionRequest, shown: str, cancel: CancelToken) -> bool:
        """Compute, while the user reads `shown`, the suggestion that follows accepting it.

        Runs in the completion executor after a suggestion was returned; a newer request on
        the document cancels it. Whether or not it is used, it leaves the accepted text in
        the KV cache. Returns whether a suggestion is ready.
        """
        before, after = req.halves
        doc = self._doc(req.path)
        if doc.shown is None or (doc.shown.before, doc.shown.text) != (before, shown):
            return False  # the document moved on
        accepted = before + shown
        last = accepted.rpartition("\n")[2]
        line = accepted.count("\n")
        if in_comment_or_string(last, req.language):
            return False
        ahead = CompletionRequest(accepted + after, line, len(last), req.path, req.language)
        result = self._generate(ahead, doc, cancel, urgent=False)
        doc.ahead = _Shown(accepted, after, result.text) if result.text else None
        return doc.ahead is not None

    @staticmethod
    def _typed_through(shown: _Shown | None, before: str, after: str) -> str | None:
        """The rest of the last suggestion, if the user has been typing exactly its start."""
        if shown is None or after != shown.after or not before.startswith(shown.before):
            return None
        typed = before[len(shown.before) :]
        if not typed or not shown.text.startswith(typed) or typed == shown.text:
            return None
        return shown.text[len(typed) :]

    def _generate(
        self, req: CompletionRequest, doc: _Document, cancel: CancelToken, urgent: bool = True
    ) -> CompletionResult:
        """`urgent`: someone waits for it, so chat pauses meanwhile (not for speculation)."""
        model = self._slot.get()
        layout = choose_layout(self._fim_template, model.fim_tokens())
        # The context window, less the answer and the template, is shared: a quarter for repository
        # context, an eighth for the suffix (FIM only: it is evaluated again on every
        # keystroke), the rest for the prefix.
        # Budgets are counted in characters (CHARS_PER_TOKEN); dense text tokenizes worse,
        # so a sixth of it is kept free.
        room = max(64, int((model.n_ctx - self._max_tokens - TEMPLATE_TOKENS) * HEADROOM))
        context_budget = room // 4 if self._context else 0
        suffix_budget = room // 8 if layout.uses_suffix else 0
        prefix_budget = room - context_budget - suffix_budget
        ctx = cursor_context(
            req.text, req.line, req.character, prefix_budget, suffix_budget, doc.first_line
        )
        doc.first_line = ctx.first_line
        snippets = (
            self._context.snippets(req.path, req.text, req.line, context_budget)
            if self._context
            else []
        )
        shape = completion_shape(ctx.line_prefix, ctx.line_suffix, self._multiline)
        # A line break stops a one-line suggestion, unless the line is still blank: then the
        # model may start by leaving it so (post-processing takes the line after).
        cut_at_newline = shape == "line" and bool(ctx.line_prefix.strip())
        stops = (*layout.stop, "\n") if cut_at_newline else layout.stop
        prompt = layout.render(
            ctx.prefix,
            ctx.suffix,
            snippets,
            path=self._display_path(req.path),
            language=req.language,
            repo=self._repo_name,
        )
        params = GenerationParams(self._max_tokens, self._temperature, stops)
        started = time.perf_counter()
        pieces: list[str] = []
        with self._first if urgent else contextlib.nullcontext():  # chat pauses meanwhile
            for piece in model.stream(prompt, params, cancel):
                pieces.append(piece)
                if "\n" in piece and shape_done("".join(pieces), shape, ctx.line_prefix):
                    break  # the rest would be cut anyway: save the tokens
        raw = "".join(pieces)
        model_ms = (time.perf_counter() - started) * 1000
        text = postprocess(
            raw,
            ctx.line_prefix,
            ctx.line_suffix,
            ctx.suffix,
            shape,
            open_brackets(ctx.prefix, req.language),
        )
        if not raw.strip():
            notes = ["the model produced no text"]
        elif not text:
            notes = [f"post-processing left nothing of {raw[:80]!r}"]
        elif len(text) < len(raw.rstrip()):
            notes = [f"cut the model's {len(raw)} characters to {len(text)}"]
        else:
            notes = []
        usage = getattr(model, "last_usage", Usage())
        paths = tuple(dict.fromkeys(s.path for s in snippets))
        return CompletionResult(
            text,
            prompt,
            model_ms,
            layout.name,
            usage,
            context_snippets=len(snippets),
            notes=notes,
            stop=stops,
            context_paths=paths,
        )

    def _display_path(self, path: str) -> str:
        return self._context.display(path) if self._context else path.rsplit("/", 1)[-1]
