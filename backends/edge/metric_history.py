"""The host metric samples the edge backend keeps in memory for `metrics()`.

The store keeps the long history; this is the recent window (bounded per
series), so that `metrics()` answers without a round trip to the node.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from tui.core.model import MetricSeries

MAX_POINTS = 2880  # a day at a 30 s interval


def unit_of(name: str) -> str:
    if name in ("cpu", "memory") or name.startswith("disk:"):
        return "%"
    if name in ("uptime", "clock_skew"):
        return "s"
    return ""


class MetricHistory:
    def __init__(self, max_points: int = MAX_POINTS):
        self._max = max_points
        self._series: dict[tuple[str, str], deque[tuple[datetime, float]]] = {}

    def add(self, at: datetime, samples: list[tuple[str, str, float]]) -> None:
        for resource, name, value in samples:
            points = self._series.get((resource, name))
            if points is None:
                points = self._series[(resource, name)] = deque(maxlen=self._max)
            points.append((at, value))

    def window(self, resource: str | None, window_s: float, now: datetime) -> list[MetricSeries]:
        start = now - timedelta(seconds=window_s)
        out = []
        for (res, name), points in self._series.items():
            if resource is not None and res != resource:
                continue
            kept = [(t, v) for t, v in points if t >= start]
            if kept:
                out.append(MetricSeries(res, name, unit_of(name), kept))
        return out
