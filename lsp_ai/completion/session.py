"""Which completion request runs: latest wins, speculation ahead, one decision per request.

Editors ask on every pause in typing; only the newest request on a document can still be
shown, so an older one is cancelled (superseded while the model runs, debounced while it
queues). After a suggestion is shown, the one that follows its acceptance is computed ahead;
the request that comes right after accepting waits for it instead of starting over. Every
request, whatever becomes of it, ends as one record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lsp_ai.completion.engine import CompletionEngine, CompletionRequest, CompletionResult
from lsp_ai.concurrency import Cancelled, CancelToken, LatestWins
from lsp_ai.inference.base import ModelError, ModelTimeout
from lsp_ai.records import Outcome, Recorder
from lsp_ai.workers import Workers


@dataclass(frozen=True)
class _Ahead:
    """A speculation in flight: for this text around the cursor, computed by `task`."""

    before: str
    after: str
    task: asyncio.Future[None]


class CompletionSession:
    def __init__(
        self,
        workers: Workers,
        recorder: Recorder,
        engine: Callable[[], CompletionEngine],
        *,
        speculative: Callable[[], bool],
        user_typed: Callable[[], None],
        on_backend_error: Callable[[str], None],
        model_text: Callable[[str], str] = lambda text: text,
    ) -> None:
        """`model_text`: the document as a model may see it (secrets masked, same length).

        It runs in the completion worker, not on the event loop: it reads the whole document,
        and the loop must stay free for the next keystroke.
        """
        self._workers = workers
        self._recorder = recorder
        self._engine = engine  # looked up per request: a config change may replace it
        self._speculative = speculative
        self._user_typed = user_typed
        self._on_backend_error = on_backend_error
        self._model_text = model_text
        self._latest = LatestWins()
        self._ahead: dict[str, _Ahead] = {}

    async def complete(
        self, uri: str, req: CompletionRequest, private: str | None
    ) -> CompletionResult | None:
        """The suggestion for `req`, or None; raises CancelledError on $/cancelRequest."""
        started = time.perf_counter()
        where = {"uri": uri, "line": req.line, "character": req.character, "invoked": req.invoked}
        if private is not None:  # no suggestions in a secret: its text would go into the prompt
            self._recorder.completion(where, Outcome.PRIVATE, _ms(started), reason=private)
            return None
        await self._join_ahead(uri, req)
        token = self._latest.start(uri)  # a newer request on this document cancels older ones
        self._user_typed()  # background indexing waits until typing pauses
        ran = False

        def work(tok: CancelToken) -> CompletionResult:
            nonlocal ran
            tok.raise_if_cancelled()  # replaced while it queued: it never reaches the model
            ran = True
            return self._engine().complete(self._for_model(req), tok)

        outcome, result, error = Outcome.ERROR, None, ""
        try:
            result = await self._workers.run(self._workers.completion, work, token)
            outcome = Outcome.SHOWN if result.text else Outcome.EMPTY
            if result.text and result.layout != "cache" and not token.cancelled:
                self._speculate(uri, req, result.text)
            return result
        except Cancelled:
            outcome = Outcome.SUPERSEDED if ran else Outcome.DEBOUNCED
            return None  # a newer request on this document answers instead
        except asyncio.CancelledError:
            outcome = Outcome.CANCELLED  # the front-end answers RequestCancelled
            raise
        except ModelError as exc:
            error = str(exc)
            outcome = Outcome.TIMEOUT if isinstance(exc, ModelTimeout) else Outcome.BACKEND_ERROR
            self._on_backend_error(error)
            return None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._latest.finish(uri, token)
            details = _details(result) if result is not None else None
            self._recorder.completion(where, outcome, _ms(started), details, error=error)

    def _for_model(self, req: CompletionRequest) -> CompletionRequest:
        """`req` as the engine may use it; the same object when nothing needed masking."""
        text = self._model_text(req.text)
        return req if text == req.text else replace(req, text=text)

    def forget(self, uri: str) -> None:
        """The document closed: drop its speculation."""
        self._ahead.pop(uri, None)

    def _speculate(self, uri: str, req: CompletionRequest, shown: str) -> None:
        """Compute, while the user reads `shown`, the suggestion that follows accepting it."""
        if not self._speculative():
            return
        # The token is taken in the same step as the answer: a request arriving later
        # cancels the speculation, never the other way round.
        token = self._latest.start(uri)
        before, after = req.halves
        task = self._workers.spawn(self._run_ahead(uri, req, shown, token))
        self._ahead[uri] = _Ahead(before + shown, after, task)

    async def _run_ahead(
        self, uri: str, req: CompletionRequest, shown: str, token: CancelToken
    ) -> None:
        try:
            await self._workers.run(
                self._workers.completion,
                lambda tok: self._engine().speculate(self._for_model(req), shown, tok),
                token,
            )
        except (Cancelled, ModelError, RuntimeError):  # RuntimeError: the pool shut down
            pass
        finally:
            self._latest.finish(uri, token)

    async def _join_ahead(self, uri: str, req: CompletionRequest) -> None:
        """If a speculation for exactly this text and cursor is running, let it finish."""
        running = self._ahead.pop(uri, None)
        if running is None or running.task.done() or req.halves != (running.before, running.after):
            return
        try:
            await asyncio.shield(running.task)
        except asyncio.CancelledError:
            if not running.task.cancelled():  # this request was cancelled, not the speculation
                raise


def _details(result: CompletionResult) -> dict[str, Any]:
    """What the engine did, for the decision record (the prompt reaches the trace only)."""
    u = result.usage
    return {
        "text": result.text,
        "layout": result.layout,
        "model_ms": round(result.model_ms, 3),
        "prompt_tokens": u.prompt_tokens,
        "cached_tokens": u.cached_tokens,
        "evaluated_tokens": u.evaluated_tokens,
        "generated_tokens": u.generated_tokens,
        "first_token_ms": round(u.first_token_ms, 3),
        "context_snippets": result.context_snippets,
        "context": list(result.context_paths),
        "notes": result.notes,
        "stop": list(result.stop),
        "prompt": result.prompt,
    }


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
