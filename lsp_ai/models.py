"""The model roles and the slot that holds each role's model.

A role is an enum, not a string looked up with getattr: `Role.CHAT.section(cfg)` is the one way
from a role to its config section, and `Models` is the one holder of the three slots.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from lsp_ai.config import Config
from lsp_ai.governor import role_threads
from lsp_ai.inference.base import Embedder, TextModel
from lsp_ai.inference.factory import embedder_factory, text_model_factory
from lsp_ai.inference.slots import ModelSlot

log = logging.getLogger(__name__)


class Role(StrEnum):
    COMPLETION = "completion"
    CHAT = "chat"
    EMBEDDING = "embedding"

    def section(self, cfg: Config) -> Any:
        """This role's `[models.<role>]` config section."""
        return {
            Role.COMPLETION: cfg.models.completion,
            Role.CHAT: cfg.models.chat,
            Role.EMBEDDING: cfg.models.embedding,
        }[self]


# Roles the governor may unload when idle or over budget, least needed first; the completion
# model always stays (keystroke latency).
UNLOADABLE = (Role.CHAT, Role.EMBEDDING)


def _slot(role: Role, cfg: Config) -> ModelSlot[Any]:
    section = role.section(cfg)
    if role is Role.EMBEDDING:
        return ModelSlot(role, embedder_factory(section, cfg.models.paths))
    return ModelSlot(role, text_model_factory(role, section, cfg.models.paths))


def _ready(role: Role, model: Any) -> ModelSlot[Any]:
    return ModelSlot(role, lambda: model)


class Models:
    """Each role's model, loaded in the background on first need (see `ModelSlot`)."""

    def __init__(self, cfg: Config, given: dict[Role, Any] | None = None) -> None:
        """`given`: ready models by role (tests' stand-ins); the others load from `cfg`."""
        given = given or {}
        self._given = given
        self._slots: dict[Role, ModelSlot[Any]] = {
            role: _ready(role, given[role]) if role in given else _slot(role, cfg) for role in Role
        }

    @property
    def completion(self) -> ModelSlot[TextModel]:
        return self._slots[Role.COMPLETION]

    @property
    def chat(self) -> ModelSlot[TextModel]:
        return self._slots[Role.CHAT]

    @property
    def embedding(self) -> ModelSlot[Embedder]:
        return self._slots[Role.EMBEDDING]

    def slot(self, role: Role) -> ModelSlot[Any]:
        return self._slots[role]

    def warm(self, *roles: Role) -> None:
        """Start loading in the background (never on the caller's thread)."""
        for role in roles:
            self._slots[role].warm()

    def reconfigure(self, old: Config, new: Config) -> list[Role]:
        """Replace the slots whose config section changed; returns those roles.

        The old model is not closed here: a generation in another thread may still hold it,
        and freeing llama.cpp memory under it would crash the process. It is released when
        the last reference goes.
        """
        changed = [role for role in Role if role.section(old) != role.section(new)]
        for role in (r for r in changed if r not in self._given):
            self._slots[role] = _slot(role, new)
        return changed

    def unload_idle(self, idle_s: float) -> list[str]:
        return [str(role) for role in UNLOADABLE if self._slots[role].unload(idle_s)]

    def threads(self, cfg: Config) -> dict[str, int]:
        return {role: role.section(cfg).n_threads or role_threads(role) for role in Role}

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for role, slot in self._slots.items():
            entry: dict[str, Any] = {"state": slot.state}
            if slot.error:
                entry["error"] = slot.error
            model = slot.peek()
            if model is not None and hasattr(model, "describe"):
                entry.update(model.describe())
            out[str(role)] = entry
        return out

    def close(self) -> None:
        for slot in self._slots.values():
            slot.close()
