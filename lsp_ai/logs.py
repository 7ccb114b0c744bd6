"""Logging that never touches stdout (the LSP channel): stderr, a log file, and the editor.

Every handler set up here formats through ``RedactingFormatter``, so no credential reaches a
log line at any level, whoever logged it (pygls prints whole requests at debug level, and
``initialize`` and ``workspace/didChangeConfiguration`` carry the ``api_key`` settings).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
from collections.abc import Callable
from pathlib import Path

from platformdirs import user_log_dir

from lsp_ai.log_redaction import RedactingFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_file_path() -> Path:
    return Path(user_log_dir("lsp-ai", appauthor=False)) / "lsp-ai.log"


def setup_logging(level: int = logging.WARNING, log_file: bool = True) -> Path | None:
    """Configure the root logger once per process; returns the log file in use, if any.

    LSP_AI_LOG_LEVEL=debug raises the log file's level alone: stderr stays quiet, which
    matters for editors that show the server's stderr to the user.
    """
    file_level = logging.DEBUG if level <= logging.DEBUG else logging.INFO
    if os.environ.get("LSP_AI_LOG_LEVEL", "").lower() == "debug":
        file_level = logging.DEBUG
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(min(level, file_level))
    stderr = logging.StreamHandler()
    stderr.setLevel(level)
    stderr.setFormatter(RedactingFormatter(FORMAT))
    root.addHandler(stderr)
    path: Path | None = None
    if log_file:
        path = log_file_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=5_000_000, backupCount=2, encoding="utf-8"
            )
            handler.setLevel(file_level)
            handler.setFormatter(RedactingFormatter(FORMAT))
            root.addHandler(handler)
        except OSError as exc:  # a read-only home must not stop the server
            logging.getLogger(__name__).warning("no log file (%s): %s", path, exc)
            path = None
    # Chatty libraries stay at warning level unless we are debugging.
    for name in ("pygls", "httpx", "urllib3", "sentence_transformers", "filelock"):
        logging.getLogger(name).setLevel(max(min(level, file_level), logging.WARNING))
    if file_level <= logging.DEBUG:
        logging.getLogger("pygls").setLevel(logging.DEBUG)
    return path


class CallbackHandler(logging.Handler):
    """Forwards records to a callback (the server's `window/logMessage` sender)."""

    def __init__(self, emit: Callable[[logging.LogRecord, str], None], level: int) -> None:
        super().__init__(level)
        self._emit = emit
        self.setFormatter(RedactingFormatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("pygls"):
            return  # pygls logs each message it sends; forwarding them would loop
        with contextlib.suppress(Exception):  # logging must never raise into the caller
            self._emit(record, self.format(record))
