"""A view rebuilt in a worker, at most once per `interval_s` while its data keeps changing.

The x-ray, versions and compare screens follow an environment that can change many times
a second (a watched namespace), and each rebuild is a worker's work (a graph, a matrix, a
comparison). `ThrottledRefresh` is their shared bookkeeping:

- `changed()` when the data changed; `due()` at each tick: True when something changed, no
  rebuild runs and the last one started at least `interval_s` ago;
- `begin()` before starting a rebuild: False when one runs already (the change is kept for
  the next `due()`), else it counts as started now; `done()` when its result arrived;
- `settled()` when the view is up to date without a rebuild (e.g. a cached result).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ThrottledRefresh:
    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.running = False  # a worker is rebuilding the view
        self.dirty = False  # the data changed since the rebuild shown was started
        self.started_at = 0.0  # when that rebuild was started (clock)

    def changed(self) -> None:
        self.dirty = True

    def due(self) -> bool:
        return self.dirty and not self.running and self.clock() - self.started_at >= self.interval_s

    def begin(self) -> bool:
        if self.running:
            self.dirty = True
            return False
        self.running, self.dirty, self.started_at = True, False, self.clock()
        return True

    def done(self) -> None:
        self.running = False

    def settled(self) -> None:
        self.dirty = False
