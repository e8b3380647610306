"""Health of Lambda functions, load balancers, target groups, Auto Scaling groups, DynamoDB
tables and SQS queues from their native records: (Health, reason), and the short STATUS each
shows in the Resources table (the cause at a glance, like a Deployment's `1/2 ready`).

Pure functions, so each mapping is testable against moto's answers and against the states moto
never produces (a failed function update, an unhealthy target, an instance refresh).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from backends.aws.inventory_services import QueueRecord
from tui.core.model import Health

# Target states that mean "registered but not serving": a failing health check, or an instance
# that is stopped or terminated (`unused` with Target.InvalidState).
_FAILING_TARGET_STATES = {"unhealthy", "unhealthy.draining"}
_REFRESH_ACTIVE = {"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"}
_TABLE_PROGRESSING = {"CREATING", "UPDATING", "DELETING", "ARCHIVING", "REPLICATION_NOT_AUTHORIZED"}
_TABLE_DEGRADED = {"INACCESSIBLE_ENCRYPTION_CREDENTIALS", "ARCHIVED"}


class TargetProblem(NamedTuple):
    target: str  # instance id, IP address or Lambda ARN
    port: int | None
    state: str
    reason: str  # the ELB reason code and description, e.g. "Target.Timeout: Request timed out"


def target_failing(description: dict[str, Any]) -> bool:
    health = description.get("TargetHealth") or {}
    state = health.get("State", "")
    return state in _FAILING_TARGET_STATES or (state == "unused" and health.get("Reason") == "Target.InvalidState")


def target_problems(target_group: dict[str, Any]) -> list[TargetProblem]:
    out = []
    for desc in target_group.get("_targets") or []:
        if not target_failing(desc):
            continue
        health = desc.get("TargetHealth") or {}
        reason = ": ".join(p for p in (health.get("Reason"), health.get("Description")) if p)
        target = desc.get("Target") or {}
        out.append(TargetProblem(str(target.get("Id", "")), target.get("Port"), str(health.get("State", "")),
                                 reason or "no reason given"))
    return out


def _target_counts(target_group: dict[str, Any]) -> tuple[int, int, int]:
    """(registered, healthy, initial) targets."""
    states = [(d.get("TargetHealth") or {}).get("State", "") for d in target_group.get("_targets") or []]
    return len(states), states.count("healthy"), states.count("initial")


def target_group_health(target_group: dict[str, Any]) -> tuple[Health, str]:
    total, healthy, initial = _target_counts(target_group)
    problems = target_problems(target_group)
    if not total:
        if target_group.get("LoadBalancerArns"):
            return Health.DEGRADED, "no registered targets"
        return Health.SUSPENDED, "no registered targets; no load balancer"
    counts = f"{healthy}/{total} targets healthy"
    if problems:
        first = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Health.DEGRADED, f"{counts}; {first.target} {first.state}: {first.reason}{more}"
    if initial:
        return Health.PROGRESSING, f"{counts}; {initial} in initial health checks"
    return Health.HEALTHY, counts


def load_balancer_health(lb: dict[str, Any], target_groups: list[dict[str, Any]]) -> tuple[Health, str]:
    state = (lb.get("State") or {}).get("Code", "")
    why = (lb.get("State") or {}).get("Reason")
    if state == "provisioning":
        return Health.PROGRESSING, "provisioning"
    if state in ("failed", "active_impaired"):
        return Health.DEGRADED, f"{state}: {why}" if why else state
    if state != "active":
        return Health.UNKNOWN, f"unknown state {state!r}" if state else "no state"
    failing = []
    for tg in target_groups:
        problems = target_problems(tg)
        if problems:
            total, _, _ = _target_counts(tg)
            failing.append(f"target group {tg.get('TargetGroupName')}: {len(problems)}/{total} targets "
                           f"not serving ({problems[0].target} {problems[0].state}: {problems[0].reason})")
    if failing:
        return Health.DEGRADED, "active; " + "; ".join(failing)
    if not target_groups:
        return Health.HEALTHY, "active; no target groups"
    return Health.HEALTHY, "active"


def lambda_function_health(configuration: dict[str, Any]) -> tuple[Health, str]:
    state = configuration.get("State", "")
    update = configuration.get("LastUpdateStatus", "")
    if state == "Failed":
        return Health.DEGRADED, _with_reason("failed", configuration.get("StateReasonCode"),
                                             configuration.get("StateReason"))
    if update == "Failed":
        return Health.DEGRADED, _with_reason("last update failed", configuration.get("LastUpdateStatusReasonCode"),
                                             configuration.get("LastUpdateStatusReason"))
    if state == "Pending":
        return Health.PROGRESSING, "pending"
    if update == "InProgress":
        return Health.PROGRESSING, "update in progress"
    if state == "Inactive":
        return Health.SUSPENDED, "inactive (idle; the next invocation reactivates it)"
    if state in ("Active", ""):  # older answers carry no state: a listed function is active
        return Health.HEALTHY, "active"
    return Health.UNKNOWN, f"unknown state {state!r}"


def _with_reason(head: str, code: str | None, text: str | None) -> str:
    detail = ": ".join(p for p in (code, text) if p)
    return f"{head}: {detail}" if detail else head


def autoscaling_group_health(group: dict[str, Any]) -> tuple[Health, str]:
    if group.get("Status"):  # only set while the group is being deleted
        return Health.PROGRESSING, str(group["Status"]).lower()
    desired = int(group.get("DesiredCapacity") or 0)
    instances = group.get("Instances") or []
    serving = [i for i in instances if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"]
    counts = f"{len(serving)}/{desired} in service"
    refresh = group.get("_refresh") or {}
    if refresh.get("Status") in _REFRESH_ACTIVE:
        done = refresh.get("PercentageComplete")
        progress = f", {done}% done" if done is not None else ""
        return Health.PROGRESSING, f"{counts}; instance refresh {refresh['Status']}{progress}"
    if desired == 0 and not instances:
        return Health.SUSPENDED, "scaled to 0"
    unhealthy = sorted(str(i.get("InstanceId")) for i in instances if i.get("HealthStatus") == "Unhealthy")
    if len(serving) >= desired and not unhealthy:
        return Health.HEALTHY, counts
    starting = [i for i in instances if str(i.get("LifecycleState", "")).startswith(("Pending", "Warmed:Pending"))]
    if unhealthy:
        return Health.DEGRADED, f"{counts}; unhealthy: {', '.join(unhealthy)}"
    if starting:
        return Health.PROGRESSING, f"{counts}; {len(starting)} launching"
    return Health.DEGRADED, f"{counts}; below desired capacity {desired}, none launching"


def dynamodb_table_health(table: dict[str, Any]) -> tuple[Health, str]:
    status = table.get("TableStatus", "")
    if status in _TABLE_DEGRADED:
        return Health.DEGRADED, status.lower().replace("_", " ")
    if status in _TABLE_PROGRESSING:
        return Health.PROGRESSING, status.lower()
    if status != "ACTIVE":
        return Health.UNKNOWN, f"unknown status {status!r}" if status else "no status"
    building = [f"index {i.get('IndexName')} {str(i.get('IndexStatus')).lower()}"
                for i in table.get("GlobalSecondaryIndexes") or [] if i.get("IndexStatus") not in (None, "ACTIVE")]
    if building:
        return Health.PROGRESSING, "active; " + ", ".join(building)
    return Health.HEALTHY, "active"


def queue_depth(queue: QueueRecord) -> int | None:
    try:
        return int(queue.attributes.get("ApproximateNumberOfMessages", ""))
    except ValueError:
        return None


def sqs_queue_health(queue: QueueRecord) -> tuple[Health, str]:
    depth = queue_depth(queue)
    head = f"{depth} messages" if depth is not None else "depth unknown"
    dlq = queue.dead_letter
    if dlq is not None and dlq.messages:
        return Health.DEGRADED, f"{head}; dead-letter queue {dlq.name} holds {dlq.messages} messages"
    return Health.HEALTHY, head


# -- STATUS: the short cause the Resources table shows -----------------------------------------

def target_group_status(target_group: dict[str, Any]) -> str:
    total, healthy, _ = _target_counts(target_group)
    return f"{healthy}/{total} targets healthy" if total else "no targets"


def load_balancer_status(lb: dict[str, Any], target_groups: list[dict[str, Any]]) -> str:
    """`1/2 targets healthy` over its target groups while active; else its state."""
    state = (lb.get("State") or {}).get("Code", "")
    if state != "active" or not target_groups:
        return state or "no state"
    total = healthy = 0
    for tg in target_groups:
        t, h, _ = _target_counts(tg)
        total, healthy = total + t, healthy + h
    return f"{healthy}/{total} targets healthy" if total else "no targets"


def lambda_function_status(configuration: dict[str, Any]) -> str:
    """`update Failed`/`update InProgress` while the last update is not Successful, else the state."""
    update = configuration.get("LastUpdateStatus", "")
    if update in ("Failed", "InProgress") and configuration.get("State") != "Failed":
        return f"update {update}"
    return str(configuration.get("State") or "Active")


def autoscaling_group_status(group: dict[str, Any]) -> str:
    """`1/2 in service` (healthy instances in service / desired); the deletion status while deleting."""
    if group.get("Status"):
        return str(group["Status"])
    instances = group.get("Instances") or []
    serving = sum(1 for i in instances if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy")
    return f"{serving}/{int(group.get('DesiredCapacity') or 0)} in service"


def sqs_queue_status(queue: QueueRecord) -> str:
    """`3 in DLQ` when its dead-letter queue holds messages, else its depth."""
    dlq = queue.dead_letter
    if dlq is not None and dlq.messages:
        return f"{dlq.messages} in DLQ"
    depth = queue_depth(queue)
    return f"{depth} messages" if depth is not None else "depth unknown"
