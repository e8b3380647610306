"""Steps started as soon as what each waits for is done (the plan's graph, not its waves).

A create's step waits for the steps it depends on; a destroy's step for the steps that depend
on it. Waves are the plan's levels: a step of wave 2 whose own dependencies are done early
(a Deployment whose namespace is there while a bucket is still being made) need not wait for
the rest of wave 1, and the engine's bookkeeping of one step (its rows, its audit) no longer
holds up the steps that do not depend on it.

`run_as_ready` stops starting steps after the first one that raises (the ones running are
waited for) or when `may_go_on()` answers False before a start; it returns what every step
that ran gave (its value or its exception). A step may let the steps waiting for it start
before it ends (`await dependents_may_start()` from inside the step, e.g.
once its backend answered Healthy, before its own last row), so that their first rows can join
its last one in one transaction. Never imports Textual.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

__all__ = ["dependents_may_start", "run_as_ready"]

#: inside a step run by `run_as_ready`: lets the steps waiting for it start now
_RELEASE: contextvars.ContextVar[Callable[[], Awaitable[None]] | None] = contextvars.ContextVar(
    "schedule_release", default=None)


async def dependents_may_start() -> None:
    """From inside a step run by `run_as_ready`: the steps waiting only for it (and for steps
    already done or released) start now, not when it ends; returns once they are started and
    have run up to their first wait (their first row asked for). Nothing outside a step."""
    release = _RELEASE.get()
    if release is not None:
        await release()


async def run_as_ready(order: Sequence[str], waits_for: Mapping[str, Collection[str]],
                       run: Callable[[str], Awaitable[Any]], *,
                       may_go_on: Callable[[], Awaitable[bool]] | None = None) -> dict[str, Any]:
    """Run `run(step)` for each step of `order` once every step of `waits_for[step]` (those in
    `order`) has finished; the steps ready together start in `order`'s order. After a step
    raises, or when `may_go_on()` (asked before each start of ready steps) answers False, no
    step starts any more and the running ones are waited for. A step that called
    `dependents_may_start()` counts as finished for the steps waiting for it. Returns step -> its
    value or its exception, for the steps that ran. Cancelled, it cancels the running steps and waits for them."""
    known = set(order)
    deps = {step: [d for d in waits_for.get(step, ()) if d in known and d != step] for step in order}
    results: dict[str, Any] = {}
    running: dict[asyncio.Future[Any], str] = {}
    started: set[str] = set()
    released: set[str] = set()    # steps whose dependents may start before they end
    waiting: list[asyncio.Future[None]] = []   # their release() calls, answered after the next starts
    loop = asyncio.get_running_loop()
    wake: asyncio.Future[None] = loop.create_future()
    stopped = False

    def start(step: str) -> asyncio.Future[Any]:
        async def release() -> None:
            released.add(step)
            answered: asyncio.Future[None] = loop.create_future()
            waiting.append(answered)
            if not wake.done():
                wake.set_result(None)
            await answered
            for _ in range(2):   # the started steps run up to their first wait
                await asyncio.sleep(0)

        context = contextvars.copy_context()
        context.run(_RELEASE.set, release)
        return loop.create_task(run(step), context=context)

    try:
        while True:
            if not stopped:
                ready = [s for s in order
                         if s not in started and all(d in results or d in released for d in deps[s])]
                if ready and may_go_on is not None and not await may_go_on():
                    stopped, ready = True, []
                for step in ready:
                    started.add(step)
                    running[start(step)] = step
            for answered in waiting:
                if not answered.done():
                    answered.set_result(None)
            waiting.clear()
            if not running:
                return results
            if wake.done():
                wake = loop.create_future()
            done, _ = await asyncio.wait([*running, wake], return_when=asyncio.FIRST_COMPLETED)
            done.discard(wake)
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
        for answered in waiting:
            if not answered.done():
                answered.set_result(None)
        if not wake.done():
            wake.cancel()
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
