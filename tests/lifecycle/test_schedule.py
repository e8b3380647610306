"""tui/core/lifecycle/schedule.py: a step may let the steps waiting for it start before it ends
(`dependents_may_start`); they then count it done, a step that raises afterwards still stops
what has not started, and outside a step the call does nothing."""

from __future__ import annotations

import asyncio

from tui.core.lifecycle.schedule import dependents_may_start, run_as_ready


async def test_a_released_step_lets_its_dependents_start_before_it_ends():
    log: list[str] = []
    finish_a = asyncio.Event()

    async def run(step: str) -> str:
        log.append(f"start {step}")
        if step == "a":
            await dependents_may_start()
            log.append("a released")
            await finish_a.wait()
        elif step == "b":
            finish_a.set()   # b runs while a has not ended
        log.append(f"end {step}")
        return step

    results = await run_as_ready(["a", "b", "c"], {"b": ["a"], "c": ["b"]}, run)
    assert results == {"a": "a", "b": "b", "c": "c"}
    assert log.index("start b") < log.index("a released") < log.index("end a"), log
    assert log.index("end b") < log.index("start c"), log   # c waits for b, which never released


async def test_a_step_that_raises_after_its_release_stops_the_steps_not_started():
    started: list[str] = []

    async def run(step: str) -> None:
        started.append(step)
        if step == "a":
            await dependents_may_start()
            raise RuntimeError("its row was refused")
        if step == "b":
            await asyncio.sleep(0.01)

    results = await run_as_ready(["a", "b", "c"], {"b": ["a"], "c": ["b"]}, run)
    assert started == ["a", "b"]
    assert isinstance(results["a"], RuntimeError) and results["b"] is None and "c" not in results


async def test_outside_a_step_it_does_nothing():
    await dependents_may_start()
