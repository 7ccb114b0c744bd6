"""The assistant's parts, built from the configuration and rebuilt only where a change touches.

Nothing here imports a protocol library and nothing here is async: the `Assistant` facade
orders requests and records them; `Wiring` only says which index, engine, chat service and
models exist for the current configuration and workspace roots.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lsp_ai.chat.actions import CodeActions
from lsp_ai.chat.service import ChatService
from lsp_ai.chat.session import SessionStore
from lsp_ai.completion.engine import CompletionEngine
from lsp_ai.completion.repo_context import RecentExcerpts, RepoContext
from lsp_ai.concurrency import CompletionFirst
from lsp_ai.config import Config
from lsp_ai.governor import Activity, Budget, Governor, Pacer, other_busy_cores, release_heap
from lsp_ai.index.hits import SearchHit
from lsp_ai.index.rerank import make_reranker
from lsp_ai.index.service import IndexService
from lsp_ai.inference.base import ModelError
from lsp_ai.inference.factory import embedder_name
from lsp_ai.models import UNLOADABLE, Models, Role

T = TypeVar("T")
# Over the memory budget, a model unused this long is unloaded (one in use never is).
BUDGET_IDLE_S = 10.0
log = logging.getLogger(__name__)

# No default path may reach the network: the embedded models are on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class Wiring:
    def __init__(
        self,
        config: Config,
        roots: Sequence[Path],
        models: dict[Role, Any] | None = None,
        on_index_damage: Callable[[str], None] | None = None,
    ) -> None:
        """`models`: ready models by role, instead of loading them (tests' stand-ins).

        `on_index_damage`: told once, in words, when a damaged index is moved aside.
        """
        self._on_index_damage = on_index_damage
        self.roots = [Path(r).resolve() for r in roots] or [Path.cwd().resolve()]
        self.config = config
        self.first = CompletionFirst()
        res = config.resources
        self.activity = Activity(res.quiet_ms)  # when the user last typed
        self.models = Models(config, models)
        self.governor = Governor(
            max_rss_mb=res.max_rss_mb,
            unload_after_s=res.unload_after_s,
            idle_unloaders=self.models.unload_idle,
            budget=Budget(
                release_heap,
                self._drop_caches,
                [(r, self._unloader(r)) for r in UNLOADABLE],
            ),
            typing=self.activity.typing,
        )
        self.problems: list[str] = []  # set-up trouble to show the user, by config key
        # Outlives config reloads: which files the user visited is not configuration.
        self.recent = RecentExcerpts()
        self.index = self._make_index(config)
        self.completion = self._make_completion(config)
        self.chat = self._make_chat(config)
        self.actions = self._make_actions(config)

    # -- building each part ----------------------------------------------------------------

    def _make_index(self, cfg: Config) -> IndexService:
        return IndexService(
            self.roots,
            embedder=lambda: self.models.embedding.get(),
            embedder_name=embedder_name(cfg.models.embedding),
            rerank=self._reranker(cfg),
            exclude=cfg.index.exclude,
            max_file_bytes=cfg.index.max_file_bytes,
            secret_patterns=cfg.index.secret_patterns,
            db_path=cfg.index.db_path,
            pacer=Pacer(self.wait_for_idle, lambda: self.governor.embed_batch),
            on_damage=self._on_index_damage,
        )

    def _reranker(self, cfg: Config) -> Callable[[str, list[SearchHit]], list[SearchHit]] | None:
        """The optional cross-encoder; a bad reranker setting disables it with a warning."""
        try:
            return make_reranker(cfg.models.reranker)
        except ModelError as exc:
            log.warning("%s", exc)
            self.problems.append(str(exc))
            return None

    def _make_completion(self, cfg: Config) -> CompletionEngine:
        return CompletionEngine(
            self.models.completion,
            fim_template=cfg.models.completion.fim_template,
            max_tokens=cfg.completion.max_tokens,
            multiline=cfg.completion.multiline,
            temperature=cfg.models.completion.temperature,
            first=self.first,
            repo_context=(
                RepoContext(lambda path: self.index.symbols_for(path), self.recent)
                if cfg.completion.repo_context
                else None
            ),
            repo_name=self.roots[0].name,
        )

    def _make_chat(self, cfg: Config) -> ChatService:
        return ChatService(
            self.models.chat,
            lambda: self.index,
            lambda rel: self.index.resolve(rel),
            top_k=cfg.chat.top_k,
            context_tokens=cfg.chat.context_tokens,
            max_tokens=cfg.models.chat.max_tokens,
            temperature=cfg.models.chat.temperature,
            first=self.first,
            sessions=SessionStore(self.index.home / "sessions"),
        )

    def _make_actions(self, cfg: Config) -> CodeActions:
        chat = cfg.models.chat
        return CodeActions(self.models.chat, self.first, chat.max_tokens, chat.temperature)

    # -- background work and memory --------------------------------------------------------

    def wait_for_idle(self) -> None:
        """Block until no completion or answer is generating and the user has paused typing.

        On two cores, embedding a file while the user waits for ghost text or an answer slows
        the model down for as long as both run; every slice of background work waits here.
        """
        self.first.wait_for_foreground()
        self.activity.wait_for_typing_pause()

    def when_idle(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)`, once `wait_for_idle` lets it run."""
        self.wait_for_idle()
        return fn(*args)

    def _unloader(self, role: Role) -> Callable[[], bool]:
        return lambda: self.models.slot(role).unload(BUDGET_IDLE_S)

    def _drop_caches(self) -> None:
        self.completion.drop_caches()

    # -- changes -----------------------------------------------------------------------------

    def apply_config(self, new: Config) -> list[str]:
        """Swap in a new configuration; rebuild only the parts whose sections changed."""
        old, self.config = self.config, new
        changed: list[str] = []
        if old.resources != new.resources:
            res = new.resources
            self.activity.quiet_s = res.quiet_ms / 1000
            self.governor.max_rss_mb = res.max_rss_mb
            self.governor.unload_after_s = res.unload_after_s
            changed.append("resources")
        roles = self.models.reconfigure(old, new)
        changed += roles
        index = (
            old.index != new.index
            or old.models.reranker != new.models.reranker
            or Role.EMBEDDING in roles
        )
        if index:
            # One writer per folder: the old index hands over (a crawl in flight on it stops
            # at its next batch) before the new one opens and takes the lock.
            self.index.retire()
            self.index = self._make_index(new)
            changed.append("index")
        if Role.COMPLETION in roles or old.completion != new.completion:
            self.completion = self._make_completion(new)
        if Role.CHAT in roles or old.chat != new.chat or index:  # sessions live in the index
            self.chat = self._make_chat(new)
        if Role.CHAT in roles:
            self.actions = self._make_actions(new)
        self.models.warm(*(r for r in roles if r is not Role.EMBEDDING))
        return changed

    def set_roots(self, roots: Sequence[Path]) -> None:
        """New workspace folders: every part that names a root is rebuilt."""
        self.roots = [Path(r).resolve() for r in roots] or self.roots
        self.index.retire()  # see apply_config
        self.index = self._make_index(self.config)
        self.completion = self._make_completion(self.config)  # the repository's name
        self.chat = self._make_chat(self.config)

    # -- reading -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        resources = self.governor.status()
        resources["threads"] = self.models.threads(self.config)
        resources["typing_wait_s"] = round(self.activity.waited_s, 1)
        resources["other_busy_cores"] = round(other_busy_cores(), 2)
        return {
            **self.index.stats(),
            **self.index.writer(),
            "models": self.models.status(),
            "resources": resources,
        }

    def close(self) -> None:
        self.governor.stop()
        self.index.close()
        self.models.close()
