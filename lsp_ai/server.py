"""The language server: a thin shell that turns LSP messages into calls on `Services`.

Each handler snapshots what it needs on the event loop, hands blocking model or index work to
an executor of its own role (so completion never queues behind a chat), and converts the
result. Handlers are async because pygls can cancel only an async handler's task; the
`CancelledError` is turned into a `CancelToken` that the worker thread checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import FeatureRequestError, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCRequestMessage, default_converter
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from lsp_ai import __version__
from lsp_ai.chat.actions import ACTIONS, COMMENTING, ActionRequest, LineEdit, action_title
from lsp_ai.chat.prompt import CurrentFile
from lsp_ai.chat.service import ChatRequest
from lsp_ai.completion.context import split_at
from lsp_ai.completion.service import CompletionRequest, CompletionResult
from lsp_ai.concurrency import Cancelled, CancelToken, LatestWins
from lsp_ai.config import Config, load_config
from lsp_ai.decisions import DecisionLog, decisions_path, explain
from lsp_ai.governor import release_heap
from lsp_ai.index.hits import SearchHit
from lsp_ai.index.watcher import WorkspaceWatcher
from lsp_ai.inference.base import ModelError
from lsp_ai.languages import has_line_comments, language_for
from lsp_ai.logs import CallbackHandler
from lsp_ai.protocol import (
    CHAT,
    CMD_CODE_ACTION,
    CMD_EXPLAIN,
    CMD_REINDEX,
    CMD_SEARCH,
    CMD_STATUS,
    CONFIG_SECTION,
    ChatParams,
    parse_chat_params,
)
from lsp_ai.services import Services
from lsp_ai.trace import CHAT_ENV, COMPLETION_ENV, Trace, completion_record

log = logging.getLogger(__name__)
T = TypeVar("T")

# How much lower the index thread's CPU priority is than the rest of the server's.
INDEX_NICE = 10
# The same error message (a model server that is down) pops up at most this often.
SAME_MESSAGE_EVERY_S = 60.0
# didChange is debounced: re-indexing on every keystroke would compete with completion.
CHANGE_DEBOUNCE_S = 0.5


def _converter() -> Any:
    """pygls' converter, accepting the pre-3.18 inline trigger kinds and raw custom params.

    Clients built on the "proposed" API (vscode-languageclient 9, some JetBrains plugins)
    send Invoked=0/Automatic=1; the final spec says Invoked=1/Automatic=2.
    """
    conv = default_converter()
    kind = lsp.InlineCompletionTriggerKind

    def structure_kind(value: Any, _: type) -> lsp.InlineCompletionTriggerKind:
        if value in (0, 1):
            return kind.Invoked
        return kind(value)

    conv.register_structure_hook(kind, structure_kind)
    # Custom methods ($/chat) get their params as plain JSON objects, not pygls' namedtuples,
    # so they can be validated key by key with clear messages.
    conv.register_structure_hook(JsonRPCRequestMessage, lambda obj, cls: cls(**obj))
    return conv


def _background_priority() -> None:
    """Run this thread (and the threads it starts, e.g. torch's) at a lower CPU priority.

    Re-embedding an edited file is the one heavy job that can overlap a completion; at nice
    10 the scheduler gives the completion most of both cores while they overlap.
    """
    with contextlib.suppress(AttributeError, OSError):  # per-thread nice: Linux only
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), INDEX_NICE)


class LspAiServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("lsp-ai", __version__, converter_factory=_converter)
        self.services: Services | None = None
        self.config = Config()
        self.init_options: dict[str, Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        # One worker per role: completion and chat each own a model, so they run side by
        # side; the index has its own so a long crawl never delays either.
        self.completion_pool = ThreadPoolExecutor(1, thread_name_prefix="completion")
        self.chat_pool = ThreadPoolExecutor(1, thread_name_prefix="chat")
        self.index_pool = ThreadPoolExecutor(
            1, thread_name_prefix="index", initializer=_background_priority
        )
        # Searches only read committed index versions, so they need not queue behind a crawl.
        self.search_pool = ThreadPoolExecutor(1, thread_name_prefix="search")
        self.latest = LatestWins()
        self.active: set[CancelToken] = set()  # model work in flight, stopped on shutdown
        self.pending_changes: dict[str, asyncio.TimerHandle] = {}
        self.background: set[asyncio.Future[None]] = set()
        self.shown_at: dict[str, float] = {}
        # Per document: the (before, after) text a speculation computes for, and its task.
        self.speculating: dict[str, tuple[str, str, asyncio.Future[None]]] = {}
        self.edited_line: dict[str, int] = {}  # per document, for the recent-code window
        # Open documents that never go into a prompt (secrets, git-ignored files), and why.
        self.private: dict[str, str] = {}
        self.trace = Trace.from_env(COMPLETION_ENV)
        self.chat_trace = Trace.from_env(CHAT_ENV)
        self.decisions = DecisionLog()  # replaced on initialize by one that also writes a file
        self.index_job: asyncio.Future[Any] | None = None
        self.watcher: WorkspaceWatcher | None = None

    def report_server_error(self, error: Exception, source: type) -> None:
        """A notification handler that failed: logged, and shown at most once a minute.

        pygls' default pops up every failure, so a client sending one bad didChange per
        keystroke would bury the user in error messages.
        """
        if source is FeatureRequestError:
            return  # the request's response carries the error
        log.error("error handling a notification: %s", error)
        self.show_now_and_then(
            f"lsp-ai: a notification failed ({error}); see the lsp-ai log", lsp.MessageType.Error
        )

    # -- helpers used by the handlers --------------------------------------------------------

    @property
    def svc(self) -> Services:
        if self.services is None:
            raise JsonRpcInvalidParams("the server is not initialized; send initialize first")
        return self.services

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        """Start background work on the loop, keeping a reference until it is done."""
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def post(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the event loop thread; worker threads never write to stdout directly."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn)

    def show(self, message: str, kind: lsp.MessageType = lsp.MessageType.Warning) -> None:
        self.post(
            lambda: self.window_show_message(lsp.ShowMessageParams(type=kind, message=message))
        )

    def show_now_and_then(
        self, message: str, kind: lsp.MessageType, every_s: float = SAME_MESSAGE_EVERY_S
    ) -> None:
        """Show `message` unless it was shown less than `every_s` ago.

        A model server that is down fails every keystroke's completion; one pop-up says it.
        """
        now = time.monotonic()
        if now - self.shown_at.get(message, -every_s) >= every_s:
            self.shown_at[message] = now
            self.show(message, kind)
        log.warning("%s", message)

    def refuse_private(self, uri: str) -> None:
        """Model work that would put a private document into a prompt is refused."""
        if (reason := self.private.get(uri)) is not None:
            raise JsonRpcInvalidParams(
                f"{uri} is {reason}; lsp-ai never sends it to a model (SPEC section 5)"
            )

    def open_document(self, uri: str) -> TextDocument:
        """A document the client opened; requests for others get a clear error."""
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            raise JsonRpcInvalidParams(
                f"document {uri} is not open; send textDocument/didOpen before asking for it"
            )
        return doc

    async def run_cancellable(
        self, pool: ThreadPoolExecutor, fn: Callable[[CancelToken], T], token: CancelToken
    ) -> T:
        """Run `fn(token)` in `pool`; if this task is cancelled, cancel the token too."""
        loop = asyncio.get_running_loop()
        self.active.add(token)
        try:
            return await loop.run_in_executor(pool, fn, token)
        except asyncio.CancelledError:
            token.cancel("$/cancelRequest")
            raise
        finally:
            self.active.discard(token)

    def apply_config(self, settings: dict[str, Any] | None) -> None:
        root = self.svc.roots[0] if self.services else None
        cfg, problems = load_config(root, init_options=self.init_options, settings=settings)
        for problem in problems:
            log.warning("configuration: %s", problem)
            self.show(f"lsp-ai configuration: {problem}")
        self.config = cfg
        if self.services is not None:
            changed = self.services.apply_config(cfg)
            if changed:
                log.info("configuration reloaded: %s", ", ".join(changed))
                if "index" in changed:
                    self.start_indexing()

    def watch(self, svc: Services) -> None:
        """Follow changes made outside the editor; restarted when roots or the index change."""
        if self.watcher is not None:
            self.watcher.stop()
        pool = self.index_pool

        def apply(changed: set[Path], deleted: set[Path]) -> None:
            for path in sorted(deleted):
                pool.submit(svc.index.remove_file, path)
            for path in sorted(changed):
                pool.submit(svc.after_completions, svc.index.update_file, path)

        dbs = [idx.db_dir for idx in svc.index.iter_roots()]
        self.watcher = WorkspaceWatcher(svc.roots, apply, ignore_dirs=dbs)
        self.watcher.start()

    def start_indexing(self) -> None:
        """Build the index in the background with `Indexing` work-done progress."""
        if self.index_job is not None and not self.index_job.done():
            return
        self.index_job = asyncio.ensure_future(self._index_with_progress())

    async def _index_with_progress(self) -> None:
        svc = self.svc
        token = f"lsp-ai-index-{uuid.uuid4().hex[:8]}"
        progress = self.work_done_progress
        supported = bool(
            self.client_capabilities.window and self.client_capabilities.window.work_done_progress
        )
        stop = threading.Event()  # the progress bar's cancel button stops the crawl
        if supported:
            try:
                await progress.create_async(token)
                progress.begin(
                    token,
                    lsp.WorkDoneProgressBegin(title="Indexing", percentage=0, cancellable=True),
                )
                if (created := progress.tokens.get(token)) is not None:
                    created.add_done_callback(lambda f: stop.set() if f.cancelled() else None)
            except Exception:
                supported = False
        last = [-1]

        def report(done: int, total: int) -> None:
            pct = int(done * 100 / total) if total else 100
            if supported and pct != last[0]:
                last[0] = pct
                msg = f"{done}/{total} files"
                self.post(
                    lambda: progress.report(
                        token, lsp.WorkDoneProgressReport(message=msg, percentage=pct)
                    )
                )

        loop = asyncio.get_running_loop()
        try:
            count = await loop.run_in_executor(
                self.index_pool, lambda: svc.index.build(report, stop)
            )
            message = "indexing cancelled" if stop.is_set() else f"{count} files indexed"
            release_heap()  # a crawl leaves ~1 GB of freed heap that glibc would keep
            self.watch(svc)
        except OSError as exc:  # a read-only index folder, a full disk: the message says the fix
            message = f"indexing failed: {exc}"
            log.error("%s", message)
            self.show(f"lsp-ai: {message}", lsp.MessageType.Error)
        except Exception as exc:  # indexing trouble is reported, never fatal
            log.exception("indexing failed")
            message = f"indexing failed: {exc}"
        if supported:
            progress.end(token, lsp.WorkDoneProgressEnd(message=message))
        log.info("indexing: %s", message)


server = LspAiServer()

# -- lifecycle -------------------------------------------------------------------------------


def _roots(params: lsp.InitializeParams) -> list[Path]:
    uris = [f.uri for f in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    paths = [Path(p) for u in uris if (p := to_fs_path(u))]
    if not paths and params.root_path:
        paths = [Path(params.root_path)]
    return paths or [Path.cwd()]


@server.feature(lsp.INITIALIZE)
async def on_initialize(ls: LspAiServer, params: lsp.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    opts = params.initialization_options
    ls.init_options = opts if isinstance(opts, dict) else {}
    roots = _roots(params)
    cfg, problems = load_config(roots[0], init_options=ls.init_options)
    ls.config = cfg
    ls.services = Services(cfg, roots)
    ls.decisions = DecisionLog(str(roots[0]), decisions_path())
    for problem in [*problems, *ls.services.problems]:
        log.warning("configuration: %s", problem)
        ls.show(f"lsp-ai configuration: {problem}")

    def forward(record: logging.LogRecord, text: str) -> None:
        level = (
            lsp.MessageType.Error
            if record.levelno >= logging.ERROR
            else lsp.MessageType.Warning
            if record.levelno >= logging.WARNING
            else lsp.MessageType.Info
        )
        ls.post(lambda: ls.window_log_message(lsp.LogMessageParams(type=level, message=text)))

    # At debug level (LSP_AI_LOG_LEVEL=debug, --debug) every decision reaches the editor too.
    debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    level = logging.DEBUG if debug else logging.INFO
    logging.getLogger("lsp_ai").addHandler(CallbackHandler(forward, level))
    log.info("lsp-ai %s serving %s", __version__, ", ".join(map(str, roots)))


@server.feature(lsp.INITIALIZED)
async def on_initialized(ls: LspAiServer, params: lsp.InitializedParams) -> None:
    # Models load in background threads; the first request waits only if it comes early.
    # The embedder too: every search and chat needs it for the query, even when the index
    # itself re-opened without it.
    ls.svc.warm("completion", "chat", "embedding")
    ls.svc.governor.start()
    ls.start_indexing()
    caps = ls.client_capabilities.workspace
    if caps and caps.configuration:
        try:
            items = [lsp.ConfigurationItem(section=CONFIG_SECTION)]
            result = await ls.workspace_configuration_async(lsp.ConfigurationParams(items=items))
            if result and isinstance(result[0], dict) and result[0]:
                ls.apply_config(result[0])
        except Exception:
            log.debug("workspace/configuration pull failed", exc_info=True)


@server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def on_change_configuration(
    ls: LspAiServer, params: lsp.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if not isinstance(settings, dict) or not settings:
        # Pull-style clients send null and expect us to ask.
        try:
            items = [lsp.ConfigurationItem(section=CONFIG_SECTION)]
            result = await ls.workspace_configuration_async(lsp.ConfigurationParams(items=items))
            settings = result[0] if result and isinstance(result[0], dict) else None
        except Exception:
            settings = None
    ls.apply_config(settings)


@server.feature(lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
def on_change_folders(ls: LspAiServer, params: lsp.DidChangeWorkspaceFoldersParams) -> None:
    roots = [Path(p) for f in ls.workspace.folders.values() if (p := to_fs_path(f.uri))]
    ls.svc.set_roots(roots)
    ls.start_indexing()


@server.feature(lsp.SHUTDOWN)
def on_shutdown(ls: LspAiServer, params: None) -> None:
    for handle in ls.pending_changes.values():
        handle.cancel()
    for token in list(ls.active):
        token.cancel("shutdown")  # worker threads finish their current token and return
    if ls.watcher is not None:
        ls.watcher.stop()
    for pool in (ls.completion_pool, ls.chat_pool, ls.index_pool, ls.search_pool):
        pool.shutdown(wait=False, cancel_futures=True)
    if ls.services is not None:
        ls.services.governor.stop()
        ls.services.close()


# -- documents -------------------------------------------------------------------------------


def _doc_path(uri: str) -> Path | None:
    path = to_fs_path(uri)
    return Path(path) if path and uri.startswith("file:") else None


def _doc_key(uri: str) -> str:
    """How services name a document: its file system path, or the URI of an unsaved buffer."""
    path = _doc_path(uri)
    return str(path) if path else uri


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def on_open(ls: LspAiServer, params: lsp.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    path = _doc_path(doc.uri)
    if path is not None and (reason := ls.svc.index.private_reason(path)) is not None:
        ls.private[doc.uri] = reason
        log.info("%s is %s: no completions or chat context from it", path.name, reason)
        return
    ls.private.pop(doc.uri, None)
    ls.svc.recent.note(_doc_key(doc.uri), doc.text, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE, lsp.SaveOptions(include_text=False))
async def on_save(ls: LspAiServer, params: lsp.DidSaveTextDocumentParams) -> None:
    if (path := _doc_path(params.text_document.uri)) is None:
        return
    if (handle := ls.pending_changes.pop(params.text_document.uri, None)) is not None:
        handle.cancel()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(ls.index_pool, ls.svc.index.update_file, path)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def on_change(ls: LspAiServer, params: lsp.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    if (path := _doc_path(uri)) is None or ls.loop is None:
        return
    if (handle := ls.pending_changes.pop(uri, None)) is not None:
        handle.cancel()
    ls.svc.activity.touch()
    for change in params.content_changes:
        if isinstance(change, lsp.TextDocumentContentChangePartial):
            ls.edited_line[uri] = change.range.start.line

    def flush() -> None:
        ls.pending_changes.pop(uri, None)
        doc = ls.workspace.text_documents.get(uri)
        if doc is not None and uri not in ls.private:
            text = doc.source  # snapshot on the loop thread
            ls.svc.recent.note(str(path), text, ls.edited_line.get(uri, 0))
            svc = ls.svc
            ls.index_pool.submit(svc.after_completions, svc.index.update_file, path, text)

    ls.pending_changes[uri] = ls.loop.call_later(CHANGE_DEBOUNCE_S, flush)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def on_close(ls: LspAiServer, params: lsp.DidCloseTextDocumentParams) -> None:
    if (handle := ls.pending_changes.pop(params.text_document.uri, None)) is not None:
        handle.cancel()
    ls.edited_line.pop(params.text_document.uri, None)
    ls.speculating.pop(params.text_document.uri, None)
    ls.private.pop(params.text_document.uri, None)


# -- completion ------------------------------------------------------------------------------


async def _complete(
    ls: LspAiServer, uri: str, position: lsp.Position, invoked: bool
) -> CompletionResult | None:
    started = time.perf_counter()
    doc = ls.open_document(uri)
    pos = doc.position_codec.position_from_client_units(doc.lines, position)
    where = {"uri": uri, "line": pos.line, "character": pos.character, "invoked": invoked}
    if (reason := ls.private.get(uri)) is not None:
        # No suggestions in a secret: its text would go into the prompt.
        _decided(ls, where, "private", started, reason=reason)
        return None
    language = language_for(uri)
    req = CompletionRequest(doc.source, pos.line, pos.character, _doc_key(uri), language, invoked)
    await _join_speculation(ls, uri, doc.source, pos.line, pos.character)
    token = ls.latest.start(uri)  # a newer request on this document cancels older ones
    ls.svc.activity.touch()  # the user is typing: background indexing waits
    ran = False

    def work(tok: CancelToken) -> CompletionResult:
        nonlocal ran
        tok.raise_if_cancelled()  # replaced while it queued: it never reaches the model
        ran = True
        return ls.svc.completion.complete(req, tok)

    outcome, result, error = "error", None, ""
    try:
        result = await ls.run_cancellable(ls.completion_pool, work, token)
        outcome = "shown" if result.text else "empty"
        if (
            result.text
            and result.layout != "cache"
            and not token.cancelled  # a newer request owns the document now
            and ls.svc.config.completion.speculative
        ):
            # The token is taken here, in the same step as this answer: a request arriving
            # later cancels the speculation, never the other way round.
            ahead = ls.latest.start(uri)
            target = split_at(req.text, req.line, req.character)
            task = ls.spawn(_speculate(ls, uri, req, result.text, ahead))
            ls.speculating[uri] = (target[0] + result.text, target[1], task)
        return result
    except Cancelled:
        outcome = "superseded" if ran else "debounced"
        return None  # a newer request on this document answers instead
    except asyncio.CancelledError:
        outcome = "cancelled"  # $/cancelRequest: pygls answers RequestCancelled
        raise
    except ModelError as exc:
        error = str(exc)
        outcome = "timeout" if "timed out" in error.lower() else "backend error"
        ls.show_now_and_then(error, lsp.MessageType.Error)
        return None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        ls.latest.finish(uri, token)
        _decided(ls, where, outcome, started, result, error=error)


def _decided(
    ls: LspAiServer,
    where: dict[str, Any],
    outcome: str,
    started: float,
    result: CompletionResult | None = None,
    **extra: str,
) -> None:
    """Record what became of a completion request: the decision ring, and the opt-in trace."""
    ms = (time.perf_counter() - started) * 1000
    record = completion_record(
        uri=where["uri"],
        line=where["line"],
        character=where["character"],
        outcome=outcome,
        server_ms=ms,
        result=result,
    )
    if ls.trace is not None:
        ls.trace.write(record)
    record.pop("prompt", None)  # prompts stay in the opt-in trace only
    ls.decisions.record("completion", {**record, "invoked": where["invoked"], **extra})


async def _speculate(
    ls: LspAiServer, uri: str, req: CompletionRequest, shown: str, token: CancelToken
) -> None:
    """Compute the suggestion that follows accepting `shown`, ahead of time.

    A request for any other text of the document cancels it; the request that comes right
    after accepting `shown` waits for it instead (`_join_speculation`).
    """
    try:
        await ls.run_cancellable(
            ls.completion_pool, lambda tok: ls.svc.completion.speculate(req, shown, tok), token
        )
    except (Cancelled, ModelError, RuntimeError):  # RuntimeError: the pool shut down
        pass
    finally:
        ls.latest.finish(uri, token)


async def _join_speculation(
    ls: LspAiServer, uri: str, text: str, line: int, character: int
) -> None:
    """If a speculation for exactly this text and cursor is running, let it finish."""
    running = ls.speculating.pop(uri, None)
    if running is None:
        return
    before, after, task = running
    if task.done() or split_at(text, line, character) != (before, after):
        return
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.cancelled():  # this request was cancelled, not the speculation
            raise


@server.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions())
async def inline_completion(
    ls: LspAiServer, params: lsp.InlineCompletionParams
) -> lsp.InlineCompletionList:
    invoked = params.context.trigger_kind == lsp.InlineCompletionTriggerKind.Invoked
    result = await _complete(ls, params.text_document.uri, params.position, invoked)
    if result is None or not result.text:
        return lsp.InlineCompletionList(items=[])
    doc = ls.open_document(params.text_document.uri)
    codec = doc.position_codec
    at = codec.position_to_client_units(
        doc.lines, codec.position_from_client_units(doc.lines, params.position)
    )
    return lsp.InlineCompletionList(
        items=[lsp.InlineCompletionItem(insert_text=result.text, range=lsp.Range(start=at, end=at))]
    )


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", "("]))
async def completion(ls: LspAiServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    context = params.context
    invoked = context is not None and context.trigger_kind == lsp.CompletionTriggerKind.Invoked
    result = await _complete(ls, params.text_document.uri, params.position, invoked)
    if result is None or not result.text:
        return lsp.CompletionList(is_incomplete=True, items=[])
    doc = ls.open_document(params.text_document.uri)
    codec = doc.position_codec
    # A position past the end of a line or of the document means its end (LSP clamps).
    pos = codec.position_from_client_units(doc.lines, params.position)
    here = codec.position_to_client_units(doc.lines, pos)
    head = doc.lines[pos.line][: pos.character] if pos.line < len(doc.lines) else ""
    word = head[len(head.rstrip("_" + "".join(c for c in head if c.isalnum()))) :]
    # Editors filter items by the word before the cursor, so the edit starts at that word.
    start = codec.position_to_client_units(
        doc.lines, lsp.Position(line=pos.line, character=pos.character - len(word))
    )
    first_line = result.text.split("\n", 1)[0].strip() or result.text.strip()
    item = lsp.CompletionItem(
        label=(word + first_line)[:80],
        kind=lsp.CompletionItemKind.Text,
        detail="lsp-ai",
        filter_text=word + result.text,
        sort_text="0",
        insert_text_format=lsp.InsertTextFormat.PlainText,
        text_edit=lsp.TextEdit(range=lsp.Range(start=start, end=here), new_text=word + result.text),
    )
    return lsp.CompletionList(is_incomplete=True, items=[item])


# -- chat ------------------------------------------------------------------------------------


@server.feature(CHAT)
async def chat(ls: LspAiServer, params: Any) -> dict[str, Any]:
    try:
        p: ChatParams = parse_chat_params(params)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    current = None
    if p.uri is not None and p.uri not in ls.private:  # a secret's text never enters a prompt
        doc = ls.open_document(p.uri)
        path = _doc_path(p.uri)
        rel = path.name if path else p.uri
        if path is not None and (where := ls.svc.index.locate(path)) is not None:
            rel = where[1]
        current = CurrentFile(rel, doc.source, p.line, p.character)
    req = ChatRequest(p.message, p.session_id, current)

    def delta(text: str) -> None:
        if p.partial_token is not None:
            value = lsp.ProgressParams(token=p.partial_token, value={"delta": text})
            ls.post(lambda: ls.protocol.notify(lsp.PROGRESS, value))

    work = p.work_done_token
    progress = ls.work_done_progress
    if work is not None:
        progress.begin(work, lsp.WorkDoneProgressBegin(title="lsp-ai chat", cancellable=True))

    def stage(message: str) -> None:
        if work is not None:
            ls.post(lambda: progress.report(work, lsp.WorkDoneProgressReport(message=message)))

    token = CancelToken()
    started = time.perf_counter()
    outcome = "failed"
    try:
        result = await ls.run_cancellable(
            ls.chat_pool, lambda tok: ls.svc.chat.chat(req, delta, tok, stage), token
        )
        outcome = "answered"
    except (Cancelled, asyncio.CancelledError) as exc:
        outcome = "cancelled"
        raise asyncio.CancelledError() from exc
    except ModelError as exc:
        ls.show_now_and_then(str(exc), lsp.MessageType.Error)  # editors may not show errors
        ls.decisions.record("chat", {"outcome": "backend error", "error": str(exc)})
        raise JsonRpcInternalError(str(exc)) from exc
    finally:
        if work is not None:
            ls.post(lambda: progress.end(work, lsp.WorkDoneProgressEnd()))
        if outcome == "cancelled":
            ms = (time.perf_counter() - started) * 1000
            ls.decisions.record("chat", {"outcome": "cancelled", "server_ms": round(ms, 3)})
    record = {
        "session": result.session_id,
        "server_ms": round((time.perf_counter() - started) * 1000, 3),
        "timings_ms": {k: round(v, 3) for k, v in result.timings_ms.items()},
        "prompt_tokens": result.prompt_tokens,
        "sources": len(result.sources),
        **result.retrieval,
    }
    if ls.chat_trace is not None:
        ls.chat_trace.write({**record, "messages": result.messages})
    ls.decisions.record("chat", {"outcome": "answered", **record})
    return result.to_json()


# -- commands --------------------------------------------------------------------------------


@server.command(CMD_SEARCH)
async def cmd_search(ls: LspAiServer, *args: Any) -> list[dict[str, Any]]:
    if not args or not isinstance(args[0], str) or not args[0].strip():
        raise JsonRpcInvalidParams(
            "lsp-ai.search takes [query, k?]: query must be a non-empty string"
        )
    k = args[1] if len(args) > 1 else 8
    if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
        raise JsonRpcInvalidParams("lsp-ai.search: k must be a positive integer")
    # While the background crawl runs (a first index, or one resuming after a crash) the
    # answer comes from what it has committed so far, instead of after it.
    crawling = ls.index_job is not None and not ls.index_job.done()
    index = ls.svc.index

    def search() -> list[SearchHit]:
        return index.search(args[0], min(k, 100), build=not crawling)

    hits = await asyncio.get_running_loop().run_in_executor(ls.search_pool, search)
    return [h.to_json() for h in hits]


@server.command(CMD_REINDEX)
def cmd_reindex(ls: LspAiServer, *args: Any) -> dict[str, Any]:
    ls.svc.index.invalidate()
    ls.start_indexing()
    return {"started": True}


@server.command(CMD_STATUS)
def cmd_status(ls: LspAiServer, *args: Any) -> dict[str, Any]:
    pending = len(ls.pending_changes) + int(ls.index_job is not None and not ls.index_job.done())
    recent = [
        {"id": r["id"], "kind": r["kind"], "outcome": r["outcome"], "explanation": explain(r)}
        for r in ls.decisions.recent(5)
    ]
    return {**ls.svc.status(pending), "recentDecisions": recent}


@server.command(CMD_EXPLAIN)
def cmd_explain(ls: LspAiServer, *args: Any) -> dict[str, Any]:
    uri = args[0] if args else None
    if uri is not None and not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{CMD_EXPLAIN} takes [uri?]: uri must be a string")
    entry = ls.decisions.last("completion", uri)
    if entry is None:
        text = "No completion has been requested" + (f" in {uri}" if uri else "") + " yet."
    else:
        text = explain(entry)
    # Commands run from a palette show no result: the explanation also comes as a message.
    ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Info, message=text))
    return {"text": text, "decision": entry}


# -- code actions ----------------------------------------------------------------------------

_ACTION_KINDS = {
    "explain": lsp.CodeActionKind.Refactor,  # adds a comment: not a rewrite of the code
    "docstring": lsp.CodeActionKind.RefactorRewrite,
    "refactor": lsp.CodeActionKind.RefactorRewrite,
}


def _wanted(kind: lsp.CodeActionKind, only: list[str] | None) -> bool:
    return not only or any(kind.value == o or kind.value.startswith(f"{o}.") for o in only)


@server.feature(
    lsp.TEXT_DOCUMENT_CODE_ACTION,
    lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.Refactor, lsp.CodeActionKind.RefactorRewrite]
    ),
)
def code_action(ls: LspAiServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    """Explain, docstring and refactor on a selection.

    Each runs as a command that applies its own edit, so the model runs only for the action
    the user picks (and clients without codeAction/resolve get them too).
    """
    r = params.range
    if r.start == r.end or params.text_document.uri in ls.private:
        return []
    only = [str(getattr(k, "value", k)) for k in params.context.only or []]
    where = {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }
    return [
        lsp.CodeAction(
            title=action_title(action),
            kind=kind,
            command=lsp.Command(
                title=action_title(action),
                command=CMD_CODE_ACTION,
                arguments=[action, params.text_document.uri, where],
            ),
        )
        for action, kind in _ACTION_KINDS.items()
        if _wanted(kind, only)
        and (action not in COMMENTING or has_line_comments(language_for(params.text_document.uri)))
    ]


def _parse_action_args(args: tuple[Any, ...]) -> tuple[str, str, int, int]:
    usage = f"{CMD_CODE_ACTION} takes [action, uri, range]"
    try:
        action, uri, rng = args
        start, end = rng["start"], rng["end"]
        first, last = int(start["line"]), int(end["line"])
        if int(end["character"]) == 0 and last > first:
            last -= 1  # a selection ending at the start of a line does not include that line
    except (ValueError, TypeError, KeyError) as exc:
        raise JsonRpcInvalidParams(f"{usage}, range as LSP Range JSON") from exc
    if action not in ACTIONS or not isinstance(uri, str) or first < 0 or last < first:
        raise JsonRpcInvalidParams(f"{usage}: action one of {', '.join(ACTIONS)}, a valid range")
    return action, uri, first, last


def _line_edit(doc: TextDocument, lines: list[str], e: LineEdit) -> lsp.TextEdit:
    """A whole-line edit as an LSP TextEdit, in the client's position units."""
    last = len(lines) - 1
    # The end of the document, in the client's units (UTF-16 by default), not code points.
    eof = doc.position_codec.position_to_client_units(
        lines, lsp.Position(line=last, character=len(lines[last]))
    )
    new_text = e.new_text
    if e.start_line > last:  # an insertion after the last line, which has no newline
        return lsp.TextEdit(
            range=lsp.Range(start=eof, end=eof), new_text="\n" + new_text.rstrip("\n")
        )
    start = lsp.Position(line=e.start_line, character=0)
    if e.end_line > last:  # through the last line: nothing after it to keep
        return lsp.TextEdit(range=lsp.Range(start=start, end=eof), new_text=new_text.rstrip("\n"))
    end = lsp.Position(line=e.end_line, character=0)
    return lsp.TextEdit(range=lsp.Range(start=start, end=end), new_text=new_text)


@server.command(CMD_CODE_ACTION)
async def cmd_code_action(ls: LspAiServer, *args: Any) -> dict[str, Any]:
    action, uri, first, last = _parse_action_args(args)
    doc = ls.open_document(uri)
    ls.refuse_private(uri)
    version, text = doc.version, doc.source
    path = _doc_path(uri)
    where = ls.svc.index.locate(path) if path else None
    req = ActionRequest(
        action, text, first, last, where[1] if where else uri.rsplit("/", 1)[-1], language_for(uri)
    )
    try:
        result = await ls.run_cancellable(
            ls.chat_pool, lambda tok: ls.svc.actions.run(req, tok), CancelToken()
        )
    except ModelError as exc:
        ls.show(str(exc), lsp.MessageType.Error)
        raise JsonRpcInternalError(str(exc)) from exc
    if result.edit is None:
        ls.show(f"{action_title(action)}: the model gave nothing usable; try again")
        return {"applied": False, "content": result.content}
    edit = _line_edit(doc, text.split("\n"), result.edit)
    caps = ls.client_capabilities.workspace
    versioned = bool(caps and caps.workspace_edit and caps.workspace_edit.document_changes)
    workspace_edit = (
        # The client refuses a versioned edit if the user changed the file meanwhile.
        lsp.WorkspaceEdit(
            document_changes=[
                lsp.TextDocumentEdit(
                    text_document=lsp.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=version
                    ),
                    edits=[edit],
                )
            ]
        )
        if versioned
        else lsp.WorkspaceEdit(changes={uri: [edit]})
    )
    answer = await ls.workspace_apply_edit_async(
        lsp.ApplyWorkspaceEditParams(edit=workspace_edit, label=action_title(action))
    )
    return {"applied": bool(answer and answer.applied), "content": result.content}
