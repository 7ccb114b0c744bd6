"""The pygls server object: the assistant it serves, and the few things every handler needs.

It holds no policy and no per-document state: that is the assistant's. What stays here is
LSP plumbing: messages go out on the event loop thread only (worker threads never write to
stdout), user-facing notices become `window/showMessage`, and a failing notification handler
is logged instead of popping up on every keystroke.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, MutableSequence, Sequence
from typing import Any, get_args, get_origin

from cattrs.cols import homogenous_tuple_structure_factory, list_structure_factory
from lsprotocol import types as lsp
from pygls.exceptions import FeatureRequestError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCRequestMessage, default_converter
from pygls.workspace import TextDocument

from lsp_ai import __version__
from lsp_ai.assistant import Assistant, Level

log = logging.getLogger(__name__)


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
    conv.register_structure_hook_factory(_is_array, lambda t: _array_hook(t, conv))
    # Custom methods ($/chat) get their params as plain JSON objects, not pygls' namedtuples,
    # so they can be validated key by key with clear messages.
    conv.register_structure_hook(JsonRPCRequestMessage, lambda obj, cls: cls(**obj))
    return conv


def _is_array(t: Any) -> bool:
    origin = get_origin(t)
    homogeneous_tuple = origin is tuple and get_args(t)[-1:] == (Ellipsis,)
    return origin in (list, Sequence, MutableSequence) or homogeneous_tuple


def _array_hook(t: Any, conv: Any) -> Callable[[Any, Any], Any]:
    """cattrs' own hook for an array type, refusing a string or an object outright.

    cattrs iterates whatever it is given, so a string sent where an array belongs was taken
    apart character by character, with one error each: a 1 MB string cost minutes and blocked
    the server.
    """
    mutable = get_origin(t) in (list, MutableSequence)
    inner = (list_structure_factory if mutable else homogenous_tuple_structure_factory)(t, conv)

    def structure(obj: Any, cl: Any) -> Any:
        if isinstance(obj, str | bytes | dict):
            raise TypeError(f"expected an array, got {type(obj).__name__}")
        return inner(obj, cl)

    return structure


class LspAiServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("lsp-ai", __version__, converter_factory=_converter)
        self._assistant: Assistant | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def assistant(self) -> Assistant:
        if self._assistant is None:
            raise JsonRpcInvalidParams("the server is not initialized; send initialize first")
        return self._assistant

    @assistant.setter
    def assistant(self, value: Assistant) -> None:
        self._assistant = value

    @property
    def initialized(self) -> bool:
        return self._assistant is not None

    def document(self, uri: str) -> TextDocument:
        """A document the client opened; requests for others get a clear error."""
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            raise JsonRpcInvalidParams(
                f"document {uri} is not open; send textDocument/didOpen before asking for it"
            )
        return doc

    def post(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the event loop thread; worker threads never write to stdout directly."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn)

    def notify_user(self, level: Level, message: str) -> None:
        """The assistant's notices, as `window/showMessage` (from any thread)."""
        params = lsp.ShowMessageParams(type=lsp.MessageType(level), message=message)
        self.post(lambda: self.window_show_message(params))

    def report_server_error(self, error: Exception, source: type) -> None:
        """A notification handler that failed: logged, never shown as a dialog.

        A notification has no reply, and the user cannot act on a client's malformed one;
        pygls' default pops up every failure, so a client sending one bad didChange per
        keystroke would bury the user in error dialogs. The log (and window/logMessage) has it.
        """
        if source is FeatureRequestError:
            return  # the request's response carries the error
        log.error("a notification was ignored: %s: %s", type(error).__name__, error)
