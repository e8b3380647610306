"""Faults and timeline events of an environment's AWS resources.

- CloudWatch alarms in ALARM whose dimensions name one of the environment's
  resources, or that carry the environment's tags themselves; such an alarm also
  lowers the health of the resource it watches to Degraded (`alarm_health`);
- failed EC2 status checks (system or instance `impaired`);
- ECS service events: every new one becomes a timeline `Event`; failures since the
  service last reached a steady state become one `Fault` per service.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backends.aws import console_links
from backends.aws.health import is_failure_event
from backends.aws.inventory import Inventory
from tui.core.model import Event, Fault, Health, Resource, Severity, resource_id

_DIMENSION_KINDS = {
    "InstanceId": "ec2-instance",
    "DBInstanceIdentifier": "rds-instance",
    "BucketName": "s3-bucket",
    "VolumeId": "ebs-volume",
    "FunctionName": "lambda-function",
    "AutoScalingGroupName": "autoscaling-group",
    "TableName": "dynamodb-table",
    "QueueName": "sqs-queue",
}
_STEADY = "has reached a steady state"
# What a firing alarm lowers to Degraded. It never raises a health: Unknown ranks below
# Degraded, and Missing/Suspended say more than an alarm on a resource that is gone or off.
_LOWERED_BY_ALARM = {Health.HEALTHY, Health.PROGRESSING, Health.DEGRADED}


def _aware(ts: Any) -> datetime | None:
    if not isinstance(ts, datetime):
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _alarm_dimensions(alarm: dict[str, Any]) -> list[dict[str, str]]:
    dims = list(alarm.get("Dimensions") or [])
    for query in alarm.get("Metrics") or []:  # metric-math alarms
        dims += ((query.get("MetricStat") or {}).get("Metric") or {}).get("Dimensions") or []
    return dims


def alarm_targets(alarm: dict[str, Any]) -> list[str]:
    """Resource ids an alarm's dimensions point at."""
    dims = _alarm_dimensions(alarm)
    values = {d.get("Name"): d.get("Value") for d in dims}
    targets = [resource_id("aws", kind, str(values[name]))
               for name, kind in _DIMENSION_KINDS.items() if values.get(name)]
    for name, kind in (("LoadBalancer", "load-balancer"), ("TargetGroup", "target-group")):
        path = str(values.get(name) or "").split("/")  # app/NAME/ID, net/NAME/ID, targetgroup/NAME/ID
        if len(path) == 3:
            targets.append(resource_id("aws", kind, path[1]))
    if values.get("ClusterName") and values.get("ServiceName"):
        targets.append(resource_id("aws", "ecs-service", f"{values['ClusterName']}/{values['ServiceName']}"))
    return targets


def alarm_faults(inv: Inventory, member_ids: set[str], region: str) -> list[Fault]:
    faults = []
    for alarm in inv.alarms:
        name = alarm.get("AlarmName", "")
        targets = [t for t in alarm_targets(alarm) if t in member_ids]
        if not targets and name not in inv.tagged_alarm_names:
            continue  # someone else's alarm
        reason = alarm.get("StateReason") or "in ALARM"
        for target in targets or [resource_id("aws", "cloudwatch-alarm", name)]:
            faults.append(Fault(
                resource=target, severity=Severity.HIGH, reason="AlarmFiring",
                message=f"alarm {name}: {reason} ({console_links.alarm(region, name)})",
                since=_aware(alarm.get("StateUpdatedTimestamp")),
            ))
    return faults


def alarm_health(resources: list[Resource], inv: Inventory) -> None:
    """Lower to Degraded the health of each resource that an alarm in ALARM watches (by its
    dimensions), naming the alarms first in the health reason; other healths stay as they are."""
    firing: dict[str, set[str]] = {}
    for alarm in inv.alarms:
        for target in alarm_targets(alarm):
            firing.setdefault(target, set()).add(alarm.get("AlarmName", ""))
    for res in resources:
        names = firing.get(res.id)
        if not names or res.health not in _LOWERED_BY_ALARM:
            continue
        label = "alarm" if len(names) == 1 else "alarms"
        why = f"{label} {', '.join(sorted(names))} in ALARM"
        res.health = Health.DEGRADED
        res.health_reason = f"{why}; {res.health_reason}" if res.health_reason else why


def status_check_faults(resources: list[Resource], inv: Inventory) -> list[Fault]:
    faults = []
    for res in resources:
        if res.kind != "ec2-instance":
            continue
        status = inv.instance_status.get(res.attributes.get("instance_id", ""))
        if not status:
            continue
        for label, key in (("system", "SystemStatus"), ("instance", "InstanceStatus")):
            check = status.get(key) or {}
            if check.get("Status") != "impaired":
                continue
            since = next((_aware(d.get("ImpairedSince")) for d in check.get("Details") or []
                          if d.get("ImpairedSince")), None)
            faults.append(Fault(resource=res.id, severity=Severity.HIGH, reason="StatusCheckFailed",
                                message=f"{label} status check failed", since=since))
    return faults


def ecs_faults_and_events(inv: Inventory, seen_event_ids: set[str]) -> tuple[list[Fault], list[Event], set[str]]:
    """Faults from recent failure events, the events not seen before, and the ids seen now."""
    faults: list[Fault] = []
    events: list[Event] = []
    now_seen: set[str] = set()
    for svc in inv.services:
        rid = resource_id("aws", "ecs-service", f"{svc['_cluster']}/{svc['serviceName']}")
        recent_failures = []
        for ev in svc.get("events") or []:  # newest first
            message = ev.get("message", "")
            if _STEADY in message:
                break
            if is_failure_event(message):
                recent_failures.append(ev)
        if recent_failures:
            newest = recent_failures[0]
            faults.append(Fault(resource=rid, severity=Severity.MEDIUM, reason="ServiceEventFailure",
                                message=newest.get("message", ""), count=len(recent_failures),
                                since=_aware(recent_failures[-1].get("createdAt")),
                                last_seen=_aware(newest.get("createdAt"))))
        for ev in reversed(svc.get("events") or []):  # oldest first into the timeline
            ev_id = str(ev.get("id", ""))
            now_seen.add(ev_id)
            if ev_id in seen_event_ids:
                continue
            message = ev.get("message", "")
            events.append(Event(resource=rid, reason="ServiceEvent", message=message,
                                at=_aware(ev.get("createdAt")) or datetime.now(UTC),
                                type="Warning" if is_failure_event(message) else "Normal"))
    return faults, events, now_seen
