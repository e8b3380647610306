"""Health of Kubernetes objects, following Argo CD's built-in rules (gitops-engine
`pkg/health`), applied to raw JSON objects.

Each function returns (health, reason); the reason is shown next to the health.
"""

from __future__ import annotations

from typing import Any

from tui.core.model import Health

Verdict = tuple[Health, str]

# Waiting reasons that mean a container cannot start (Argo CD: Err*, *Error, *BackOff).
_BAD_WAITING_EXTRA = {"InvalidImageName", "ContainerCannotRun"}


def _generation_observed(obj: dict[str, Any]) -> bool:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    return int(meta.get("generation") or 0) <= int(status.get("observedGeneration") or 0)


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or ():
        if cond.get("type") == kind:
            return cond
    return None


def deployment(obj: dict[str, Any]) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if spec.get("paused"):
        return Health.SUSPENDED, "Deployment is paused"
    if not _generation_observed(obj):
        return Health.PROGRESSING, "Waiting for rollout to finish: observed deployment generation less than desired generation"
    progressing = _condition(status, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health.DEGRADED, f"Deployment {obj['metadata']['name']!r} exceeded its progress deadline"
    want = spec.get("replicas", 1)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if want is not None and updated < want:
        return Health.PROGRESSING, f"Waiting for rollout to finish: {updated} out of {want} new replicas have been updated..."
    if total > updated:
        return Health.PROGRESSING, f"Waiting for rollout to finish: {total - updated} old replicas are pending termination..."
    if available < updated:
        return Health.PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
    return Health.HEALTHY, ""


def statefulset(obj: dict[str, Any]) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not status.get("observedGeneration") or not _generation_observed(obj):
        return Health.PROGRESSING, "Waiting for statefulset spec update to be observed..."
    want = spec.get("replicas", 1)
    ready = int(status.get("readyReplicas") or 0)
    if want is not None and ready < want:
        return Health.PROGRESSING, f"Waiting for {want - ready} pods to be ready..."
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return Health.HEALTHY, "statefulset has OnDelete update strategy"
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    if partition and want is not None:
        updated = int(status.get("updatedReplicas") or 0)
        if updated < want - partition:
            return Health.PROGRESSING, f"Waiting for partitioned roll out to finish: {updated} out of {want - partition} new pods have been updated..."
        return Health.HEALTHY, ""
    if status.get("updateRevision") and status.get("updateRevision") != status.get("currentRevision"):
        return Health.PROGRESSING, "waiting for statefulset rolling update to complete"
    return Health.HEALTHY, ""


def daemonset(obj: dict[str, Any]) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not _generation_observed(obj):
        return Health.PROGRESSING, "Waiting for rollout to finish: observed daemon set generation less than desired generation"
    if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health.HEALTHY, "daemonset has OnDelete update strategy"
    want = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    if updated < want:
        return Health.PROGRESSING, f"Waiting for daemon set rollout to finish: {updated} out of {want} new pods have been updated..."
    if available < want:
        return Health.PROGRESSING, f"Waiting for daemon set rollout to finish: {available} of {want} updated pods are available..."
    return Health.HEALTHY, ""


def replicaset(obj: dict[str, Any]) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not _generation_observed(obj):
        return Health.PROGRESSING, "Waiting for rollout to finish: observed replica set generation less than desired generation"
    failure = _condition(status, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return Health.DEGRADED, str(failure.get("message") or "ReplicaFailure")
    want = spec.get("replicas", 1)
    available = int(status.get("availableReplicas") or 0)
    if want is not None and available < want:
        return Health.PROGRESSING, f"Waiting for rollout to finish: {available} out of {want} new replicas are available..."
    return Health.HEALTHY, ""


def job(obj: dict[str, Any]) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    for cond in status.get("conditions") or ():
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Failed":
            return Health.DEGRADED, str(cond.get("message") or cond.get("reason") or "Job failed")
        if cond.get("type") == "Complete":
            return Health.HEALTHY, str(cond.get("message") or "")
        if cond.get("type") == "Suspended":
            return Health.SUSPENDED, str(cond.get("message") or "Job is suspended")
    if spec.get("suspend"):
        return Health.SUSPENDED, "Job is suspended"
    return Health.PROGRESSING, ""


def _container_statuses(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]


def bad_waiting_reason(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff") \
        or reason in _BAD_WAITING_EXTRA


def pod(obj: dict[str, Any]) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    for cs in _container_statuses(status):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        if reason and bad_waiting_reason(reason):
            last = ((cs.get("lastState") or {}).get("terminated") or {}).get("reason")
            detail = waiting.get("message") or ""
            if last == "OOMKilled":
                return Health.DEGRADED, _join("OOMKilled", f"{reason}: {detail}" if detail else reason)
            return Health.DEGRADED, _join(reason, detail)
        terminated = (cs.get("state") or {}).get("terminated") or {}
        if terminated.get("reason") == "OOMKilled":
            return Health.DEGRADED, "OOMKilled"
    phase = status.get("phase") or "Unknown"
    if phase == "Pending":
        return Health.PROGRESSING, str(status.get("message") or status.get("reason") or "")
    if phase == "Succeeded":
        return Health.HEALTHY, str(status.get("message") or "")
    if phase == "Failed":
        return Health.DEGRADED, str(status.get("message") or status.get("reason") or "Pod failed")
    if phase != "Running":
        return Health.UNKNOWN, str(status.get("message") or "")
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return Health.PROGRESSING, "Pod is terminating"
    if (spec.get("restartPolicy") or "Always") != "Always":
        return Health.PROGRESSING, str(status.get("message") or "")
    ready = _condition(status, "Ready")
    if ready and ready.get("status") == "True":
        return Health.HEALTHY, str(status.get("message") or "")
    for cs in status.get("containerStatuses") or ():
        last = (cs.get("lastState") or {}).get("terminated")
        if last:
            return Health.DEGRADED, _join(str(last.get("reason") or "Terminated"), str(last.get("message") or ""))
    return Health.PROGRESSING, str(status.get("message") or "Pod is not ready")


def pvc(obj: dict[str, Any]) -> Verdict:
    phase = (obj.get("status") or {}).get("phase") or ""
    if phase == "Bound":
        return Health.HEALTHY, ""
    if phase == "Lost":
        return Health.DEGRADED, "PersistentVolumeClaim lost its volume"
    if phase == "Pending":
        return Health.PROGRESSING, "Waiting for a volume to be bound"
    return Health.UNKNOWN, phase


def service(obj: dict[str, Any]) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if spec.get("type") == "LoadBalancer" and not (status.get("loadBalancer") or {}).get("ingress"):
        return Health.PROGRESSING, "Waiting for the load balancer's address"
    return Health.HEALTHY, ""


def node(obj: dict[str, Any]) -> Verdict:
    ready = _condition(obj.get("status") or {}, "Ready")
    if ready is None:
        return Health.UNKNOWN, "no Ready condition"
    if ready.get("status") == "True":
        return Health.HEALTHY, ""
    return Health.DEGRADED, _join(str(ready.get("reason") or "NotReady"), str(ready.get("message") or ""))


def _join(reason: str, detail: str) -> str:
    return f"{reason}: {detail}" if detail and detail != reason else reason
