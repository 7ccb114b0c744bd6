"""Server start-up and chat cancellation on the embedded defaults.

- `initialize` round trip, and how long after it the completion and chat models are ready
  (they load in the background, so `initialize` must not wait for them);
- `$/chat` cancellation: time from sending `$/cancelRequest` to receiving the -32800 error,
  cancelling at several points (during prompt evaluation and during generation).

Run: `python -m benchmarks.server_lifecycle [--runs N]`
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from benchmarks.common import bench_settings, percentiles, write_result
from tests.harness.env import isolated_env
from tests.harness.lsp_client import LspClient, lsp_session

ROOT = Path(__file__).resolve().parents[1]


async def status(client: LspClient) -> dict[str, Any]:
    result: dict[str, Any] = await client.command_async("lsp-ai.status")
    return result


def session() -> AbstractAsyncContextManager[LspClient]:
    """The server on this repository, in a fresh isolated HOME."""
    return lsp_session(ROOT, isolated_env(None, bench_settings()))


async def startup_run() -> tuple[float, float]:
    async with session() as client:
        assert client.init_ms is not None
        init_ms = client.init_ms
        started = time.perf_counter()
        while True:
            models = (await status(client))["models"]
            states = [models[r]["state"] for r in ("completion", "chat")]
            if all(s == "ready" for s in states):
                break
            await asyncio.sleep(0.02)
        return init_ms, (time.perf_counter() - started) * 1000


async def cancel_runs(delays: list[float]) -> list[float]:
    latencies = []
    async with session() as client:
        for i, delay in enumerate(delays):
            msg_id = f"cancel-{i}"
            future = client.send_request(
                "$/chat", {"message": "Explain how completion requests are cancelled."}, msg_id
            )
            await asyncio.sleep(delay)
            sent = time.perf_counter()
            client.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=msg_id))
            try:
                await asyncio.wrap_future(future)
                continue  # finished before the cancel landed: not a cancellation sample
            except JsonRpcException as exc:
                assert exc.code == -32800, exc
            latencies.append((time.perf_counter() - sent) * 1000)
    return latencies


async def main(runs: int) -> None:
    inits, ready = [], []
    for _ in range(runs):
        init_ms, ready_ms = await startup_run()
        inits.append(init_ms)
        ready.append(ready_ms)
    delays = [0.3, 0.6, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0][: max(4, runs * 2)]
    cancels = await cancel_runs(delays)
    data = {
        "initialize_ms": percentiles(inits),
        "models_ready_after_initialize_ms": percentiles(ready),
        "chat_cancel_to_error_ms": percentiles(cancels),
        "cancel_delays_s": delays,
    }
    path = write_result("server_lifecycle", data)
    for key, value in data.items():
        print(f"{key:36} {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
