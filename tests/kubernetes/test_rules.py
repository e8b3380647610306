"""Health, compliance, drift and quantity rules on raw objects (pure functions, no server).

The same rules run against the emulator in test_inventory.py; here each branch
is pinned with the smallest object that reaches it."""

from __future__ import annotations

import pytest

from backends.kubernetes import compliance, convert, desired, health
from backends.kubernetes.logs import selector_string, split_timestamp
from backends.kubernetes.metrics import parse_quantity
from tui.core.config import WorkloadDesired
from tui.core.model import Health, Resource


def _deploy(replicas=3, generation=2, observed=2, updated=3, total=3, available=3, conditions=(), paused=False):
    return {"metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": replicas, "paused": paused},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                       "availableReplicas": available, "conditions": list(conditions)}}


@pytest.mark.parametrize("obj, expected", [
    (_deploy(), Health.HEALTHY),
    (_deploy(paused=True), Health.SUSPENDED),
    (_deploy(observed=1), Health.PROGRESSING),
    (_deploy(updated=1), Health.PROGRESSING),
    (_deploy(total=4), Health.PROGRESSING),
    (_deploy(available=2), Health.PROGRESSING),
    (_deploy(updated=1, conditions=[{"type": "Progressing", "status": "False",
                                     "reason": "ProgressDeadlineExceeded"}]), Health.DEGRADED),
])
def test_deployment_health_follows_argo_cd(obj, expected):
    assert health.deployment(obj)[0] is expected


def _pod(phase="Running", ready=True, waiting=None, terminated=None, last=None, restart_policy="Always"):
    cs = {"name": "app", "ready": ready, "restartCount": 0, "state": {}, "lastState": {}}
    if waiting:
        cs["state"] = {"waiting": {"reason": waiting, "message": "m"}}
    elif terminated:
        cs["state"] = {"terminated": {"reason": terminated}}
    else:
        cs["state"] = {"running": {}}
    if last:
        cs["lastState"] = {"terminated": {"reason": last, "finishedAt": "2024-01-01T00:00:00Z"}}
    return {"metadata": {"name": "p"}, "spec": {"restartPolicy": restart_policy, "containers": [{"name": "app"}]},
            "status": {"phase": phase, "containerStatuses": [cs],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


@pytest.mark.parametrize("obj, expected, reason", [
    (_pod(), Health.HEALTHY, ""),
    (_pod(phase="Pending", ready=False, waiting="ContainerCreating"), Health.PROGRESSING, ""),
    (_pod(ready=False, waiting="CrashLoopBackOff", last="Error"), Health.DEGRADED, "CrashLoopBackOff"),
    (_pod(ready=False, waiting="CrashLoopBackOff", last="OOMKilled"), Health.DEGRADED, "OOMKilled"),
    (_pod(ready=False, terminated="OOMKilled"), Health.DEGRADED, "OOMKilled"),
    (_pod(phase="Pending", ready=False, waiting="ImagePullBackOff"), Health.DEGRADED, "ImagePullBackOff"),
    (_pod(ready=False), Health.PROGRESSING, ""),
    (_pod(phase="Succeeded", ready=False, terminated="Completed"), Health.HEALTHY, ""),
    (_pod(phase="Failed", ready=False, terminated="Error"), Health.DEGRADED, ""),
])
def test_pod_health_from_phase_and_container_states(obj, expected, reason):
    verdict = health.pod(obj)
    assert verdict[0] is expected
    assert verdict[1].startswith(reason)


def test_job_pvc_service_statefulset_daemonset_health():
    assert health.job({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})[0] is Health.HEALTHY
    assert health.job({"status": {"conditions": [{"type": "Failed", "status": "True",
                                                  "message": "BackoffLimitExceeded"}]}}) == (
        Health.DEGRADED, "BackoffLimitExceeded")
    assert health.job({"spec": {"suspend": True}})[0] is Health.SUSPENDED
    assert health.job({"status": {"active": 1}})[0] is Health.PROGRESSING
    assert health.pvc({"status": {"phase": "Bound"}})[0] is Health.HEALTHY
    assert health.pvc({"status": {"phase": "Pending"}})[0] is Health.PROGRESSING
    assert health.pvc({"status": {"phase": "Lost"}})[0] is Health.DEGRADED
    assert health.service({"spec": {"type": "ClusterIP"}})[0] is Health.HEALTHY
    assert health.service({"spec": {"type": "LoadBalancer"}, "status": {}})[0] is Health.PROGRESSING
    sts = {"metadata": {"generation": 1}, "spec": {"replicas": 2},
           "status": {"observedGeneration": 1, "readyReplicas": 1}}
    assert health.statefulset(sts)[0] is Health.PROGRESSING
    sts["status"].update(readyReplicas=2, currentRevision="a", updateRevision="a")
    assert health.statefulset(sts)[0] is Health.HEALTHY
    ds = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 2,
                                                    "updatedNumberScheduled": 2, "numberAvailable": 1}}
    assert health.daemonset(ds)[0] is Health.PROGRESSING
    ds["status"]["numberAvailable"] = 2
    assert health.daemonset(ds)[0] is Health.HEALTHY


