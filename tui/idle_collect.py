"""Full (generation 2) garbage collections in idle time instead of during interaction.

Python 3.11 runs a full collection once more than a quarter of the long-lived heap is new
since the last one. With several 20,000-row environments that heap is large and a full pass
costs 20-60 ms; landing in an environment switch or a filter keystroke it is most of what
goes over the frame budget (docs/benchmarks.md). The collector cannot be asked how close the
next full pass is, but `gc.get_count()[2]` says how many generation-1 passes ran since the
last one, i.e. that objects were promoted to the long-lived generation meanwhile (a full pass
comes due after 10 of them, if those objects are a quarter of what is there).

`IdleCollector.tick(idle_s)` is called by the app's tick with the time since the last key or
mouse press: once the app has been idle for `idle_s` and something was promoted since the last
full pass, it runs one (`gc.collect()`), at most every `min_gap_s` while the idle lasts (the
inventory's updates keep promoting). Input comes back to a heap with no full pass due soon.
Nothing is frozen here; the heap settler (tui/core/heap.py) still sees the pass and acts as on
any slow one."""

from __future__ import annotations

import gc
import time

IDLE_S = 1.5  # no key or mouse input for this long: a full collection may run
MIN_GAP_S = 10.0  # while the idle lasts, at most one full collection this often
MIN_PROMOTIONS = 1  # generation-1 passes since the last full one (gc.get_count()[2]) to make it worth one


class IdleCollector:
    def __init__(self, *, idle_s: float = IDLE_S, min_gap_s: float = MIN_GAP_S) -> None:
        self.idle_s = idle_s
        self.min_gap_s = min_gap_s
        self.collections = 0  # full collections run by this collector
        self.last_ms = 0.0  # wall time of the last one
        self._last_at = -float("inf")  # time.monotonic() when the last one ended

    def due(self) -> bool:
        """Objects were promoted to the long-lived generation since the last full collection."""
        return gc.isenabled() and gc.get_count()[2] >= MIN_PROMOTIONS

    def tick(self, idle_for_s: float) -> bool:
        """One full collection if the app has been idle `idle_for_s` >= `idle_s` and one is worth it
        (True: it ran)."""
        now = time.monotonic()
        if idle_for_s < self.idle_s or now - self._last_at < self.min_gap_s or not self.due():
            return False
        started = time.perf_counter()
        gc.collect()
        self.last_ms = (time.perf_counter() - started) * 1000
        self.collections += 1
        self._last_at = time.monotonic()
        return True
