"""The compliance score counts only what a rule assessed, by control (tui/core/compliance_score.py):
on the emulator, thousands of plain ConfigMaps created through the Kubernetes API (and the pods a
Deployment owns) leave it as it was, forty clean Deployments beside one with findings do not lift
it, and `envdeck status --json` never reports a finding-bearing environment as 100."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.kubernetes.support import NS, eventually, status_environment
from tui.core.env_state import EnvState

CONFIGMAPS = 5000
# passes every pod-spec rule of backends/kubernetes/compliance.py
CLEAN_CONTAINER = {"name": "api", "image": "registry.example/api:1.4.2",
                   "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
                   "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                   "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}


def _state(obs) -> EnvState:
    state = EnvState(name="staging", repair="observe")
    state.resources["kubernetes"] = {r.id: r for r in obs.resources}
    state.revision += 1
    return state


async def _create_configmaps(url: str, count: int) -> None:
    """POST `count` ConfigMaps to the API server, as any workload with `create configmaps` can."""
    gate = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as session:
        async def one(i: int) -> None:
            async with gate:
                body = {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"filler-{i:05d}", "namespace": NS}, "data": {"k": "v"}}
                async with session.post(f"{url}/api/v1/namespaces/{NS}/configmaps", json=body) as resp:
                    assert resp.status == 201, await resp.text()
        await asyncio.gather(*(one(i) for i in range(count)))


async def _observe_with_pods(backend, pods: int):
    async def ready():
        obs = await backend.observe()
        running = [r for r in obs.resources if r.kind == "Pod" and r.status == "Running"]
        return obs if len(running) >= pods else None
    return await eventually(ready, f"{pods} running pods")


async def test_plain_configmaps_and_owned_pods_do_not_change_the_score(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=3)  # nginx:1.27 without limits, probe, non-root: findings
    emulator.create_deployment(NS, "api", replicas=3, containers=[CLEAN_CONTAINER])
    before = _state(await _observe_with_pods(backend, 6))
    score = before.compliance()
    # the two Deployments are assessed (their template); their ReplicaSets and pods are not
    assert (score.assessed, score.clean) == (2, 1)
    assert (score.controls, score.failing) == (7, 2)  # web's: no limits, may run as root
    assert before.compliance_score() == 71.4
    assert sum(1 for r in before.all_resources() if r.kind == "Pod") == 6

    await _create_configmaps(emulator.url, CONFIGMAPS)
    after = _state(await eventually(
        lambda: _count_configmaps(backend), f"{CONFIGMAPS} configmaps observed"))
    assert len(after.all_resources()) >= len(before.all_resources()) + CONFIGMAPS
    assert (after.compliance().assessed, after.compliance().clean) == (2, 1)
    assert after.compliance_score() == 71.4
    assert after.compliance().text() == "71.4%"
    assert after.to_json(include_resources=False)["compliance_assessed"] == 2


async def _count_configmaps(backend):
    obs = await backend.observe()
    return obs if sum(1 for r in obs.resources if r.kind == "ConfigMap") >= CONFIGMAPS else None


async def test_status_json_counts_assessed_resources_and_stays_below_100_with_a_finding(
        emulator, kubeconfig, tmp_path):
    emulator.create_deployment(NS, "web", replicas=1)  # findings
    for i in range(40):
        emulator.create_deployment(NS, f"clean-{i:02d}", replicas=0, containers=[CLEAN_CONTAINER])
    await _create_configmaps(emulator.url, 2000)
    env = await asyncio.to_thread(status_environment, tmp_path, kubeconfig, NS)
    assert env["compliance_assessed"] == 41 and env["compliance_clean"] == 40
    # by control: the forty clean Deployments pass no more controls than one (it read 97.5%)
    assert (env["compliance_controls"], env["compliance_controls_failing"]) == (7, 2)
    assert env["compliance_score"] == 71.4  # 5 of 7 = 71.42..., rounded down
    findings = sum(len(r["findings"]) for r in env["resources"])
    assert findings > 0 and env["compliance_score"] < 100


PRIVILEGED = {"name": "b", "image": "alpine:latest", "securityContext": {"privileged": True}}


async def _post(url: str, path: str, body: dict) -> None:
    async with aiohttp.ClientSession() as session, session.post(f"{url}{path}", json=body) as resp:
        assert resp.status == 201, await resp.text()


async def test_a_cronjob_and_a_workload_owned_by_an_unknown_kind_are_assessed(emulator, backend):
    """Breaker finding, session 12: a privileged CronJob was never assessed (nor its Jobs and pods),
    and a controller ownerReference to a kind envdeck does not evaluate (`Ghost` of example.com) hid
    a privileged Deployment from compliance. Both are assessed, with their findings."""
    await _post(emulator.url, f"/apis/batch/v1/namespaces/{NS}/cronjobs", {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": NS},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "hostPID": True, "containers": [PRIVILEGED]}}}}}})
    ghost = {"apiVersion": "example.com/v1", "kind": "Ghost", "name": "nobody", "uid": "0", "controller": True}
    await _post(emulator.url, f"/apis/apps/v1/namespaces/{NS}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "hidden", "namespace": NS, "ownerReferences": [ghost]},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "hidden"}},
                 "template": {"metadata": {"labels": {"app": "hidden"}}, "spec": {"containers": [PRIVILEGED]}}}})

    async def both():
        obs = await backend.observe()
        found = {r.id: r for r in obs.resources}
        return found if {"kubernetes/CronJob/nightly", "kubernetes/Deployment/hidden"} <= set(found) else None
    found = await eventually(both, "the CronJob and the Deployment")
    for rid in ("kubernetes/CronJob/nightly", "kubernetes/Deployment/hidden"):
        rules = {f.rule for f in found[rid].findings}
        assert found[rid].assessed and "k8s-privileged" in rules, (rid, rules)
    assert "k8s-host-namespace" in {f.rule for f in found["kubernetes/CronJob/nightly"].findings}
    assert "k8s-no-readiness-probe" not in found["kubernetes/CronJob/nightly"].controls  # a job serves nothing
