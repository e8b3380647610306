"""The compliance score counts only what a rule assessed: on the emulator, thousands of plain
ConfigMaps created through the Kubernetes API (and the pods a Deployment owns) leave it as it
was, and `envdeck status --json` never reports a finding-bearing environment as 100."""

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
    assert before.compliance_score() == 50.0
    assert sum(1 for r in before.all_resources() if r.kind == "Pod") == 6

    await _create_configmaps(emulator.url, CONFIGMAPS)
    after = _state(await eventually(
        lambda: _count_configmaps(backend), f"{CONFIGMAPS} configmaps observed"))
    assert len(after.all_resources()) >= len(before.all_resources()) + CONFIGMAPS
    assert (after.compliance().assessed, after.compliance().clean) == (2, 1)
    assert after.compliance_score() == 50.0
    assert after.compliance().text() == "50.0%"
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
    assert env["compliance_score"] == 97.5  # 40 of 41 = 97.56..., rounded down
    findings = sum(len(r["findings"]) for r in env["resources"])
    assert findings > 0 and env["compliance_score"] < 100
