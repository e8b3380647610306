"""Recent values of each resource's key metric, for the sparkline column.

Fed from the resources the reconciler publishes (one value per new Resource
object) and seeded from the store's samples when an environment opens.

A screen built on a switch hands its whole inventory over with `record_later`: only the
rows a frame needs (drawn or measured: `values_of`) are recorded before its first frame,
the rest by `flush` after it (20k resources: ~13 ms out of the switch). Every other read
or write flushes first, so what is kept is what `record` would have kept."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from tui.core.model import Resource

HISTORY_POINTS = 24


KEY_METRICS = ("cpu", "cpu_percent", "CPUUtilization", "load1")


def key_metric(resource: Resource) -> tuple[str, float] | None:
    """The metric shown in tables: cpu first, else the first one the backend gave."""
    metrics = resource.metrics
    if not metrics:
        return None
    for name in KEY_METRICS:
        if name in metrics:
            return name, metrics[name]
    name = next(iter(metrics))
    return name, metrics[name]


class MetricHistory:
    def __init__(self, points: int = HISTORY_POINTS):
        self._points = points
        self._values: dict[str, deque[float]] = {}
        # resource id -> the last Resource object recorded: backends return a new object for
        # every change and the same one otherwise, so identity says "nothing new" (20k: ~2 ms)
        self._seen: dict[str, Resource] = {}
        self._pending: Callable[[], Iterable[Resource]] | None = None  # see record_later

    def record_later(self, resources: Callable[[], Iterable[Resource]]) -> None:
        """`record(resources())`, done by `flush` or by the first read or write that needs it;
        `values_of` records just the resource it is asked about. `resources()` gives the
        inventory as it is when recorded (the objects `values_of` saw, or newer ones)."""
        self.flush()
        self._pending = resources

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def flush(self) -> None:
        """Record what `record_later` was handed (the resources `values_of` did not record yet)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.record(pending())

    def values_of(self, resource: Resource) -> list[float]:
        """`values(resource.id)`, recording `resource` first while `record_later` is pending (the
        table draws or measures a row: one resource, not the whole inventory). `resource` is one
        of the inventory `record_later` stands for: an update of it goes through `record`, which
        records what is pending first."""
        if self._pending is not None and self._seen.get(resource.id) is not resource:
            self._record_one(resource)
        return list(self._values.get(resource.id, ()))

    def _record_one(self, r: Resource) -> None:
        self._seen[r.id] = r
        metric = key_metric(r)
        if metric is not None:
            self._values.setdefault(r.id, deque(maxlen=self._points)).append(float(metric[1]))

    def record(self, resources: Iterable[Resource]) -> None:
        """Record the whole inventory as it is now: a resource recorded before and not in it
        is gone, and its history with it (churned pods would otherwise stay, each with its
        last Resource object, for as long as the screen lives)."""
        if self._pending is not None:
            self.flush()
        if not isinstance(resources, (list, tuple)):
            resources = list(resources)  # read twice when something is gone
        seen = self._seen
        count = 0
        for r in resources:
            count += 1
            if seen.get(r.id) is r:
                continue
            seen[r.id] = r
            metric = key_metric(r)
            if metric is None:
                continue
            self._values.setdefault(r.id, deque(maxlen=self._points)).append(float(metric[1]))
        if len(seen) > count:  # ids were recorded that this inventory lacks (a cheap test: no set built)
            self._forget_absent(resources)

    def _forget_absent(self, resources: Iterable[Resource]) -> None:
        present = {r.id for r in resources}
        self.forget([rid for rid in self._seen if rid not in present])

    def record_samples(self, samples: Iterable[tuple[str, str, float]]) -> None:
        """Samples (resource id, metric, value) of resources without metrics on the
        object: the first of KEY_METRICS each resource has, one point per batch."""
        self.flush()
        chosen: dict[str, tuple[int, float]] = {}
        for rid, name, value in samples:
            if name in KEY_METRICS:
                rank = KEY_METRICS.index(name)
                if rid not in chosen or rank <= chosen[rid][0]:
                    chosen[rid] = (rank, float(value))
        for rid, (_, value) in chosen.items():
            self._values.setdefault(rid, deque(maxlen=self._points)).append(value)

    def latest(self, resource_id: str) -> float | None:
        self.flush()
        values = self._values.get(resource_id)
        return values[-1] if values else None

    def seed(self, resource_id: str, values: Iterable[float]) -> None:
        """Older values from the store, put before what was recorded live (a resource still
        pending in `record_later` gets its live value after them when recorded: the same)."""
        live = list(self._values.get(resource_id, ()))
        merged = deque(list(values)[-self._points:], maxlen=self._points)
        merged.extend(live)
        self._values[resource_id] = merged

    def values(self, resource_id: str) -> list[float]:
        self.flush()
        return list(self._values.get(resource_id, ()))

    def forget(self, resource_ids: Iterable[str]) -> None:
        if self._pending is not None:
            self.flush()
        for rid in resource_ids:
            self._values.pop(rid, None)
            self._seen.pop(rid, None)
