"""The assistant: the one facade every front-end calls (LSP server, CLI, MCP server, ACP agent).

A front-end parses its protocol, makes one call here and serialises the answer. Every policy
lives behind these methods, so no front-end can skip it: a private document never reaches a
prompt, every completion and chat ends as one decision record, a newer completion request
supersedes an older one and the next suggestion is computed ahead. Methods are coroutines (the
front-ends are asyncio programs; the CLI wraps a call in `asyncio.run`); blocking model and
index work runs in `Workers`, and a cancelled call stops the model's work.

Document text enters here and nowhere else, so here is where keys, tokens and private keys
pasted into it are masked (`lsp_ai.redaction`), before any prompt, recent-code excerpt or
index update sees the text. Masks keep every line's length, so the cursor and selections
the front-end sent still point at the same code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsp_ai import navigation
from lsp_ai.chat.actions import ACTIONS, COMMENTING, ActionRequest, ActionResult
from lsp_ai.chat.prompt import CurrentFile
from lsp_ai.chat.service import ChatRequest, ChatResult
from lsp_ai.completion.engine import CompletionRequest, CompletionResult
from lsp_ai.completion.session import CompletionSession
from lsp_ai.concurrency import Cancelled, CancelToken
from lsp_ai.config import Config, load_config
from lsp_ai.documents import Documents, OpenDocument, doc_key, doc_path
from lsp_ai.index.hits import SearchHit
from lsp_ai.index.service import CrawlStats
from lsp_ai.index.symbols import Symbol
from lsp_ai.inference.base import ChatMessage, ModelError
from lsp_ai.inference.factory import embedder_name
from lsp_ai.languages import has_line_comments, language_for
from lsp_ai.live_index import CrawlProgress, LiveIndex, no_progress
from lsp_ai.log_redaction import mask_credentials
from lsp_ai.models import Role
from lsp_ai.navigation import CalleesOf, CallSite, Excerpt, HitFilter, Refused, fit_budget
from lsp_ai.records import Outcome, Recorder, explain
from lsp_ai.redaction import redact, redact_text, restore
from lsp_ai.wiring import Wiring
from lsp_ai.workers import Workers

if TYPE_CHECKING:
    from lsp_ai.index.search import Root

log = logging.getLogger(__name__)

# The same message (a model server that is down fails every keystroke) is shown at most this
# often; the log has every one.
SAME_MESSAGE_EVERY_S = 60.0
MAX_SEARCH_HITS = 100
# A filtered search picks its hits from this many of the best: a path or language that none
# of them has finds nothing, even if a worse chunk elsewhere would match.
FILTERED_SEARCH_DEPTH = 300
# How long a caller that needs a complete index waits for a first build before it is answered
# from what is indexed so far (Codex CLI gives a tool call 60 s by default).
READY_WAIT_S = 45.0
READY_POLL_S = 0.25
T = TypeVar("T")


class Level(IntEnum):
    """How loud a notice is; the numbers are LSP's MessageType."""

    ERROR = 1
    WARNING = 2
    INFO = 3


Notify = Callable[[Level, str], None]


class BadRequest(ValueError):
    """A request the assistant refuses; the message names the problem and the fix."""


@dataclass(frozen=True)
class ChatQuery:
    message: str
    session_id: str | None = None
    uri: str | None = None  # the document the user is in, if any
    text: str | None = None  # its text as the front-end has it
    line: int | None = None
    character: int | None = None


@dataclass(frozen=True)
class ActionQuery:
    action: str  # one of chat.actions.ACTIONS
    uri: str
    text: str  # the whole document
    first_line: int  # the selection, whole lines, 0-based inclusive
    last_line: int


@dataclass(frozen=True)
class IndexSummary:
    files: int
    chunks: int
    crawl: CrawlStats | None
    skipped: Counter[str]
    read_only: bool = False  # another process writes this index: nothing was indexed here
    writer: int | None = None  # the pid of the process that writes it, when known


