"""Inventory, health mapping, faults, events, compliance and secrets against the
emulator, read through the official client's kubeconfig loading."""

from __future__ import annotations

import base64

from backends.kubernetes.compliance import RULES
from tests.kubernetes.support import NS, by_id, eventually
from tui.core.model import Health, Severity


async def _healthy(backend, *ids):
    async def check():
        found = by_id(await backend.observe())
        return all(i in found and found[i].health is Health.HEALTHY for i in ids) and found
    return await eventually(check, f"{ids} healthy")


async def test_every_kind_is_listed_with_its_health(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=2)
    emulator.create_statefulset(NS, "db", replicas=2)
    emulator.create_daemonset(NS, "agent")
    emulator.create_job(NS, "migrate")
    emulator.create_job(NS, "broken", succeed=False)
    emulator.create_service(NS, "web", selector={"app": "web"})
    emulator.create_pvc(NS, "data")
    emulator.create_configmap(NS, "settings", {"a": "value-not-shown"})
    found = await _healthy(backend, "kubernetes/Deployment/web", "kubernetes/StatefulSet/db",
                           "kubernetes/DaemonSet/agent", "kubernetes/Job/migrate", "kubernetes/Service/web",
                           "kubernetes/PersistentVolumeClaim/data", "kubernetes/Node/node-1")
    kinds = {r.kind for r in found.values()}
    assert {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "Service", "Job",
            "PersistentVolumeClaim", "Node"} <= kinds
    settings = found["kubernetes/ConfigMap/settings"]  # shown since discovery (issue 17): keys and sizes only
    assert settings.attributes["keys"] == {"a": 15} and "value-not-shown" not in repr(settings.attributes)
    web = found["kubernetes/Deployment/web"]
    assert web.status == "2/2" and web.attributes["replicas"] == 2
    assert web.attributes["images"] == {"web": "nginx:1.27"}
    assert web.backend == "kubernetes" and web.created_at is not None
    pods = [r for r in found.values() if r.kind == "Pod" and r.attributes["owner"].startswith("ReplicaSet/")]
    assert len(pods) == 2 and all(p.status == "Running" and p.health is Health.HEALTHY for p in pods)
    assert found["kubernetes/PersistentVolumeClaim/data"].status == "Bound"
    broken = await eventually(
        lambda: _get(backend, "kubernetes/Job/broken", lambda r: r.health is Health.DEGRADED), "failed job")
    assert broken.status.startswith("Failed")


async def _get(backend, rid, pred):
    r = by_id(await backend.observe()).get(rid)
    return r if r is not None and pred(r) else None


async def test_deployment_progress_and_deadline(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=2)
    await _healthy(backend, "kubernetes/Deployment/web")
    emulator.pod_start_delay_s = 3600.0  # new pods stay Pending: the rollout cannot finish
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 4}})
    web = await eventually(lambda: _get(backend, "kubernetes/Deployment/web",
                                        lambda r: r.health is Health.PROGRESSING), "progressing")
    assert "Waiting for rollout to finish" in web.health_reason
    emulator.set_deployment_condition(NS, "web", "Progressing", "False", reason="ProgressDeadlineExceeded",
                                      message="ReplicaSet has timed out progressing.")
    web = await eventually(lambda: _get(backend, "kubernetes/Deployment/web",
                                        lambda r: r.health is Health.DEGRADED), "degraded")
    assert "progress deadline" in web.health_reason
    obs = await backend.observe()
    assert any(f.resource == web.id and f.reason == "ProgressDeadlineExceeded" for f in obs.faults)


