"""The resource governor's plumbing: pacing, quiet waits, unloading, the memory budget."""

from __future__ import annotations

import threading
import time
from typing import Any

from lsp_ai.config import load_config
from lsp_ai.governor import Activity, Budget, CpuLoad, Governor, Pacer, rss_mb
from lsp_ai.index.service import LazyEmbedder
from lsp_ai.inference.slots import ModelSlot


class RecordingEmbedder:
    """Plumbing only: records the slices it is given."""

    name, dimension = "rec", 1

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str], kind: str) -> list[list[float]]:
        self.calls.append(list(texts))
        return [[float(len(t))] for t in texts]


def test_documents_are_embedded_in_paced_slices_and_keep_their_order() -> None:
    model = RecordingEmbedder()
    events: list[str] = []
    pacer = Pacer(lambda: events.append("pause"), lambda: 3)
    lazy = LazyEmbedder(lambda: model, "rec", pacer)
    texts = ["aaaa", "b", "cccccc", "dd", "eee", "f", "gggggggg"]
    vectors = lazy.embed(texts, "document")
    assert vectors == [[float(len(t))] for t in texts]
    assert [len(c) for c in model.calls] == [3, 3, 1] and events == ["pause"] * 3
    assert model.calls[0] == ["b", "f", "dd"]  # shortest first: little padding per slice
    model.calls.clear()
    lazy.embed(["query"], "query")  # a search never waits for typing to stop
    assert model.calls == [["query"]] and len(events) == 3


def test_background_work_waits_until_typing_stops() -> None:
    activity = Activity(quiet_ms=150)
    assert not activity.typing()
    activity.touch()
    assert activity.typing()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (activity.wait_for_typing_pause(), done.set()))
    worker.start()
    for _ in range(3):  # keystrokes keep coming: the work keeps waiting
        time.sleep(0.05)
        activity.touch()
        assert not done.is_set()
    worker.join(5)
    assert done.is_set() and not activity.typing()
    stop = threading.Event()
    stop.set()
    activity.touch()
    activity.wait_for_typing_pause(stop)  # a stop request ends the wait at once
    assert activity.typing()


def test_an_idle_slot_unloads_and_loads_again_on_demand() -> None:
    loads: list[Any] = []
    closed: list[Any] = []

    class Model:
        def close(self) -> None:
            closed.append(self)

    def factory() -> Model:
        loads.append(Model())
        return loads[-1]

    slot: ModelSlot[Model] = ModelSlot("chat", factory)
    first = slot.get()
    assert not slot.unload(idle_s=60)  # used just now
    assert slot.unload(idle_s=0) and slot.state == "unloaded" and closed == [first]
    assert not slot.unload(idle_s=0)  # nothing left to unload
    second = slot.get()
    assert second is not first and len(loads) == 2 and slot.unloads == 1


def test_over_budget_the_governor_frees_cheapest_first_and_reports_it() -> None:
    steps: list[str] = []

    def unloader(name: str) -> tuple[str, Any]:
        return name, lambda: steps.append(name) or True

    gov = Governor(
        max_rss_mb=1,  # any real process is over this
        unload_after_s=0,
        idle_unloaders=lambda idle: [],
        budget=Budget(
            lambda: steps.append("heap") or True,
            lambda: steps.append("caches"),
            [unloader("chat"), unloader("embedding")],
        ),
    )
    gov.tick()
    assert steps == ["heap", "caches", "chat", "heap", "embedding", "heap"]
    assert gov.embed_batch == 16
    status = gov.status()
    assert status["over_budget"] and status["rss_mb"] == round(rss_mb()) > 0
    assert any("over budget" in a for a in status["actions"])  # type: ignore[union-attr]
    steps.clear()
    gov.tick()  # nothing left to try until memory grows again: no repeated work or noise
    assert steps == [] and len(gov.actions) == 3


def test_idle_models_are_unloaded_on_a_tick() -> None:
    asked: list[float] = []
    gov = Governor(
        max_rss_mb=0,
        unload_after_s=30,
        idle_unloaders=lambda idle: asked.append(idle) or ["chat"],
        budget=Budget(lambda: True, lambda: None, []),
    )
    gov.tick()
    assert asked == [30] and "unloaded the idle chat model" in gov.actions[-1]


def test_freed_heap_goes_back_after_growth_while_nobody_types() -> None:
    typing = True
    released: list[float] = []
    gov = Governor(
        max_rss_mb=0,
        unload_after_s=0,
        idle_unloaders=lambda idle: [],
        budget=Budget(lambda: released.append(rss_mb()) or True, lambda: None, []),
        typing=lambda: typing,
    )
    gov.tick()
    assert released == []  # the user types: a trim's pause would land on a keystroke
    typing = False
    gov.tick()
    assert len(released) == 1
    gov.tick()  # no growth since: nothing worth giving back
    assert len(released) == 1
    ballast = b"x" * (64 * 2**20)  # written, so resident
    gov.tick()
    assert len(released) == 2 and len(ballast) > 0
    assert gov.status()["heap_released_mb"] == round(gov.released_mb)


def test_our_own_cpu_time_is_not_counted_as_other_processes_load() -> None:
    load = CpuLoad()
    time.sleep(load.MIN_WINDOW_S)
    load.other_busy()
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # a core busy in this process: the model's own work, say
        pass
    assert load.other_busy() < 0.5


def test_resources_settings_are_validated() -> None:
    cfg, problems = load_config(
        None, settings={"resources": {"max_rss_mb": 1500, "unload_after_s": -1, "quiet_ms": 200}}
    )
    assert cfg.resources.max_rss_mb == 1500 and cfg.resources.quiet_ms == 200
    assert cfg.resources.unload_after_s == 900  # the bad value kept the default
    assert any("resources.unload_after_s must be a non-negative integer" in p for p in problems)