COMPLIANT = {
    "securityContext": {"runAsNonRoot": True},
    "containers": [{"name": "app", "image": "nginx:1.27",
                    "securityContext": {"allowPrivilegeEscalation": False},
                    "resources": {"limits": {"cpu": "1", "memory": "64Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}],
}
NONCOMPLIANT = {
    "hostNetwork": True, "hostPID": True,
    "containers": [{"name": "app", "image": "nginx:latest",
                    "securityContext": {"privileged": True, "allowPrivilegeEscalation": True}},
                   {"name": "side", "image": "busybox"}],
}


def test_compliance_rules_both_ways():
    assert compliance.evaluate_pod_spec("Deployment", "kubernetes/Deployment/ok", COMPLIANT) == []
    found = compliance.evaluate_pod_spec("Deployment", "kubernetes/Deployment/bad", NONCOMPLIANT)
    rules = {f.rule for f in found}
    assert rules == set(compliance.RULES)
    assert all(f.resource == "kubernetes/Deployment/bad" and f.message for f in found)
    # Jobs need no readiness probe; an image pinned by digest is not mutable.
    job = compliance.evaluate_pod_spec("Job", "kubernetes/Job/j", {**COMPLIANT, "containers": [
        {**COMPLIANT["containers"][0], "readinessProbe": None, "image": "busybox@sha256:abc"}]})
    assert job == []
    assert compliance.image_is_mutable("registry:5000/team/app")
    assert not compliance.image_is_mutable("registry:5000/team/app:1.2")


def test_desired_diff_and_image_patch():
    want = [WorkloadDesired(kind="Deployment", name="web", replicas=3, image="nginx:1.27"),
            WorkloadDesired(kind="StatefulSet", name="db", image={"pg": "postgres:16"})]
    web = Resource("kubernetes/Deployment/web", "kubernetes", "Deployment", "web",
                   attributes={"replicas": 1, "images": {"app": "nginx:1.25", "side": "nginx:1.27"}})
    items = desired.diff(want, {web.id: web})
    got = {(i.resource, i.field): (i.desired, i.actual) for i in items}
    assert got[("kubernetes/Deployment/web", "replicas")] == (3, 1)
    assert got[("kubernetes/Deployment/web", "image")] == ("nginx:1.27", {"app": "nginx:1.25", "side": "nginx:1.27"})
    assert got[("kubernetes/StatefulSet/db", "image")] == ({"pg": "postgres:16"}, None)
    web.attributes.update(replicas=3, images={"app": "nginx:1.27", "side": "nginx:1.27"})
    assert [i.resource for i in desired.diff(want, {web.id: web})] == ["kubernetes/StatefulSet/db"]
    assert desired.image_patch("x:1", ["a", "b"]) == {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "x:1"}, {"name": "b", "image": "x:1"}]}}}}
    assert desired.image_patch({"b": "y:2"}, ["a", "b"])["spec"]["template"]["spec"]["containers"] == [
        {"name": "b", "image": "y:2"}]


def test_secret_conversion_keeps_key_names_only():
    planted = "c3VwZXItc2VjcmV0LXZhbHVl"
    obj = {"metadata": {"name": "db", "namespace": "ns", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": planted}},
        "type": "Opaque", "data": {"password": planted}, "stringData": {"token": "plain-secret"}}
    res = convert.secret(obj).resource
    assert res.attributes["keys"] == ["password", "token"]
    text = repr(res) + repr(res.to_json())
    assert planted not in text and "plain-secret" not in text


def test_quantities_timestamps_and_selectors():
    assert parse_quantity("250m") == pytest.approx(0.25)
    assert parse_quantity("12345678n") * 1000 == pytest.approx(12.345678)
    assert parse_quantity("64Mi") == 64 * 2**20
    assert parse_quantity("1.5Gi") == 1.5 * 2**30
    assert parse_quantity("1e3") == 1000
    with pytest.raises(ValueError):
        parse_quantity("12 apples")
    at, text = split_timestamp("2024-05-01T10:00:00.123456789Z hello world")
    assert at is not None and at.year == 2024 and text == "hello world"
    assert split_timestamp("no stamp here") == (None, "no stamp here")
    assert selector_string({"matchLabels": {"app": "web", "tier": "fe"},
                            "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]},
                                                 {"key": "canary", "operator": "DoesNotExist"}]}) == \
        "app=web,tier=fe,env in (a,b),!canary"
