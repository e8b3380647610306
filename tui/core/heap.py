"""Keeps the cyclic garbage collector from pausing a long-running envdeck.

With a big inventory (20,000 pods: millions of small objects that live as long as the
process) every full (generation 2) collection walks all of them: 240-310 ms with the
event loop stopped, every few seconds while updates arrive — measured as the p99 of
"pod change → table" (docs/benchmarks.md). `settle_heap()` installs a `gc.callbacks`
hook: when a full collection takes longer than `slow_s`, what survived it is moved to
the permanent generation (`gc.freeze()`) once the collection is over. Later full
collections only walk what was allocated since. Frozen objects are still freed by
reference counting (the inventory's Resources, replaced on every change, are not
cyclic); only reference cycles among them wait for `unsettle()` (at exit), which puts
them back under the collector.

Core module: no Textual; the TUI and the headless `envdeck reconcile` both use it."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SLOW_FULL_COLLECTION_S = 0.05  # above this a full collection is a visible stall (3 frames at 60 Hz)


class HeapSettler:
    def __init__(self, loop: asyncio.AbstractEventLoop, slow_s: float = SLOW_FULL_COLLECTION_S) -> None:
        self._loop = loop
        self.slow_s = slow_s
        self._started = 0.0
        self._scheduled = False
        self.freezes = 0
        self.last_full_s = 0.0
        self._installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector, on whatever thread allocated: only note and schedule.
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.last_full_s = time.perf_counter() - self._started
        if self.last_full_s > self.slow_s and not self._scheduled and not self._loop.is_closed():
            self._scheduled = True
            self._loop.call_soon_threadsafe(self._freeze)

    def _freeze(self) -> None:
        self._scheduled = False
        if not self._installed:  # unsettled meanwhile: nothing may stay frozen
            return
        gc.freeze()
        self.freezes += 1
        if log.isEnabledFor(logging.DEBUG):  # get_freeze_count() walks every frozen object: 0.1-0.5 s at 20k rows
            log.debug("full GC took %.0f ms: %d objects moved out of its reach", self.last_full_s * 1000,
                      gc.get_freeze_count())

    def install(self) -> Callable[[], None]:
        self._installed = True
        gc.callbacks.append(self._callback)
        return self.unsettle

    def unsettle(self) -> None:
        """Remove the hook and give the frozen objects back to the collector."""
        self._installed = False
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        gc.unfreeze()


def settle_heap(slow_s: float = SLOW_FULL_COLLECTION_S) -> HeapSettler:
    """Install the hook for the running event loop; call `.unsettle()` when done."""
    settler = HeapSettler(asyncio.get_running_loop(), slow_s)
    settler.install()
    return settler


def skip_final_collection() -> None:
    """For a process about to exit: Python's shutdown runs one last full collection,
    which walks every live object — 0.3 s after an observation of 20,000 pods, for
    nothing, since the memory goes back to the system anyway. Frozen objects are
    skipped. Only at the very end of a process (never in a library call or a test)."""
    gc.freeze()
