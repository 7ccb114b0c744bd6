"""Wires configuration to backends and services; shared by the language server and the CLI.

Nothing here imports pygls: the server converts LSP messages into calls on `Services`, and
the CLI makes the same calls, so `lsp-ai ask` and `$/chat` are one code path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lsp_ai.chat.actions import CodeActions
from lsp_ai.chat.service import ChatService
from lsp_ai.chat.session import SessionStore
from lsp_ai.completion.repo_context import RecentWindows, RepoContext
from lsp_ai.completion.service import CompletionService
from lsp_ai.concurrency import Gate
from lsp_ai.config import Config
from lsp_ai.governor import (
    Activity,
    Budget,
    Governor,
    Pacer,
    other_busy_cores,
    release_heap,
    role_threads,
)
from lsp_ai.index.hits import SearchHit
from lsp_ai.index.rerank import make_reranker
from lsp_ai.index.service import IndexService
from lsp_ai.inference.base import Embedder, ModelError, TextModel
from lsp_ai.inference.factory import embedder_factory, embedder_name, text_model_factory
from lsp_ai.inference.slots import ModelSlot

T = TypeVar("T")
# Over the memory budget, a model unused this long is unloaded (one in use never is).
BUDGET_IDLE_S = 10.0
log = logging.getLogger(__name__)

# No default path may reach the network: the embedded models are on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@dataclass
class Slots:
    completion: ModelSlot[TextModel]
    chat: ModelSlot[TextModel]
    embedding: ModelSlot[Embedder]


def _slot(role: str, cfg: Config) -> ModelSlot[Any]:
    section = getattr(cfg.models, role)
    if role == "embedding":
        return ModelSlot(role, embedder_factory(section, cfg.models.paths))
    return ModelSlot(role, text_model_factory(role, section, cfg.models.paths))


def _slots(cfg: Config) -> Slots:
    return Slots(_slot("completion", cfg), _slot("chat", cfg), _slot("embedding", cfg))


class Services:
    def __init__(self, config: Config, roots: Sequence[Path]) -> None:
        self.roots = [Path(r).resolve() for r in roots] or [Path.cwd().resolve()]
        self.gate = Gate()
        self.config = config
        res = config.resources
        self.activity = Activity(res.quiet_ms)  # when the user last typed
        self.governor = Governor(
            max_rss_mb=res.max_rss_mb,
            unload_after_s=res.unload_after_s,
            idle_unloaders=self._unload_idle,
            budget=Budget(
                release_heap,
                self._drop_caches,
                # Least needed first; the completion model stays (keystroke latency).
                [
                    ("chat", lambda: self.slots.chat.unload(BUDGET_IDLE_S)),
                    ("embedding", lambda: self.slots.embedding.unload(BUDGET_IDLE_S)),
                ],
            ),
            typing=self.activity.typing,
        )
        self.problems: list[str] = []  # set-up trouble to show the user, by config key
        self.slots = _slots(config)
        # Outlives config reloads: which files the user visited is not configuration.
        self.recent = RecentWindows()
        self.index = self._make_index(config)
        self.completion = self._make_completion(config)
        self.chat = self._make_chat(config)
        self.actions = self._make_actions(config)

    def _make_index(self, cfg: Config) -> IndexService:
        return IndexService(
            self.roots,
            embedder=lambda: self.slots.embedding.get(),
            embedder_name=embedder_name(cfg.models.embedding),
            rerank=self._reranker(cfg),
            exclude=cfg.index.exclude,
            max_file_bytes=cfg.index.max_file_bytes,
            db_path=cfg.index.db_path,
            pacer=Pacer(self._background_pause, lambda: self.governor.embed_batch),
        )

    def _background_pause(self) -> None:
        """Before each slice of background embedding: no completion running, none lately."""
        self.gate.wait_clear()
        self.activity.wait_quiet()

    def _unload_idle(self, idle_s: float) -> list[str]:
        return [r for r in ("chat", "embedding") if getattr(self.slots, r).unload(idle_s)]

    def _drop_caches(self) -> None:
        self.completion.drop_caches()

    def _reranker(self, cfg: Config) -> Callable[[str, list[SearchHit]], list[SearchHit]] | None:
        """The optional cross-encoder; a bad reranker setting disables it with a warning."""
        try:
            return make_reranker(cfg.models.reranker)
        except ModelError as exc:
            log.warning("%s", exc)
            self.problems.append(str(exc))
            return None

    def _make_completion(self, cfg: Config) -> CompletionService:
        return CompletionService(
            self.slots.completion,
            fim_template=cfg.models.completion.fim_template,
            max_tokens=cfg.completion.max_tokens,
            multiline=cfg.completion.multiline,
            temperature=cfg.models.completion.temperature,
            gate=self.gate,
            repo_context=(
                RepoContext(lambda path: self.index.symbols_for(path), self.recent)
                if cfg.completion.repo_context
                else None
            ),
            repo_name=self.roots[0].name,
        )

    def _make_chat(self, cfg: Config) -> ChatService:
        return ChatService(
            self.slots.chat,
            lambda: self.index,
            self.index.resolve,
            top_k=cfg.chat.top_k,
            context_tokens=cfg.chat.context_tokens,
            max_tokens=cfg.models.chat.max_tokens,
            temperature=cfg.models.chat.temperature,
            gate=self.gate,
            sessions=SessionStore(self.index.home / "sessions"),
        )

    def after_completions(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` once no completion is generating and the user has paused typing.

        On two cores, re-embedding a file while the user waits for ghost text slows the
        model down for as long as both run.
        """
        self._background_pause()
        return fn(*args)

    def _make_actions(self, cfg: Config) -> CodeActions:
        chat = cfg.models.chat
        return CodeActions(self.slots.chat, self.gate, chat.max_tokens, chat.temperature)

    def warm(self, *roles: str) -> None:
        """Start loading models in the background (never on the caller's thread)."""
        for role in roles or ("completion", "chat"):
            getattr(self.slots, role).warm()

    def apply_config(self, new: Config) -> list[str]:
        """Swap in a new configuration; reload only the model roles whose section changed."""
        old, self.config = self.config, new
        changed = []
        if old.resources != new.resources:
            res = new.resources
            self.activity.quiet_s = res.quiet_ms / 1000
            self.governor.max_rss_mb, self.governor.unload_after_s = (
                res.max_rss_mb,
                res.unload_after_s,
            )
            changed.append("resources")
        for role in ("completion", "chat", "embedding"):
            if getattr(old.models, role) != getattr(new.models, role):
                # The old model is not closed here: a generation in another thread may still
                # hold it, and freeing llama.cpp memory under it would crash the process. It
                # is released when the last reference goes.
                setattr(self.slots, role, _slot(role, new))
                changed.append(role)
        if (
            old.index != new.index
            or old.models.reranker != new.models.reranker
            or ("embedding" in changed)
        ):
            self.index = self._make_index(new)  # a crawl in flight finishes on the old one
            changed.append("index")
        self.completion = self._make_completion(new)
        self.chat = self._make_chat(new)
        self.actions = self._make_actions(new)
        for role in ("completion", "chat"):
            if role in changed:
                getattr(self.slots, role).warm()
        return changed

    def set_roots(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r).resolve() for r in roots] or self.roots
        self.index = self._make_index(self.config)
        self.chat = self._make_chat(self.config)

    def models_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for role in ("completion", "chat", "embedding"):
            slot: ModelSlot[Any] = getattr(self.slots, role)
            entry: dict[str, Any] = {"state": slot.state}
            if slot.error:
                entry["error"] = slot.error
            model = slot.peek()
            if model is not None and hasattr(model, "describe"):
                entry.update(model.describe())
            out[role] = entry
        return out

    def status(self, pending: int = 0) -> dict[str, Any]:
        resources = self.governor.status()
        resources["threads"] = {
            role: getattr(self.config.models, role).n_threads or role_threads(role)
            for role in ("completion", "chat", "embedding")
        }
        resources["typingWaitS"] = round(self.activity.waited_s, 1)
        resources["otherBusyCores"] = round(other_busy_cores(), 2)
        return {
            **self.index.stats(),
            "pending": pending,
            "models": self.models_status(),
            "resources": resources,
        }

    def close(self) -> None:
        self.index.close()
        for role in ("completion", "chat", "embedding"):
            getattr(self.slots, role).close()
