"""Health of the kinds found by discovery (issue 17), objects served by the emulator and read
through the backend: Ingress, HorizontalPodAutoscaler, CronJob, PodDisruptionBudget,
NetworkPolicy/ConfigMap, and the generic status.conditions rule on a custom resource."""

from __future__ import annotations

import pytest

from tests.kubernetes.support import NS, by_id
from tui.core.model import Health

T0, T1 = "2026-01-01T03:00:00Z", "2026-01-02T03:00:00Z"


def _meta(name: str) -> dict:
    return {"name": name, "namespace": NS}


def ingress(name: str, status: dict) -> tuple[str, dict, dict]:
    return "networking.k8s.io/ingresses", {"metadata": _meta(name), "spec": {"rules": [{"host": f"{name}.example.com"}]}}, \
        status


def hpa(name: str, conditions: list[tuple[str, str, str]], replicas: int = 0) -> tuple[str, dict, dict]:
    body = {"metadata": _meta(name), "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                                 "name": "web"}, "minReplicas": 1, "maxReplicas": 4}}
    status = {"currentReplicas": replicas, "desiredReplicas": replicas,
              "conditions": [{"type": t, "status": s, "reason": r, "message": f"{t} {r}",
                              "lastTransitionTime": T0} for t, s, r in conditions]}
    return "autoscaling/horizontalpodautoscalers", body, status


def cronjob(name: str, suspend: bool, status: dict) -> tuple[str, dict, dict]:
    body = {"metadata": _meta(name), "spec": {"schedule": "0 3 * * *", "suspend": suspend, "jobTemplate": {
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b:1"}]}}}}}}
    return "batch/cronjobs", body, status


def pdb(name: str, status: dict) -> tuple[str, dict, dict]:
    body = {"metadata": _meta(name), "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": name}}}}
    return "policy/poddisruptionbudgets", body, {"observedGeneration": 1, **status}


def widget(name: str, status: dict | None) -> tuple[str, dict, dict | None]:
    return "acme.io/widgets", {"apiVersion": "acme.io/v1", "kind": "Widget", "metadata": _meta(name),
                               "spec": {"size": 1}}, status


def cond(kind: str, status: str, reason: str = "", message: str = "") -> dict:
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": T0}


# id → (resource, body, status), expected health, a word its reason contains
CASES: dict[str, tuple[tuple, Health, str]] = {
    "Ingress/lb": (ingress("lb", {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}), Health.HEALTHY, ""),
    "Ingress/no-lb": (ingress("no-lb", {"loadBalancer": {}}), Health.PROGRESSING, "load balancer"),
    "HorizontalPodAutoscaler/ok": (hpa("ok", [("AbleToScale", "True", "ReadyForNewScale"),
                                              ("ScalingActive", "True", "ValidMetricFound"),
                                              ("ScalingLimited", "False", "DesiredWithinRange")], 2),
                                   Health.HEALTHY, ""),
    "HorizontalPodAutoscaler/new": (hpa("new", []), Health.PROGRESSING, "Waiting to Autoscale"),
    "HorizontalPodAutoscaler/no-metrics": (hpa("no-metrics", [("AbleToScale", "True", "SucceededGetScale"),
                                                              ("ScalingActive", "False", "FailedGetResourceMetric")]),
                                           Health.DEGRADED, "FailedGetResourceMetric"),
    "HorizontalPodAutoscaler/cannot-scale": (hpa("cannot-scale", [("AbleToScale", "False", "FailedGetScale")]),
                                             Health.DEGRADED, "FailedGetScale"),
    "HorizontalPodAutoscaler/zero": (hpa("zero", [("AbleToScale", "True", "SucceededGetScale"),
                                                  ("ScalingActive", "False", "ScalingDisabled")]),
                                     Health.SUSPENDED, "ScalingDisabled"),
    "CronJob/paused": (cronjob("paused", True, {}), Health.SUSPENDED, "suspended"),
    "CronJob/fine": (cronjob("fine", False, {"lastScheduleTime": T1, "lastSuccessfulTime": T1}),
                     Health.HEALTHY, "last successful run"),
    "CronJob/running": (cronjob("running", False, {"lastScheduleTime": T1, "lastSuccessfulTime": T0,
                                                   "active": [{"kind": "Job", "name": "running-1"}]}),
                        Health.PROGRESSING, "1 job(s) running"),
    "CronJob/failed": (cronjob("failed", False, {"lastScheduleTime": T1, "lastSuccessfulTime": T0}),
                       Health.DEGRADED, "did not succeed"),
    "PodDisruptionBudget/room": (pdb("room", {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2,
                                              "expectedPods": 3}), Health.HEALTHY, ""),
    "PodDisruptionBudget/blocked": (pdb("blocked", {"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2,
                                                    "expectedPods": 2, "conditions": [cond(
                                                        "DisruptionAllowed", "False", "InsufficientPods")]}),
                                    Health.DEGRADED, "InsufficientPods"),
    "PodDisruptionBudget/unobserved": (("policy/poddisruptionbudgets", pdb("unobserved", {})[1], None),
                                       Health.PROGRESSING, "disruption controller"),
    "Widget/ready": (widget("ready", {"observedGeneration": 1, "conditions": [cond("Ready", "True")]}),
                     Health.HEALTHY, ""),
    "Widget/broken": (widget("broken", {"observedGeneration": 1, "conditions": [
        cond("Ready", "False", "BackendDown", "cannot reach the backend")]}),
                      Health.DEGRADED, "BackendDown: cannot reach the backend"),
    "Widget/synced": (widget("synced", {"conditions": [cond("Synced", "True"), cond("Ready", "Unknown")]}),
                      Health.PROGRESSING, ""),  # Ready is read first: Unknown is not yet healthy
    "Widget/stalled": (widget("stalled", {"conditions": [cond("Stalled", "True", "Quota", "over quota"),
                                                         cond("Ready", "True")]}), Health.DEGRADED, "Quota"),
    "Widget/behind": (widget("behind", {"observedGeneration": 0, "conditions": [cond("Ready", "True")]}),
                      Health.PROGRESSING, "observedGeneration"),
    "Widget/silent": (widget("silent", {"size": 3}), Health.UNKNOWN, ""),
    "Widget/config": (widget("config", None), Health.HEALTHY, ""),
}

WIDGETS = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.acme.io"},
           "spec": {"group": "acme.io", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}]}}