async def test_injected_pod_faults_are_degraded_with_reason_and_reported(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=4)
    await _healthy(backend, "kubernetes/Deployment/web")
    pods = sorted(emulator.pod_names(NS, "app=web"))
    kinds = ["CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "NotReady"]
    for pod, kind in zip(pods, kinds, strict=True):
        emulator.inject_fault(NS, pod, kind)

    async def all_reported():
        obs = await backend.observe()
        reasons = {(f.resource, f.reason) for f in obs.faults}
        return all((f"kubernetes/Pod/{p}", k) in reasons for p, k in zip(pods, kinds, strict=True)) and obs
    obs = await eventually(all_reported, "faults for every injected pod")
    found = by_id(obs)
    for pod, kind in zip(pods, kinds, strict=True):
        res = found[f"kubernetes/Pod/{pod}"]
        if kind == "NotReady":
            assert res.health is Health.PROGRESSING
        else:
            assert res.health is Health.DEGRADED and res.health_reason.startswith(kind), res.health_reason
    crash = next(f for f in obs.faults if f.resource == f"kubernetes/Pod/{pods[0]}" and f.reason == "CrashLoopBackOff")
    assert crash.severity is Severity.HIGH and crash.count >= 1 and crash.last_seen is not None
    # The kubelet-style Warning events are faults too, and timeline events.
    assert any(f.reason == "BackOff" and f.resource == f"kubernetes/Pod/{pods[0]}" for f in obs.faults)
    web = found["kubernetes/Deployment/web"]
    assert web.health is not Health.HEALTHY or web.attributes["ready_replicas"] < 4
    emulator.inject_fault(NS, pods[0], None)
    cleared = await eventually(lambda: _get(backend, f"kubernetes/Pod/{pods[0]}",
                                            lambda r: r.health is Health.HEALTHY), "cleared fault")
    assert cleared.status == "Running"


async def test_warning_events_counts_and_new_events_only(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=1)
    await _healthy(backend, "kubernetes/Deployment/web")
    await backend.observe()  # consume what exists
    emulator.add_event(NS, "Deployment", "web", "FailedCreate", "quota exceeded", type="Warning", count=3)
    emulator.add_event(NS, "Deployment", "web", "ScalingReplicaSet", "Scaled up", type="Normal")
    obs = await backend.observe()
    new = {(e.resource, e.reason, e.type) for e in obs.events}
    assert ("kubernetes/Deployment/web", "FailedCreate", "Warning") in new
    assert ("kubernetes/Deployment/web", "ScalingReplicaSet", "Normal") in new
    fault = next(f for f in obs.faults if f.reason == "FailedCreate")
    assert fault.count == 3 and fault.resource == "kubernetes/Deployment/web" and fault.last_seen is not None
    assert not any(f.reason == "ScalingReplicaSet" for f in obs.faults)  # Normal events are not faults
    again = await backend.observe()
    assert not any(e.reason in ("FailedCreate", "ScalingReplicaSet") for e in again.events)
    emulator.add_event(NS, "Deployment", "web", "FailedCreate", "quota exceeded", type="Warning")
    repeated = await backend.observe()
    assert [e.count for e in repeated.events if e.reason == "FailedCreate"] == [4]
    assert next(f for f in repeated.faults if f.reason == "FailedCreate").count == 4


RISKY = [{"name": "app", "image": "nginx:latest", "securityContext": {"privileged": True}},
         {"name": "side", "image": "busybox"}]
SAFE = [{"name": "app", "image": "nginx:1.27", "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
         "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
         "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True}}]


async def test_compliance_findings_on_workloads_both_ways(emulator, backend):
    emulator.create_deployment(NS, "risky", replicas=1, containers=RISKY)
    emulator.create_deployment(NS, "safe", replicas=1, containers=SAFE)
    emulator.create("pods", {"apiVersion": "v1", "kind": "Pod",
                             "metadata": {"name": "bare", "namespace": NS},
                             "spec": {"hostPID": True, "containers": RISKY[:1]}})
    found = await eventually(lambda: _with(backend, "kubernetes/Deployment/risky", "kubernetes/Deployment/safe",
                                           "kubernetes/Pod/bare"), "workloads")
    risky = {f.rule for f in found["kubernetes/Deployment/risky"].findings}
    assert risky == set(RULES) - {"k8s-host-namespace"}
    assert found["kubernetes/Deployment/safe"].findings == []
    bare = found["kubernetes/Pod/bare"].findings
    assert {"k8s-host-namespace", "k8s-privileged"} <= {f.rule for f in bare}
    assert all(f.resource == "kubernetes/Pod/bare" and f.severity and f.message for f in bare)
    # A controller's pods carry no copies of their template's findings.
    owned = [r for r in found.values() if r.kind == "Pod" and r.attributes.get("owner")]
    assert owned and all(r.findings == [] for r in owned)
    assert backend.evaluate_compliance(list(found.values()))


async def _with(backend, *ids):
    found = by_id(await backend.observe())
    return found if all(i in found for i in ids) else None


async def test_secret_values_never_reach_resources(emulator, backend):
    planted = "s3cr3t-VALUE-do-not-show"
    encoded = base64.b64encode(planted.encode()).decode()
    emulator.create_secret(NS, "db-creds", {"password": planted, "user": "admin-" + planted})
    emulator.patch("secrets", NS, "db-creds", {"metadata": {"annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": f'{{"data":{{"password":"{encoded}"}}}}'}}})
    obs = await backend.observe()
    secret = by_id(obs)["kubernetes/Secret/db-creds"]
    assert secret.attributes["keys"] == ["password", "user"]
    everything = repr(obs) + "".join(repr(r.to_json()) for r in obs.resources)
    assert planted not in everything and encoded not in everything
    assert "annotations" not in secret.attributes
