"""Metric series from CloudWatch `get_metric_data`, batched (500 queries a call, paginated).

The period follows the window so that a series stays around a few hundred points
and respects CloudWatch's retention (1-minute data for 15 days, 5-minute for 63).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from backends.aws.clients import AwsClients
from tui.core.model import MetricSeries, Resource

_PERIODS = (60, 300, 900, 3600, 21600, 86400)
_TARGET_POINTS = 360
_MAX_QUERIES = 500


class MetricDef(NamedTuple):
    name: str  # envdeck's name: cpu, memory, network_in, ...
    namespace: str
    metric: str
    stat: str
    unit: str


METRICS: dict[str, tuple[MetricDef, ...]] = {
    "ec2-instance": (
        MetricDef("cpu", "AWS/EC2", "CPUUtilization", "Average", "%"),
        MetricDef("network_in", "AWS/EC2", "NetworkIn", "Sum", "bytes"),
        MetricDef("network_out", "AWS/EC2", "NetworkOut", "Sum", "bytes"),
    ),
    "rds-instance": (
        MetricDef("cpu", "AWS/RDS", "CPUUtilization", "Average", "%"),
        MetricDef("connections", "AWS/RDS", "DatabaseConnections", "Average", "count"),
    ),
    "ecs-service": (
        MetricDef("cpu", "AWS/ECS", "CPUUtilization", "Average", "%"),
        MetricDef("memory", "AWS/ECS", "MemoryUtilization", "Average", "%"),
    ),
    "lambda-function": (
        MetricDef("invocations", "AWS/Lambda", "Invocations", "Sum", "count"),
        MetricDef("errors", "AWS/Lambda", "Errors", "Sum", "count"),
        MetricDef("throttles", "AWS/Lambda", "Throttles", "Sum", "count"),
    ),
}


def period_for(window_s: float) -> int:
    """The smallest CloudWatch period giving at most ~360 points over the window, never
    finer than the resolution CloudWatch still keeps for data that old."""
    wanted = max(60.0, window_s / _TARGET_POINTS)
    if window_s > 63 * 86400:
        wanted = max(wanted, 3600)
    elif window_s > 15 * 86400:
        wanted = max(wanted, 300)
    for period in _PERIODS:
        if period >= wanted:
            return period
    return int(math.ceil(wanted / 86400) * 86400)


def dimensions(resource: Resource) -> list[dict[str, str]]:
    a = resource.attributes
    if resource.kind == "ec2-instance":
        return [{"Name": "InstanceId", "Value": a.get("instance_id") or resource.id.split("/", 2)[2]}]
    if resource.kind == "rds-instance":
        return [{"Name": "DBInstanceIdentifier", "Value": resource.id.split("/", 2)[2]}]
    if resource.kind == "ecs-service":
        return [{"Name": "ClusterName", "Value": a.get("cluster", "")},
                {"Name": "ServiceName", "Value": a.get("service", resource.name)}]
    if resource.kind == "lambda-function":
        return [{"Name": "FunctionName", "Value": resource.name}]
    return []


async def fetch_metrics(clients: AwsClients, resources: list[Resource], window_s: float,
                        *, now: datetime | None = None) -> list[MetricSeries]:
    end = now or datetime.now(UTC)
    period = period_for(window_s)
    start = end - timedelta(seconds=window_s)
    queries: list[dict[str, Any]] = []
    series: dict[str, MetricSeries] = {}
    for res in resources:
        for mdef in METRICS.get(res.kind, ()):
            qid = f"m{len(queries)}"
            queries.append({"Id": qid, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": mdef.namespace, "MetricName": mdef.metric,
                           "Dimensions": dimensions(res)},
                "Period": period, "Stat": mdef.stat}})
            series[qid] = MetricSeries(resource=res.id, name=mdef.name, unit=mdef.unit)
    for i in range(0, len(queries), _MAX_QUERIES):
        results = await clients.paginate(
            "cloudwatch", "get_metric_data", "MetricDataResults",
            MetricDataQueries=queries[i:i + _MAX_QUERIES], StartTime=start, EndTime=end + timedelta(seconds=period),
            ScanBy="TimestampAscending")
        for result in results:
            target = series.get(result.get("Id", ""))
            if target is None:
                continue
            for ts, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
                ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
                target.points.append((ts.astimezone(UTC), float(value)))
    out = []
    for s in series.values():
        if s.points:
            s.points.sort(key=lambda p: p[0])
            out.append(s)
    return out