@pytest.fixture
async def observed(emulator, backend):
    emulator.create("apiextensions.k8s.io/customresourcedefinitions", WIDGETS)
    for (resource, body, status), _, _ in CASES.values():
        emulator.create(resource, body)
        if status is not None:
            emulator.set_status(resource, NS, body["metadata"]["name"], status)
    emulator.create("networking.k8s.io/networkpolicies", {"metadata": _meta("deny-all"),
                                                          "spec": {"podSelector": {}}})
    emulator.create_configmap(NS, "settings", {"k": "v"})
    return await backend.observe()


@pytest.mark.parametrize("case", sorted(CASES))
async def test_kind_health(observed, case):
    _, want, reason = CASES[case]
    res = by_id(observed)[f"kubernetes/{case}"]
    assert res.health is want, (case, res.health, res.health_reason)
    assert reason in res.health_reason, (case, res.health_reason)
    faulted = {f.resource for f in observed.faults}
    assert (res.id in faulted) == (want is Health.DEGRADED), "a Degraded verdict of these kinds is also a fault"


async def test_existence_kinds_and_attributes(observed):
    found = by_id(observed)
    assert found["kubernetes/NetworkPolicy/deny-all"].health is Health.HEALTHY
    assert found["kubernetes/ConfigMap/settings"].health is Health.HEALTHY
    lb = found["kubernetes/Ingress/lb"]
    assert lb.attributes["addresses"] == ["203.0.113.7"] and lb.attributes["hosts"] == ["lb.example.com"]
    scaler = found["kubernetes/HorizontalPodAutoscaler/ok"]
    assert scaler.attributes["target"] == "Deployment/web" and scaler.status == "2/2 (1-4)"
    running = found["kubernetes/CronJob/running"]
    assert running.attributes["active_jobs"] == ["running-1"] and running.attributes["last_schedule"] == T1
    blocked = found["kubernetes/PodDisruptionBudget/blocked"]
    assert blocked.attributes["disruptions_allowed"] == 0 and "node drains will block" in blocked.health_reason
    assert found["kubernetes/Widget/behind"].attributes["observed_generation"] == 0
