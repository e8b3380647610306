"""Health of the kinds found by discovery: Ingress, HorizontalPodAutoscaler, CronJob,
PodDisruptionBudget, the kinds that are healthy by existence, and the generic rule
for everything else (custom resources included).

The built-in kinds follow Argo CD's rules (gitops-engine `pkg/health` for Ingress
and HPA, its `resource_customizations` for CronJob and PDB); the generic rule
follows the kstatus conventions (sigs.k8s.io/cli-utils `pkg/kstatus`): a spec not
yet observed is Progressing; Ready/Available/Synced/Succeeded True is Healthy,
False is Degraded with its reason and message; the abnormal-true conditions
Stalled/Failed True are Degraded; Reconciling True is Progressing. Each function
returns (health, reason) like health.py.
"""

from __future__ import annotations

from typing import Any

from backends.kubernetes.health import Verdict, _condition, _join
from tui.core.model import Health

# kstatus' "normal-true" conditions, in the order they are read.
_READY_TYPES = ("Ready", "Available", "Synced", "Succeeded")
_PHASES = {"Running": Health.HEALTHY, "Active": Health.HEALTHY, "Ready": Health.HEALTHY, "Bound": Health.HEALTHY,
           "Available": Health.HEALTHY, "Succeeded": Health.HEALTHY, "Pending": Health.PROGRESSING,
           "Failed": Health.DEGRADED, "Error": Health.DEGRADED}
# HPA conditions Argo CD reads as degraded / healthy (type, reason).
_HPA_DEGRADED = {("AbleToScale", "FailedGetScale"), ("AbleToScale", "FailedUpdateScale"),
                 ("ScalingActive", "FailedGetResourceMetric"), ("ScalingActive", "InvalidSelector")}
_HPA_HEALTHY = {("AbleToScale", "SucceededRescale"), ("ScalingLimited", "DesiredWithinRange"),
                ("ScalingLimited", "TooFewReplicas"), ("ScalingLimited", "TooManyReplicas")}


def generation_pending(obj: dict[str, Any]) -> bool:
    """True when the object has a generation its controller has not observed yet
    (only when the status reports observedGeneration at all, as kstatus reads it)."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    if not isinstance(status, dict) or "observedGeneration" not in status:
        return False
    try:
        return int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0)
    except (TypeError, ValueError):
        return False


def ingress(obj: dict[str, Any]) -> Verdict:
    lb = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if any(isinstance(e, dict) and (e.get("ip") or e.get("hostname")) for e in lb):
        return Health.HEALTHY, ""
    return Health.PROGRESSING, "Waiting for the load balancer's address"


def hpa(obj: dict[str, Any]) -> Verdict:
    status = obj.get("status") or {}
    conditions = [c for c in status.get("conditions") or () if isinstance(c, dict)]
    for cond in conditions:  # what cannot work, before what looks fine
        kind, state, reason = cond.get("type"), cond.get("status"), cond.get("reason")
        message = str(cond.get("message") or reason or kind)
        if kind == "ScalingActive" and state == "False" and reason == "ScalingDisabled":
            return Health.SUSPENDED, message  # the target was scaled to 0: autoscaling is off
        if (kind, reason) in _HPA_DEGRADED or (kind in ("AbleToScale", "ScalingActive") and state == "False"):
            return Health.DEGRADED, _join(str(reason or f"{kind}False"), message)
    for cond in conditions:
        if (cond.get("type"), cond.get("reason")) in _HPA_HEALTHY:
            return Health.HEALTHY, str(cond.get("message") or "")
    able, active = _condition(status, "AbleToScale"), _condition(status, "ScalingActive")
    if able and active and able.get("status") == "True" and active.get("status") == "True":
        return Health.HEALTHY, str(active.get("message") or "")
    return Health.PROGRESSING, "Waiting to Autoscale"


def cronjob(obj: dict[str, Any]) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if spec.get("suspend"):
        return Health.SUSPENDED, "CronJob is suspended"
    last_schedule, last_success = status.get("lastScheduleTime"), status.get("lastSuccessfulTime")
    active = len(status.get("active") or ())
    if not last_schedule:
        return Health.HEALTHY, "CronJob has not been scheduled yet"
    if not last_success or str(last_schedule) > str(last_success):  # RFC 3339 UTC stamps sort as text
        if active:
            return Health.PROGRESSING, f"{active} job(s) running (last schedule {last_schedule})"
        return Health.DEGRADED, f"the job scheduled at {last_schedule} did not succeed"
    return Health.HEALTHY, f"last successful run {last_success}"


def pdb(obj: dict[str, Any]) -> Verdict:
    status = obj.get("status") or {}
    if not status or generation_pending(obj):
        return Health.PROGRESSING, "Waiting for the disruption controller to observe the budget"
    expected = int(status.get("expectedPods") or 0)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if expected and allowed <= 0:
        current, desired = int(status.get("currentHealthy") or 0), int(status.get("desiredHealthy") or 0)
        cond = _condition(status, "DisruptionAllowed") or {}
        reason = str(cond.get("reason") or "InsufficientPods")
        return Health.DEGRADED, (f"{reason}: no disruption allowed ({current} healthy of {expected} pods, "
                                 f"{desired} required); node drains will block")
    return Health.HEALTHY, ""


def existing(obj: dict[str, Any]) -> Verdict:
    """ConfigMap, NetworkPolicy and other pure configuration: healthy by existence."""
    return Health.HEALTHY, ""


def generic(obj: dict[str, Any]) -> Verdict:
    """kstatus-style health of any object; Unknown when its status says nothing we can read.
    An object without any `status` is configuration (Argo CD gives it no health and it
    does not count): Healthy by existence, so it never turns an environment Unknown."""
    meta, status = obj.get("metadata") or {}, obj.get("status")
    if meta.get("deletionTimestamp"):
        return Health.PROGRESSING, "being deleted"
    if not status:
        return Health.HEALTHY, ""
    if not isinstance(status, dict):
        return Health.UNKNOWN, ""
    if generation_pending(obj):
        return Health.PROGRESSING, "the latest spec is not observed yet (observedGeneration < generation)"
    conditions = [c for c in status.get("conditions") or () if isinstance(c, dict)]
    by_type = {str(c.get("type")): c for c in conditions}
    for kind in ("Stalled", "Failed"):  # kstatus' abnormal-true conditions
        cond = by_type.get(kind)
        if cond and cond.get("status") == "True":
            return Health.DEGRADED, _join(str(cond.get("reason") or kind), str(cond.get("message") or ""))
    for kind in _READY_TYPES:
        cond = by_type.get(kind)
        if cond is None:
            continue
        state = cond.get("status")
        if state == "True":
            return Health.HEALTHY, str(cond.get("message") or "")
        if state == "False":
            return Health.DEGRADED, _join(str(cond.get("reason") or f"Not{kind}"), str(cond.get("message") or ""))
        return Health.PROGRESSING, _join(str(cond.get("reason") or f"{kind} Unknown"), str(cond.get("message") or ""))
    reconciling = by_type.get("Reconciling")
    if reconciling and reconciling.get("status") == "True":
        return Health.PROGRESSING, _join(str(reconciling.get("reason") or "Reconciling"),
                                         str(reconciling.get("message") or ""))
    phase = str(status.get("phase") or "")  # operators that report a phase instead of conditions
    if phase in _PHASES:
        return _PHASES[phase], str(status.get("message") or "")
    return Health.UNKNOWN, ""
