"""Latest metric values for the resource tables and the store's sparklines.

Each observe pass may ask for samples; CloudWatch is queried (one batched
`get_metric_data`) at most once per `interval_s`, since GetMetricData is billed per
metric and EC2 basic monitoring only has 5-minute points anyway. Between queries the
last values stay on the resources, so unchanged resources stay unchanged. A refusal
or failure of CloudWatch never fails the observation: metrics are optional.
"""

from __future__ import annotations

import logging
import time

from backends.aws.clients import AwsClients
from backends.aws.cloudwatch_metrics import METRICS, fetch_metrics
from tui.errors import BackendError
from tui.model import Resource

log = logging.getLogger(__name__)


class MetricSampler:
    def __init__(self, clients: AwsClients, *, interval_s: float = 60.0, window_s: float = 900.0):
        self.clients = clients
        self.interval_s = interval_s
        self.window_s = window_s
        self._latest: dict[str, dict[str, float]] = {}
        self._queried_at: float | None = None
        self.last_error: str | None = None

    def _due(self) -> bool:
        return self._queried_at is None or time.monotonic() - self._queried_at >= self.interval_s

    async def sample(self, resources: list[Resource]) -> list[tuple[str, str, float]]:
        """New samples (resource id, metric, value) when a query was due; sets `Resource.metrics`."""
        samples: list[tuple[str, str, float]] = []
        if self._due():
            targets = [r for r in resources if r.kind in METRICS and not r.attributes.get("placeholder")]
            self._queried_at = time.monotonic()
            try:
                series = await fetch_metrics(self.clients, targets, self.window_s) if targets else []
            except BackendError as exc:
                if self.last_error != str(exc):
                    log.warning("CloudWatch metrics unavailable: %s", exc)
                self.last_error = str(exc)
                series = None
            if series is not None:
                self.last_error = None
                latest: dict[str, dict[str, float]] = {}
                for s in series:
                    value = s.points[-1][1]
                    latest.setdefault(s.resource, {})[s.name] = value
                    samples.append((s.resource, s.name, value))
                self._latest = latest
        for res in resources:
            res.metrics = dict(self._latest.get(res.id, {}))
        return samples
