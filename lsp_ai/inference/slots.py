"""Model slots: each role's model, loaded once, in the background, on first need.

Loading SmolLM2 takes ~0.3 s and MiniLM (with torch) ~10 s; neither may delay `initialize`.
A slot starts loading when warmed (after `initialized`) and callers block on `get()` only if
they need the model before it is ready.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from lsp_ai.inference.base import ModelError

log = logging.getLogger(__name__)
T = TypeVar("T")


class ModelSlot(Generic[T]):
    def __init__(self, role: str, factory: Callable[[], T]) -> None:
        self.role = role
        self._factory = factory
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._model: T | None = None
        self._error: ModelError | None = None
        self.last_used = time.monotonic()
        self.unloads = 0

    @property
    def state(self) -> str:
        if self._model is not None:
            return "ready"
        if self._error is not None:
            return "error"
        return "loading" if self._thread else "unloaded"

    @property
    def error(self) -> str | None:
        return str(self._error) if self._error else None

    def warm(self) -> None:
        """Start loading in a daemon thread, once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._load, name=f"load-{self.role}", daemon=True
                )
                self._thread.start()

    def _load(self) -> None:
        try:
            self._model = self._factory()
            log.info("%s model ready", self.role)
        except ModelError as exc:
            self._error = exc
            log.error("%s model failed to load: %s", self.role, exc)
        except Exception as exc:  # a backend bug must not kill the server
            self._error = ModelError(f"models.{self.role}: {type(exc).__name__}: {exc}")
            log.exception("%s model failed to load", self.role)
        finally:
            self._done.set()

    def get(self, timeout: float | None = None) -> T:
        """The loaded model; raises ModelError if loading failed or timed out."""
        self.last_used = time.monotonic()
        self.warm()
        if not self._done.wait(timeout):
            raise ModelError(f"models.{self.role}: still loading")
        if self._model is None:
            raise self._error or ModelError(f"models.{self.role}: not loaded")
        return self._model

    def peek(self) -> T | None:
        """The model if it is already loaded, without waiting."""
        return self._model

    def unload(self, idle_s: float = 0.0) -> bool:
        """Free the model if unused for `idle_s`; the next `get()` loads it again.

        A caller still holding the model keeps a working reference: llama.cpp's close waits
        for a generation in flight, and the other backends are freed by the collector.
        """
        with self._lock:
            model = self._model
            if model is None or time.monotonic() - self.last_used < idle_s:
                return False
            self._model, self._thread = None, None
            self._done.clear()
            self.unloads += 1
        self._close(model)
        log.info("%s model unloaded (idle %.0f s)", self.role, time.monotonic() - self.last_used)
        return True

    def close(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            self._close(model)

    def _close(self, model: T) -> None:
        if hasattr(model, "close"):
            try:
                model.close()
            except Exception:
                log.debug("closing %s model failed", self.role, exc_info=True)
