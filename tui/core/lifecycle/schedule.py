"""Steps started as soon as what each waits for is done (the plan's graph, not its waves).

A create's step waits for the steps it depends on; a destroy's step for the steps that depend
on it. Waves are the plan's levels: a step of wave 2 whose own dependencies are done early
(a Deployment whose namespace is there while a bucket is still being made) need not wait for
the rest of wave 1, and the engine's bookkeeping of one step (its rows, its audit) no longer
holds up the steps that do not depend on it.

`run_as_ready` stops starting steps after the first one that raises (the ones running are
waited for) or when `may_go_on()` answers False before a start; it returns what every step
that ran gave (its value or its exception). Never imports Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

__all__ = ["run_as_ready"]


async def run_as_ready(order: Sequence[str], waits_for: Mapping[str, Collection[str]],
                       run: Callable[[str], Awaitable[Any]], *,
                       may_go_on: Callable[[], Awaitable[bool]] | None = None) -> dict[str, Any]:
    """Run `run(step)` for each step of `order` once every step of `waits_for[step]` (those in
    `order`) has finished; the steps ready together start in `order`'s order. After a step
    raises, or when `may_go_on()` (asked before each start of ready steps) answers False, no
    step starts any more and the running ones are waited for. Returns step -> its value or its
    exception, for the steps that ran. Cancelled, it cancels the running steps and waits for them."""
    known = set(order)
    deps = {step: [d for d in waits_for.get(step, ()) if d in known and d != step] for step in order}
    results: dict[str, Any] = {}
    running: dict[asyncio.Future[Any], str] = {}
    started: set[str] = set()
    stopped = False
    try:
        while True:
            if not stopped:
                ready = [s for s in order if s not in started and all(d in results for d in deps[s])]
                if ready and may_go_on is not None and not await may_go_on():
                    stopped, ready = True, []
                for step in ready:
                    started.add(step)
                    running[asyncio.ensure_future(run(step))] = step
            if not running:
                return results
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: order.index(running[t])):
                step = running.pop(task)
                if task.cancelled():
                    results[step] = asyncio.CancelledError()
                elif task.exception() is not None:
                    results[step] = task.exception()
                else:
                    results[step] = task.result()
                if isinstance(results[step], BaseException):
                    stopped = True
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