@dataclass(frozen=True)
class IndexStatus:
    """The index as a coding agent needs to know it: how much, how fresh, who writes it."""

    roots: list[Path]
    files: int
    chunks: int
    pending: int  # edits, file events and a crawl not yet in the index
    building: tuple[int, int] | None  # a first build in progress: (files done, files in all)
    model: str | None  # the embedding model the index was built with
    last_update: float | None  # epoch seconds of the last commit, by any process
    read_only: bool  # another process writes the index; this one follows it
    writer: int | None


class Assistant:
    def __init__(
        self,
        roots: Sequence[Path],
        *,
        init_options: dict[str, Any] | None = None,
        recorder: Recorder | None = None,
        notify: Notify | None = None,
        crawl_progress: Callable[[], Awaitable[CrawlProgress]] = no_progress,
        models: dict[Role, Any] | None = None,
    ) -> None:
        """`models`: ready models by role instead of the configured ones (tests' stand-ins)."""
        roots = list(roots) or [Path.cwd()]
        self._init_options = init_options or {}
        shown = notify or _log_notice
        # What the user is shown (config problems, backend errors) may quote a credential.
        self._notify: Notify = lambda level, message: shown(level, mask_credentials(message))
        self._shown_at: dict[str, float] = {}
        cfg, problems = load_config(roots[0], init_options=self._init_options)
        # A damaged index is moved aside and rebuilt: worth a warning, not an error.
        self.wiring = Wiring(
            cfg, roots, models, on_index_damage=lambda message: self._notify(Level.WARNING, message)
        )
        self.workers = Workers()
        self.recorder = recorder or Recorder(str(roots[0]))
        self.documents = Documents(lambda path: self.wiring.index.private_reason(path))
        self.live = LiveIndex(
            self.wiring,
            self.workers,
            crawl_progress,
            on_failure=lambda message: self._notify(Level.ERROR, message),
        )
        self.completions = CompletionSession(
            self.workers,
            self.recorder,
            lambda: self.wiring.completion,
            speculative=lambda: self.wiring.config.completion.speculative,
            user_typed=self.wiring.activity.touch,
            on_backend_error=self._backend_error,
            model_text=redact,
        )
        for problem in [*problems, *self.wiring.problems]:
            self._config_problem(problem)

    @property
    def config(self) -> Config:
        return self.wiring.config

    @property
    def roots(self) -> list[Path]:
        return self.wiring.roots

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, roles: Iterable[Role] = tuple(Role)) -> None:
        """Load `roles`' models in the background, start the governor and the first crawl.

        The embedder too: every search and chat needs it for the query, even when the index
        itself re-opened without it. A front-end leaves out the models it never uses (the
        MCP server all but the embedder, the ACP agent the completion model): a model once
        loaded stays until the governor unloads it.
        """
        self.wiring.models.warm(*roles)
        self.wiring.governor.start()
        self.live.crawl()

    def close(self) -> None:
        self.live.stop()
        self.workers.shutdown()
        self.wiring.close()
        self.recorder.close()

    async def apply_config(self, settings: dict[str, Any] | None) -> list[str]:
        """Re-read the layered configuration with the client's `settings` on top."""
        cfg, problems = load_config(
            self.roots[0], init_options=self._init_options, settings=settings
        )
        for problem in problems:
            self._config_problem(problem)
        changed = self.wiring.apply_config(cfg)
        if changed:
            log.info("configuration reloaded: %s", ", ".join(changed))
        if "index" in changed:
            self.live.crawl()
        return changed

    def set_roots(self, roots: Sequence[Path]) -> None:
        self.wiring.set_roots(roots)
        self.live.crawl()

    # -- documents ---------------------------------------------------------------------------

    def document_opened(self, uri: str, text: str) -> OpenDocument:
        doc = self.documents.open(uri)
        if doc.private is not None:
            name = doc.path.name if doc.path else uri
            log.info("%s is %s: no completions or chat context from it", name, doc.private)
        else:
            self.wiring.recent.note(doc.key, redact(text), 0)
        return doc

    def document_changed(self, uri: str, text: str, edited_line: int | None = None) -> None:
        """The buffer is now `text`; `edited_line` is where the last change started."""
        doc = self.documents.get(uri)
        if doc is None or doc.path is None:
            return  # never opened (the client is out of step), or an unsaved buffer
        self.wiring.activity.touch()
        if edited_line is not None:
            doc.edited_line = edited_line
        if doc.private is None:  # a private buffer is never indexed
            self.live.edited(doc, text)  # masked once the user pauses, not on every keystroke

    async def document_saved(self, uri: str) -> None:
        if (path := doc_path(uri)) is not None:
            await self.live.saved(path, uri)

    def document_closed(self, uri: str) -> None:
        self.live.closed(uri)
        self.completions.forget(uri)
        self.documents.close(uri)

    # -- completion --------------------------------------------------------------------------

    async def complete(
        self, uri: str, text: str, line: int, character: int, invoked: bool = False
    ) -> CompletionResult | None:
        """A suggestion at a 0-based (line, character) in code points, or None.

        None when there is nothing to show or a newer request on the document took over.
        """
        req = CompletionRequest(text, line, character, doc_key(uri), language_for(uri), invoked)
        return await self.completions.complete(uri, req, self.documents.private(uri))

    # -- chat and code actions ---------------------------------------------------------------

    async def chat(
        self,
        query: ChatQuery,
        on_delta: Callable[[str], None] = lambda _text: None,
        on_stage: Callable[[str], None] = lambda _stage: None,
    ) -> ChatResult:
        """Answer from the codebase, streaming `on_delta` (called from a worker thread)."""
        req = ChatRequest(query.message, query.session_id, self._current_file(query))
        started = time.perf_counter()
        chat = self.wiring.chat
        try:
            result = await self.workers.run(
                self.workers.chat,
                lambda tok: chat.chat(req, on_delta, tok, on_stage),
                CancelToken(),
            )
        except (Cancelled, asyncio.CancelledError) as exc:
            ms = round((time.perf_counter() - started) * 1000, 3)
            self.recorder.chat(Outcome.CANCELLED, {"server_ms": ms})
            raise asyncio.CancelledError() from exc
        except ModelError as exc:
            self._backend_error(str(exc))
            self.recorder.chat(Outcome.BACKEND_ERROR, {"error": str(exc)})
            raise
        fields: dict[str, Any] = {
            "session": result.session_id,
            "server_ms": round((time.perf_counter() - started) * 1000, 3),
            "timings_ms": {k: round(v, 3) for k, v in result.timings_ms.items()},
            "prompt_tokens": result.prompt_tokens,
            "sources": len(result.sources),
            **result.retrieval,
        }
        self.recorder.chat(Outcome.ANSWERED, fields, list(result.messages))
        return result

    def _current_file(self, query: ChatQuery) -> CurrentFile | None:
        """The user's document as chat context, unless it is private."""
        if query.uri is None or query.text is None or self.documents.private(query.uri):
            return None
        return CurrentFile(
            self._display_path(query.uri), redact(query.text), query.line, query.character
        )

    def mentioned_file(self, uri: str, text: str | None = None) -> str | None:
        """The text chat may use from a file the user pointed at, or None.

        `text` is the front-end's own copy (an editor's embedded file or selection). Without
        one, the file is read from disk as `read_code` reads it (`navigation.read_file`: inside
        a root, by the index's rules, no symlink out), so a link can never make lsp-ai read
        `~/.ssh/id_rsa`. None for a private file (a secret, a file git ignores), whoever holds
        its text.
        """
        path = doc_path(uri)
        try:  # a symlink loop makes resolving a path raise RuntimeError
            if self.documents.private(uri) is not None:
                return None
            if text is not None:
                return text
            if path is None:
                return None
            return navigation.read_file(self.wiring.index, str(path))[1]
        except (RuntimeError, Refused) as exc:
            log.info("%s not used as chat context: %s", uri, exc)
            return None

    def chat_history(self, session_id: str) -> list[ChatMessage]:
        """The stored turns of a chat session, oldest first: the store `$/chat` and `ask` use."""
        return self.wiring.chat.sessions.history(session_id)

    def actions_for(self, uri: str) -> list[str]:
        """The code actions on offer in `uri`.

        None in a private document; those that write comments only where the language's
        comment syntax is known.
        """
        if self.documents.private(uri) is not None:
            return []
        comments = has_line_comments(language_for(uri))
        return [a for a in ACTIONS if comments or a not in COMMENTING]

    async def run_action(self, query: ActionQuery) -> ActionResult:
        if (reason := self.documents.private(query.uri)) is not None:
            raise BadRequest(
                f"{query.uri} is {reason}; lsp-ai never sends it to a model (SPEC section 5)"
            )
        masked = redact_text(query.text)
        req = ActionRequest(
            query.action,
            masked.text,
            query.first_line,
            query.last_line,
            self._display_path(query.uri),
            language_for(query.uri),
        )
        actions = self.wiring.actions
        try:
            result = await self.workers.run(
                self.workers.chat, lambda tok: actions.run(req, tok), CancelToken()
            )
        except ModelError as exc:
            self._notify(Level.ERROR, str(exc))
            raise
        if masked.found and query.action == "refactor" and result.edit is not None:
            # The rewrite replaces the selection: masks the model kept get the user's secrets
            # back, or applying it would overwrite a real key with asterisks.
            edit = result.edit
            new_text = restore(edit.new_text, query.text, masked, query.first_line, query.last_line)
            result = replace(result, edit=replace(edit, new_text=new_text))
        return result

    # -- the index ---------------------------------------------------------------------------

    async def search(
        self,
        query: str,
        k: int = 8,
        *,
        path_glob: str | None = None,
        language: str | None = None,
        max_tokens: int | None = None,
    ) -> list[SearchHit]:
        """Best-first hits. While a crawl runs, from what it has committed so far.

        `path_glob` (gitignore-style: `*.py` at any depth, `src/**` from the root) and
        `language` (a name or an extension) keep only matching hits; `max_tokens` cuts the
        list, and the last hit's code, to an estimated token budget.
        """
        if not query.strip():
            raise BadRequest("the search query is empty; pass some words or code to look for")
        if k <= 0:
            raise BadRequest(f"k must be a positive number of hits, not {k}")
        wanted = _or_bad_request(HitFilter.parse, path_glob, language)
        index, build = self.wiring.index, not self.live.crawling
        k = min(k, MAX_SEARCH_HITS)
        depth = k if wanted is None else FILTERED_SEARCH_DEPTH
        hits = await self.workers.call(
            self.workers.search, lambda: index.search(query, depth, build=build)
        )
        if wanted is not None:
            hits = wanted.keep(hits)[:k]
        return hits if max_tokens is None else _or_bad_request(fit_budget, hits, max_tokens)

    # -- code navigation (coding agents) -----------------------------------------------------

    async def find_symbol(self, name: str) -> list[Symbol]:
        """Where `name` (bare `load` or qualified `Config.load`) is defined, with signatures."""
        return await self._navigate(lambda roots: navigation.find_symbol(roots, name))

    async def callers(self, name: str) -> list[CallSite]:
        """The lines that call `name`, each with the definition it sits in."""
        return await self._navigate(lambda roots: navigation.callers(roots, name))

    async def callees(self, name: str) -> list[CalleesOf]:
        """For each definition of `name`, the workspace definitions it calls."""
        return await self._navigate(lambda roots: navigation.callees(roots, name))

    async def outline(self, path: str) -> list[Symbol]:
        """The definitions in one workspace file, in file order."""
        index = self.wiring.index
        return await self._navigate(lambda roots: navigation.outline(roots, index, path))

    async def read_code(self, path: str, start_line: int, end_line: int) -> Excerpt:
        """Lines of a workspace file (0-based, inclusive), secrets masked.

        Only a file the index may hold can be read: inside a root once symlinks are resolved,
        not a secret, not ignored, not binary or too large (BadRequest says which).
        """
        index = self.wiring.index
        return await self.workers.call(
            self.workers.search,
            lambda: _or_bad_request(navigation.read_code, index, path, start_line, end_line),
        )

    async def _navigate(self, ask: Callable[[list[Root]], T]) -> T:
        """`ask` over every root's chunks and call graph, in the search worker."""
        index, build = self.wiring.index, not self.live.crawling

        def run() -> T:
            if build:
                index.ensure_built()
            return _or_bad_request(ask, index.views())

        return await self.workers.call(self.workers.search, run)

    async def index_ready(
        self,
        report: Callable[[int, int], Awaitable[None]] | None = None,
        timeout_s: float = READY_WAIT_S,
    ) -> bool:
        """Wait while the index is first built; True when it is complete, False on timeout.

        A crawl over an index that is already there is not waited for: it only brings changed
        files up to date, and search answers from what is committed meanwhile. A first build
        has nothing committed, so an agent's first question would find nothing. `report`
        hears (files done, files in all) as the build moves.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        told = None
        while self.live.building:
            if report is not None and self.live.progress not in (None, told):
                told = self.live.progress
                await report(*told)
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(READY_POLL_S)
        return True

    async def index_status(self) -> IndexStatus:
        """What is indexed, what is pending, which process writes the index; never waits."""
        index, live = self.wiring.index, self.live

        def read() -> IndexStatus:
            # Opening an index on disk takes the writer lock if it is free: only then does
            # `writer()` know whether another process writes it.
            index.open_if_present()
            stats, writer = index.stats(), index.writer()
            stores = [idx.store for idx in index.iter_roots()]
            model = stores[0].model_name if stores else embedder_name(self.config.models.embedding)
            return IndexStatus(
                list(index.roots),
                stats["indexed_files"],
                stats["chunks"],
                live.pending,
                (live.progress or (0, 0)) if live.building else None,
                model,
                index.last_update(),
                writer["read_only"],
                writer["writer"],
            )

        return await self.workers.call(self.workers.search, read)

    def reindex(self) -> None:
        """Re-check every file in the background."""
        self.wiring.index.invalidate()
        self.live.crawl()

    async def index(self, report: Callable[[int, int], None] | None = None) -> IndexSummary:
        """Build or update the index now, and say what it did (the CLI's `lsp-ai index`)."""
        index = self.wiring.index
        files = await self.workers.call(self.workers.index, index.build, report)
        stats = index.stats()
        writer = index.writer()
        return IndexSummary(
            files,
            stats["chunks"],
            index.last_crawl,
            index.skipped_kinds(),
            writer["read_only"],
            writer["writer"],
        )

    def use_existing_index(self) -> bool:
        """Open the index if one was built, never building one (repository context only)."""
        return self.wiring.index.open_if_present()

    # -- what happened -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        recent = [
            {"id": r["id"], "kind": r["kind"], "outcome": r["outcome"], "explanation": explain(r)}
            for r in self.recorder.recent(5)
        ]
        status = self.wiring.status()
        return {
            **{k: v for k, v in status.items() if k not in ("models", "resources")},
            "pending": self.live.pending,
            "models": status["models"],
            "resources": status["resources"],
            "recent_decisions": recent,
        }

    def explain_last_completion(self, uri: str | None = None) -> tuple[str, dict[str, Any] | None]:
        """The last completion (in `uri`) in plain words, and its record."""
        entry = self.recorder.last("completion", uri)
        if entry is None:
            return "No completion has been requested" + (
                f" in {uri}" if uri else ""
            ) + " yet.", None
        return explain(entry), entry

    # -- helpers -----------------------------------------------------------------------------

    def _display_path(self, uri: str) -> str:
        """`uri` as the model sees it: relative to its workspace root, else its file name."""
        path = doc_path(uri)
        if path is None:
            return uri.rsplit("/", 1)[-1]
        where = self.wiring.index.locate(path)
        return where[1] if where is not None else path.name

    def _backend_error(self, message: str) -> None:
        """A failing model backend: logged every time, shown once a minute."""
        log.warning("%s", message)
        now = time.monotonic()
        if now - self._shown_at.get(message, -SAME_MESSAGE_EVERY_S) >= SAME_MESSAGE_EVERY_S:
            self._shown_at[message] = now
            self._notify(Level.ERROR, message)

    def _config_problem(self, problem: str) -> None:
        log.warning("configuration: %s", problem)
        self._notify(Level.WARNING, f"lsp-ai configuration: {problem}")


def _or_bad_request(ask: Callable[..., T], *args: Any) -> T:
    """`ask(*args)`, with navigation's refusal as the facade's BadRequest."""
    try:
        return ask(*args)
    except Refused as exc:
        raise BadRequest(str(exc)) from exc


def _log_notice(level: Level, message: str) -> None:
    log.log(logging.ERROR if level is Level.ERROR else logging.WARNING, "%s", message)
