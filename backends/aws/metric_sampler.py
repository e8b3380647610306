"""Latest metric values for the resource tables and the store's sparklines.

CloudWatch is queried (one batched `get_metric_data`) in the background, at most once
per `interval_s`: GetMetricData is billed per metric, EC2 basic monitoring only has
5-minute points anyway, and a slow CloudWatch must never slow the inventory pass.
Each observe pass attaches the latest values to the resources and hands over the
samples that arrived since the previous pass. A refusal or failure of CloudWatch
never fails an observation: metrics are optional.
"""

from __future__ import annotations

import asyncio
import logging
import time

from backends.aws.clients import AwsClients
from backends.aws.cloudwatch_metrics import METRICS, fetch_metrics
from tui.core.errors import BackendError
from tui.core.model import Resource

log = logging.getLogger(__name__)


class MetricSampler:
    def __init__(self, clients: AwsClients, *, interval_s: float = 60.0, window_s: float = 900.0):
        self.clients = clients
        self.interval_s = interval_s
        self.window_s = window_s
        self._latest: dict[str, dict[str, float]] = {}
        self._pending: list[tuple[str, str, float]] = []
        self._queried_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    def _due(self) -> bool:
        return self._queried_at is None or time.monotonic() - self._queried_at >= self.interval_s

    async def _query(self, targets: list[Resource]) -> None:
        try:
            series = await fetch_metrics(self.clients, targets, self.window_s)
        except BackendError as exc:
            if self.last_error != str(exc):
                log.warning("CloudWatch metrics unavailable: %s", exc)
            self.last_error = str(exc)
            return
        self.last_error = None
        latest: dict[str, dict[str, float]] = {}
        for s in series:
            value = s.points[-1][1]
            latest.setdefault(s.resource, {})[s.name] = value
            self._pending.append((s.resource, s.name, value))
        self._latest = latest

    def sample(self, resources: list[Resource]) -> list[tuple[str, str, float]]:
        """Samples (resource id, metric, value) that arrived since the last call; sets
        `Resource.metrics` from the latest values and starts a query when one is due."""
        if self._due() and (self._task is None or self._task.done()):
            targets = [r for r in resources if r.kind in METRICS and not r.attributes.get("placeholder")]
            self._queried_at = time.monotonic()
            if targets:
                self._task = asyncio.get_running_loop().create_task(self._query(targets))
        samples, self._pending = self._pending, []
        for res in resources:
            res.metrics = dict(self._latest.get(res.id, {}))
        return samples

    async def wait_idle(self) -> None:
        """Wait for a query in flight (tests, and close())."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
