"""Full (generation 2) garbage collections in idle time instead of during interaction.

Python 3.11 runs a full collection when generation 1 has been collected more than `threshold2`
times (10) since the last full one and the objects promoted meanwhile are at least a quarter of
the long-lived ones that survived it. With several 20,000-row environments that heap is large
and a full pass costs 20-60 ms; landing in an environment switch or a filter keystroke it is
most of what goes over the frame budget (docs/benchmarks.md). The second condition is nearly
always true here (the heap settler, tui/core/heap.py, freezes what survived a slow pass, so
few long-lived objects are counted), so the count decides: a cold visit of a 20k-row
environment runs ~7 generation-1 passes, 40 filter keystrokes ~25.

`IdleCollector.tick(idle_for_s)` is called by the app's tick with the time since the last key
or mouse press: once the app has been idle for `idle_s` and generation 1 was collected since
the last full pass (`gc.get_count()[2]`: objects were promoted), it runs one (`gc.collect()`),
one per idle stretch: not again until a key or mouse press ends it (with 1,000 pod changes/s
arriving, repeated passes while idle cost 30-300 ms each over the fresh Resources and delayed
the updates shown: bench.k8s_scale10). While it is installed, `threshold2` is
GEN2_THRESHOLD instead of 10: input comes back to a heap with no full pass due for a while, and
a full pass still comes every GEN2_THRESHOLD generation-1 passes when there is never an idle
moment. Nothing is frozen here; the heap settler sees the pass and acts as on any slow one."""

from __future__ import annotations

import gc
import time

IDLE_S = 1.5  # no key or mouse input for this long: a full collection may run
GEN2_THRESHOLD = 40  # generation-1 passes between full collections (Python's default: 10)


class IdleCollector:
    def __init__(self, *, idle_s: float = IDLE_S) -> None:
        self.idle_s = idle_s
        self.collections = 0  # full collections run by this collector
        self.last_ms = 0.0  # wall time of the last one
        self._last_at = -float("inf")  # time.monotonic() when the last one ended
        self._saved_threshold: tuple[int, int, int] | None = None

    def install(self) -> None:
        """Raise generation 2's threshold (kept if already higher) until `uninstall()`."""
        if self._saved_threshold is None:
            self._saved_threshold = gc.get_threshold()
            first, second, third = self._saved_threshold
            gc.set_threshold(first, second, max(third, GEN2_THRESHOLD))

    def uninstall(self) -> None:
        if self._saved_threshold is not None:
            gc.set_threshold(*self._saved_threshold)
            self._saved_threshold = None

    def due(self) -> bool:
        """Objects were promoted to the long-lived generation since the last full collection."""
        return gc.isenabled() and gc.get_count()[2] >= 1

    def tick(self, idle_for_s: float) -> bool:
        """One full collection if the app has been idle `idle_for_s` >= `idle_s` and one is worth it
        (True: it ran)."""
        self.install()
        if idle_for_s < self.idle_s or not self.due():
            return False
        if time.monotonic() - self._last_at < idle_for_s:
            return False  # one ran in this idle stretch already
        started = time.perf_counter()
        gc.collect()
        self.last_ms = (time.perf_counter() - started) * 1000
        self.collections += 1
        self._last_at = time.monotonic()
        return True
