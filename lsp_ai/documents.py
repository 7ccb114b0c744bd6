"""The documents a front-end has open, as the assistant knows them: where, and whether private.

The text itself stays with the front-end (pygls keeps it for the LSP server) and comes with
each call, so a request always sees the version it was made for. What lives here is what the
assistant decides per document: its key for the services (a file system path, or the URI of an
unsaved buffer), whether it may ever reach a prompt, and where the user last edited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse


def doc_path(uri: str) -> Path | None:
    """The file a `file:` URI names; None for unsaved buffers (`untitled:`) and other schemes.

    A URI whose path holds a NUL names no file any system can open: it is treated as a buffer
    that is not a file, never passed to the file system.
    """
    if not uri.startswith("file:") or "\x00" in uri or "%00" in uri:
        return None
    parsed = urlparse(uri)
    path = unquote(parsed.path)
    if parsed.netloc and parsed.netloc != "localhost":
        path = f"//{parsed.netloc}{path}"  # a UNC share
    return Path(path) if path else None


def doc_key(uri: str) -> str:
    """How services name a document: its file system path, or the URI of an unsaved buffer."""
    path = doc_path(uri)
    return str(path) if path else uri


@dataclass
class OpenDocument:
    uri: str
    path: Path | None
    private: str | None  # why it never goes into a prompt (a secret, a git-ignored file)
    edited_line: int = 0  # where the user last edited: the recent-code excerpt centres there

    @property
    def key(self) -> str:
        return str(self.path) if self.path else self.uri


class Documents:
    """Open documents by URI; a document never opened is judged from its path alone."""

    def __init__(self, private_reason: Callable[[Path], str | None]) -> None:
        self._private_reason = private_reason
        self._open: dict[str, OpenDocument] = {}

    def open(self, uri: str) -> OpenDocument:
        path = doc_path(uri)
        reason = self._private_reason(path) if path is not None else None
        doc = self._open[uri] = OpenDocument(uri, path, reason)
        return doc

    def get(self, uri: str) -> OpenDocument | None:
        return self._open.get(uri)

    def close(self, uri: str) -> None:
        self._open.pop(uri, None)

    def private(self, uri: str) -> str | None:
        """Why `uri` must stay out of every prompt, or None; the CLI's files are judged too."""
        if (doc := self._open.get(uri)) is not None:
            return doc.private
        path = doc_path(uri)
        return self._private_reason(path) if path is not None else None
