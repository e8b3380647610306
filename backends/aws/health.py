"""Health of AWS resources from their native state: (Health, reason).

Pure functions over the records the describe calls return, so each mapping is
testable against moto's real answers and against the states moto never produces
(failed status checks, a failed ECS rollout).
"""

from __future__ import annotations

from typing import Any

from tui.core.model import Health

_EC2_STATE = {
    "pending": Health.PROGRESSING,
    "stopping": Health.PROGRESSING,
    "shutting-down": Health.PROGRESSING,
    "stopped": Health.SUSPENDED,
    "terminated": Health.MISSING,
}

_RDS_PROGRESSING = {
    "backing-up", "configuring-enhanced-monitoring", "configuring-iam-database-auth",
    "configuring-log-exports", "converting-to-vpc", "creating", "delete-precheck", "deleting",
    "maintenance", "modifying", "moving-to-vpc", "rebooting", "renaming",
    "resetting-master-credentials", "starting", "stopping", "storage-optimization", "upgrading",
    "storage-config-upgrade",
}
_RDS_DEGRADED = {
    "failed", "inaccessible-encryption-credentials", "inaccessible-encryption-credentials-recoverable",
    "incompatible-network", "incompatible-option-group", "incompatible-parameters", "incompatible-restore",
    "insufficient-capacity", "restore-error", "storage-full",
}

_FAILURE_WORDS = ("unable", "failed", "failure", "error", "unhealthy", "insufficient")


def ec2_instance_health(instance: dict[str, Any], status: dict[str, Any] | None) -> tuple[Health, str]:
    state = instance.get("State", {}).get("Name", "")
    if state in _EC2_STATE:
        return _EC2_STATE[state], state
    if state != "running":
        return Health.UNKNOWN, f"unknown state {state!r}"
    if status is None:
        return Health.UNKNOWN, "running; status checks not reported"
    checks = {
        "system": status.get("SystemStatus", {}).get("Status", ""),
        "instance": status.get("InstanceStatus", {}).get("Status", ""),
    }
    failed = sorted(name for name, value in checks.items() if value == "impaired")
    if failed:
        return Health.DEGRADED, f"running; {' and '.join(failed)} status check failed"
    if any(v in ("initializing", "insufficient-data") for v in checks.values()):
        return Health.PROGRESSING, "running; status checks " + "/".join(sorted(set(checks.values())))
    return Health.HEALTHY, "running; status checks ok"


def is_failure_event(message: str) -> bool:
    text = message.lower()
    return any(word in text for word in _FAILURE_WORDS)


def ecs_service_health(service: dict[str, Any]) -> tuple[Health, str]:
    status = service.get("status", "")
    if status == "INACTIVE":
        return Health.MISSING, "service inactive"
    if status == "DRAINING":
        return Health.PROGRESSING, "service draining"
    desired = int(service.get("desiredCount") or 0)
    running = int(service.get("runningCount") or 0)
    counts = f"{running}/{desired} tasks running"
    primary = next((d for d in service.get("deployments") or [] if d.get("status") == "PRIMARY"), {})
    if primary.get("rolloutState") == "FAILED":
        return Health.DEGRADED, f"{counts}; deployment failed: {primary.get('rolloutStateReason', '')}".rstrip(": ")
    if desired == 0 and running == 0:
        return Health.SUSPENDED, "scaled to 0"
    if running >= desired:
        return Health.HEALTHY, counts
    recent = (service.get("events") or [])[:3]  # newest first
    failing = int(primary.get("failedTasks") or 0) > 0 or any(
        is_failure_event(e.get("message", "")) for e in recent)
    if failing or running == 0 and int(service.get("pendingCount") or 0) == 0:
        return Health.DEGRADED, f"{counts}; tasks failing to start" if failing else f"{counts}; none pending"
    return Health.PROGRESSING, counts


def rds_instance_health(db: dict[str, Any]) -> tuple[Health, str]:
    status = db.get("DBInstanceStatus", "")
    if status == "available":
        return Health.HEALTHY, status
    if status == "stopped":
        return Health.SUSPENDED, status
    if status in _RDS_PROGRESSING:
        return Health.PROGRESSING, status
    if status in _RDS_DEGRADED:
        return Health.DEGRADED, status
    return Health.UNKNOWN, status or "no status"


def ebs_volume_health(volume: dict[str, Any]) -> tuple[Health, str]:
    state = volume.get("State", "")
    if state in ("available", "in-use"):
        return Health.HEALTHY, state
    if state in ("creating", "deleting"):
        return Health.PROGRESSING, state
    if state == "error":
        return Health.DEGRADED, state
    if state == "deleted":
        return Health.MISSING, state
    return Health.UNKNOWN, state or "no state"
