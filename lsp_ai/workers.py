"""The threads that run blocking work, one executor per kind, and cancellable awaiting of it.

Completion and chat each own a model, so they run side by side; the index has its own worker
(at a lower CPU priority) so a long crawl never delays either; searches only read committed
index versions, so they need not queue behind a crawl. Front-ends are asyncio (pygls, the MCP
and ACP SDKs, `asyncio.run` in the CLI): `run` awaits a worker and turns a cancelled task into
a cancelled `CancelToken`, which the generation loop checks after every token.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lsp_ai.concurrency import CancelToken

T = TypeVar("T")

# How much lower the index thread's CPU priority is than the rest of the server's.
INDEX_NICE = 10


def _background_priority() -> None:
    """Run this thread (and the threads it starts, e.g. torch's) at a lower CPU priority.

    Re-embedding an edited file is the one heavy job that can overlap a completion; at nice
    10 the scheduler gives the completion most of both cores while they overlap.
    """
    with contextlib.suppress(AttributeError, OSError):  # per-thread nice: Linux only
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), INDEX_NICE)


class Workers:
    def __init__(self) -> None:
        self.completion = ThreadPoolExecutor(1, thread_name_prefix="completion")
        self.chat = ThreadPoolExecutor(1, thread_name_prefix="chat")
        self.index = ThreadPoolExecutor(
            1, thread_name_prefix="index", initializer=_background_priority
        )
        self.search = ThreadPoolExecutor(1, thread_name_prefix="search")
        self._active: set[CancelToken] = set()  # model work in flight, stopped on shutdown
        self._background: set[asyncio.Future[Any]] = set()

    async def run(
        self, pool: ThreadPoolExecutor, fn: Callable[[CancelToken], T], token: CancelToken
    ) -> T:
        """Run `fn(token)` in `pool`; if the awaiting task is cancelled, cancel the token too."""
        loop = asyncio.get_running_loop()
        self._active.add(token)
        try:
            return await loop.run_in_executor(pool, fn, token)
        except asyncio.CancelledError:
            token.cancel("$/cancelRequest")
            raise
        finally:
            self._active.discard(token)

    async def call(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in `pool` (work that no token can stop, such as an index update)."""
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Start background work on the running loop, keeping a reference until it is done."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def shutdown(self) -> None:
        for token in list(self._active):
            token.cancel("shutdown")  # worker threads finish their current token and return
        for pool in (self.completion, self.chat, self.index, self.search):
            pool.shutdown(wait=False, cancel_futures=True)
