"""Whether a freshly read object of a lifecycle step is Healthy (StepHealth), by the rules of
health.py, and which pods belong to a workload."""

from __future__ import annotations

from typing import Any

from backends.kubernetes import health
from backends.kubernetes.logs import selector_string
from tui.core.lifecycle.records import StepHealth
from tui.core.model import Health


def pod_selector(obj: dict[str, Any]) -> str:
    if obj.get("kind") == "Job":
        return f"job-name={obj['metadata']['name']}"
    selector = (obj.get("spec") or {}).get("selector") or {}
    return selector_string(selector) if selector.get("matchLabels") or selector.get("matchExpressions") else ""


def judge(obj: dict[str, Any]) -> StepHealth:
    """Whether one freshly read object is Healthy, and why not."""
    kind = obj.get("kind")
    status = obj.get("status") or {}
    if kind == "Namespace":
        phase = status.get("phase") or "Active"
        return StepHealth(phase == "Active", "" if phase == "Active" else f"namespace is {phase}")
    if kind == "Deployment":
        verdict, reason = health.deployment(obj)
        want = int((obj.get("spec") or {}).get("replicas", 1))
        available = int(status.get("availableReplicas") or 0)
        if verdict is Health.DEGRADED:
            return StepHealth(False, reason or "Deployment failed", terminal=True)
        if verdict is Health.HEALTHY and available >= want:
            return StepHealth(True)
        return StepHealth(False, reason or f"{available}/{want} replicas available")
    if kind == "StatefulSet":
        verdict, reason = health.statefulset(obj)
        want = int((obj.get("spec") or {}).get("replicas", 1))
        ready = int(status.get("readyReplicas") or 0)
        ok = verdict is Health.HEALTHY and ready >= want
        return StepHealth(ok, "" if ok else reason or f"{ready}/{want} replicas ready")
    if kind == "DaemonSet":
        verdict, reason = health.daemonset(obj)
        want = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        ok = verdict is Health.HEALTHY and ready >= want
        return StepHealth(ok, "" if ok else reason or f"{ready}/{want} pods ready")
    if kind == "Job":
        verdict, reason = health.job(obj)
        if verdict is Health.DEGRADED:
            return StepHealth(False, reason, terminal=True)
        return StepHealth(verdict is Health.HEALTHY, "" if verdict is Health.HEALTHY else reason or "Job running")
    if kind == "ReplicaSet":
        verdict, reason = health.replicaset(obj)
        return StepHealth(verdict is Health.HEALTHY, reason, terminal=verdict is Health.DEGRADED)
    if kind == "PersistentVolumeClaim":
        verdict, reason = health.pvc(obj)
        return StepHealth(verdict is Health.HEALTHY, reason, terminal=verdict is Health.DEGRADED)
    return StepHealth(True)  # Service, ConfigMap, Secret and the rest: it exists
