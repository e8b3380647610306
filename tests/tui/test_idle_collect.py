"""Full garbage collections run in the app's idle time (tui/idle_collect.py), never while keys
arrive: observed with gc.callbacks. The interpreter's own full collections are held off for the
test (generation 2's threshold raised), so every full pass seen here is one the app asked for."""

from __future__ import annotations

import gc
import time

from tests.tui.pilot import app_ready, make_app, wait_until
from tui.idle_collect import GEN2_THRESHOLD, IdleCollector

IDLE_S = 0.8


class FullPasses:
    """gc.callbacks hook: for each full pass, how long the app had been without a key or mouse press."""

    def __init__(self, app) -> None:
        self.app = app
        self.idle_for: list[float] = []

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            self.idle_for.append(time.monotonic() - self.app._last_input)


async def test_full_collections_run_when_idle_and_never_while_keys_arrive(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    app.options.tick_s = 0.1
    app.options.idle_collect = True
    app.idle_collector.idle_s = IDLE_S
    passes = FullPasses(app)
    threshold = gc.get_threshold()
    gc.set_threshold(threshold[0], threshold[1], 10**9)
    gc.callbacks.append(passes)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await app_ready(pilot)
            # idle since start: one full pass
            await wait_until(pilot, lambda: app.idle_collector.collections >= 1, "a full collection in idle time")
            assert len(passes.idle_for) >= 1
            # keys arrive (each well within IDLE_S of the last) while the long-lived heap grows
            kept = []
            for _ in range(6):
                kept.append([[] for _ in range(10_000)])  # promoted: a full pass comes due
                await pilot.press("down")
            assert app.idle_collector.due()  # one was due all along, and none ran while keys arrived
            during_keys = len(passes.idle_for)
            # then idle: the pass that was due runs
            await wait_until(pilot, lambda: len(passes.idle_for) > during_keys, "the due full collection once idle")
            del kept
    finally:
        gc.callbacks.remove(passes)
        gc.set_threshold(*threshold)
    assert passes.idle_for and all(idle >= IDLE_S for idle in passes.idle_for), passes.idle_for


def test_generation_2_threshold_is_raised_while_installed_and_given_back():
    saved = gc.get_threshold()
    try:
        gc.set_threshold(saved[0], saved[1], 10)
        collector = IdleCollector()
        collector.tick(0.0)  # not idle: no collection, but installed
        assert gc.get_threshold() == (saved[0], saved[1], GEN2_THRESHOLD) and collector.collections == 0
        collector.uninstall()
        assert gc.get_threshold() == (saved[0], saved[1], 10)
    finally:
        gc.set_threshold(*saved)
