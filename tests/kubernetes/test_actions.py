"""Actions as kubectl performs them, checked in the emulator's state."""

from __future__ import annotations

import shlex

import pytest

from backends.kubernetes.actions import RESTART_ANNOTATION, SHELL_SCRIPT
from tests.kubernetes.support import NS, by_id, eventually
from tui.core.errors import InvalidRequest
from tui.core.model import Role


async def _resource(backend, rid):
    async def found():
        return by_id(await backend.observe()).get(rid)
    return await eventually(found, rid)


async def _async(value):
    return value


@pytest.mark.parametrize("kind, create", [
    ("Deployment", lambda e: e.create_deployment(NS, "w", replicas=2)),
    ("StatefulSet", lambda e: e.create_statefulset(NS, "w", replicas=1)),
    ("DaemonSet", lambda e: e.create_daemonset(NS, "w")),
])
async def test_rollout_restart_patches_the_template_annotation(emulator, backend, kind, create):
    create(emulator)
    res = await _resource(backend, f"kubernetes/{kind}/w")
    assert "restart" in {a.name for a in backend.actions(res)}
    plural = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}[kind]
    pods_before = set(emulator.pod_names(NS, "app=w"))
    result = await backend.perform(res, "restart", {})
    assert result.ok
    template = emulator.get(plural, NS, "w")["spec"]["template"]
    assert template["metadata"]["annotations"][RESTART_ANNOTATION] == result.data["restartedAt"]
    assert template["spec"]["containers"][0]["image"]  # the rest of the template is intact
    if kind != "StatefulSet":  # StatefulSet pods keep their names across a rollout
        await eventually(lambda: _async(set(emulator.pod_names(NS, "app=w")).isdisjoint(pods_before)),
                         "pods replaced by the rollout")


async def test_scale_and_bad_params(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=1)
    res = await _resource(backend, "kubernetes/Deployment/web")
    scale = next(a for a in backend.actions(res) if a.name == "scale")
    assert scale.params == ("replicas",) and scale.role is Role.OPERATOR
    result = await backend.perform(res, "scale", {"replicas": "4"})
    assert result.ok and emulator.get("deployments", NS, "web")["spec"]["replicas"] == 4
    await eventually(lambda: _async(len(emulator.pod_names(NS, "app=web")) == 4), "4 pods")
    for bad in ({}, {"replicas": "many"}, {"replicas": "-1"}):
        with pytest.raises(InvalidRequest):
            await backend.perform(res, "scale", bad)
    with pytest.raises(InvalidRequest):
        await backend.perform(res, "reboot", {})


async def test_delete_pod_is_admin_and_destructive(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=1)
    pod_name = (await eventually(lambda: _async(emulator.pod_names(NS, "app=web")), "pod"))[0]
    pod = await _resource(backend, f"kubernetes/Pod/{pod_name}")
    delete = next(a for a in backend.actions(pod) if a.name == "delete")
    assert delete.role is Role.ADMIN and delete.destructive
    assert (await backend.perform(pod, "delete", {})).ok
    await eventually(lambda: _async(emulator.get("pods", NS, pod_name) is None
                                    or emulator.get("pods", NS, pod_name)["metadata"].get("deletionTimestamp")),
                     "pod deleted")


async def test_cordon_and_uncordon_node(emulator, backend):
    node = await _resource(backend, "kubernetes/Node/node-1")
    specs = {a.name: a for a in backend.actions(node)}
    assert specs["cordon"].role is Role.ADMIN and specs["uncordon"].role is Role.ADMIN
    assert (await backend.perform(node, "cordon", {})).ok
    assert emulator.get("nodes", None, "node-1")["spec"]["unschedulable"] is True
    node = await eventually(lambda: _cordoned(backend, True), "cordoned node")
    assert node.status == "Ready,SchedulingDisabled"
    assert (await backend.perform(node, "uncordon", {})).ok
    assert not emulator.get("nodes", None, "node-1")["spec"].get("unschedulable")
    await eventually(lambda: _cordoned(backend, False), "uncordoned node")


async def _cordoned(backend, value):
    node = by_id(await backend.observe())["kubernetes/Node/node-1"]
    return node if node.attributes["unschedulable"] is value else None


async def test_shell_command_is_kubectl_exec_with_same_context(emulator, backend, kubeconfig):
    emulator.create_deployment(NS, "web", replicas=1)
    pod_name = (await eventually(lambda: _async(emulator.pod_names(NS, "app=web")), "pod"))[0]
    pod = await _resource(backend, f"kubernetes/Pod/{pod_name}")
    argv = backend.shell_command(pod)
    assert argv == ["kubectl", "exec", "-it", pod_name, "-n", NS, "--context", "emulator",
                    "--kubeconfig", str(kubeconfig), "--", "sh", "-c", SHELL_SCRIPT]
    assert shlex.split(shlex.join(argv)) == argv
    result = await backend.perform(pod, "shell", {})
    assert result.data["argv"] == argv
    deployment = await _resource(backend, "kubernetes/Deployment/web")
    assert backend.shell_command(deployment) is None


async def test_repair_direct_and_its_guards(emulator, make_backend):
    from tui.core.config import WorkloadDesired

    emulator.create_deployment(NS, "duo", replicas=1, containers=[
        {"name": "app", "image": "app:1"}, {"name": "proxy", "image": "envoy:1.29"}])
    backend = make_backend([WorkloadDesired(kind="Deployment", name="duo", image={"proxy": "envoy:1.30"}),
                            WorkloadDesired(kind="Deployment", name="absent", replicas=2)])
    obs = await backend.observe()
    placeholder = by_id(obs)["kubernetes/Deployment/absent"]
    assert placeholder.health.value == "Missing" and backend.actions(placeholder) == []
    assert by_id(await backend.observe())["kubernetes/Deployment/absent"] is placeholder  # same object
    [drift] = [d for d in backend.diff(obs) if d.resource.endswith("/duo")]
    assert (drift.field, drift.desired, drift.actual) == ("image", {"proxy": "envoy:1.30"}, {"proxy": "envoy:1.29"})
    assert backend.repair_action(drift) == "set-image"
    repaired = await backend.repair(drift)
    assert repaired.ok and repaired.message == "deployment/duo image set: proxy=envoy:1.30", repaired.message
    containers = emulator.get("deployments", NS, "duo")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "app:1"), ("proxy", "envoy:1.30")]
    bad = type(drift)(drift.resource, "image", {"nosuch": "x:1"}, None)
    with pytest.raises(InvalidRequest, match="nosuch"):
        await backend.repair(bad)
    assert len(emulator.get("deployments", NS, "duo")["spec"]["template"]["spec"]["containers"]) == 2
