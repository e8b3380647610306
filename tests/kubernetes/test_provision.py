"""KubernetesProvisioner against the project's Kubernetes API emulator (its own loop in a thread).

What the provisioner did is counted on the server: through the official client (a client of its
own, from the written kubeconfig), the emulator's store, or kubectl in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from backends.kubernetes.provision import REPLICAS_BEFORE_SLEEP, KubernetesProvisioner
from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tui.core.config import Defaults, KubernetesConfig
from tui.core.errors import BackendDenied, BackendUnreachable, ForeignResource, InvalidRequest
from tui.core.lifecycle.records import K8S_ENV_LABEL, K8S_STEP_LABEL, K8S_TEMPLATE_LABEL, Leftover, StepSpec

ENV = "pr-7"
LABELS = {K8S_ENV_LABEL: ENV, K8S_TEMPLATE_LABEL: "preview"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple]:
    """The emulator on its own loop in a thread (the blocking official client and kubectl talk to
    it while the provisioner runs on the test's loop). No token: kubectl sends no bearer token
    over plain http."""
    thread = EmulatorThread(Emulator(seed=5))
    thread.start()
    thread.emu.add_namespace("staging")
    kubeconfig = thread.emu.write_kubeconfig(tmp_path / "kubeconfig", namespace="staging", context="emulator")
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield thread.emu, kubeconfig, api_client
    finally:
        api_client.close()
        thread.stop()


@pytest.fixture
async def make(cluster):
    made: list[KubernetesProvisioner] = []

    def build(namespace: str = ENV, kubeconfig: str | None = None) -> KubernetesProvisioner:
        cfg = KubernetesConfig(kubeconfig=kubeconfig or str(cluster[1]), context="emulator", namespace=namespace)
        prov = KubernetesProvisioner(ENV, cfg, Defaults(timeout=5), template="preview")
        made.append(prov)
        return prov

    try:
        yield build
    finally:
        for prov in made:
            await prov.close()


def ns_step(name: str = ENV) -> StepSpec:
    return StepSpec(id="namespace", backend="kubernetes", kind="Namespace", fields={"name": name})


def manifest_step(manifest: dict, namespace: str = ENV) -> StepSpec:
    body = json.loads(json.dumps(manifest))
    meta = body.setdefault("metadata", {})
    meta["namespace"] = namespace
    step_id = f"{body['kind']}/{meta['name']}"
    meta["labels"] = {**meta.get("labels", {}), **LABELS}
    return StepSpec(id=step_id, backend="kubernetes", kind=body["kind"], fields={"manifest": body},
                    depends_on=("namespace",))


def deployment(name: str, replicas: int = 2, image: str = "nginx:1.27") -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": image}]}}}}


def statefulset(name: str, replicas: int = 1) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": "postgres:16"}]}}}}


OTHERS = [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "preview"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "x"}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
     "spec": {"template": {"spec": {"restartPolicy": "Never",
                                    "containers": [{"name": "m", "image": "busybox:1.36"}]}}}},
]


async def create_ready(prov: KubernetesProvisioner, step: StepSpec) -> str:
    native_id = await prov.create(step, "token")
    health = await prov.health(step, native_id)
    assert health.healthy, health.reason
    return native_id


async def until(predicate, what: str, timeout_s: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_create_namespace_and_every_kind_with_labels(cluster, make):
    emu, _, api_client = cluster
    prov = make()
    assert await prov.find(ns_step()) is None
    assert await create_ready(prov, ns_step()) == ENV
    ids = {}
    for manifest in [deployment("web"), statefulset("db"), *OTHERS]:
        step = manifest_step(manifest)
        ids[step.id] = await create_ready(prov, step)
    assert ids["Deployment/web"] == f"{ENV}/Deployment/web" and ids["Job/migrate"] == f"{ENV}/Job/migrate"

    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    ns = core.read_namespace(ENV)
    assert ns.metadata.labels[K8S_ENV_LABEL] == ENV and ns.metadata.labels[K8S_TEMPLATE_LABEL] == "preview"
    assert ns.metadata.labels[K8S_STEP_LABEL] == "namespace"
    web = apps.read_namespaced_deployment("web", ENV)
    assert web.metadata.labels[K8S_STEP_LABEL] == "Deployment.web" and web.metadata.labels[K8S_ENV_LABEL] == ENV
    for kind, items in (("ConfigMap", core.list_namespaced_config_map(ENV, label_selector=f"{K8S_ENV_LABEL}={ENV}")),
                        ("Secret", core.list_namespaced_secret(ENV, label_selector=f"{K8S_ENV_LABEL}={ENV}")),
                        ("Service", core.list_namespaced_service(ENV, label_selector=f"{K8S_ENV_LABEL}={ENV}"))):
        assert len(items.items) == 1, kind
        assert items.items[0].metadata.labels[K8S_STEP_LABEL].startswith(f"{kind}.")
    assert len(emu.list("jobs", ENV, f"{K8S_STEP_LABEL}=Job.migrate")) == 1
    assert len(emu.list("statefulsets", ENV, f"{K8S_ENV_LABEL}={ENV}")) == 1


async def test_create_again_adopts_instead_of_duplicating(cluster, make):
    emu, _, _ = cluster
    prov = make()
    await prov.create(ns_step(), "t")
    step = manifest_step(deployment("web"))
    first = await prov.create(step, "t")
    uid = emu.get("deployments", ENV, "web")["metadata"]["uid"]
    again = await make().create(step, "t")  # a resumed engine: a new provisioner, 409 → adopted
    assert again == first and await prov.find(step) == first
    assert await make().create(ns_step(), "t") == ENV
    assert [d["metadata"]["uid"] for d in emu.list("deployments", ENV)] == [uid]
    assert len([n for n in emu.list("namespaces") if n["metadata"]["name"] == ENV]) == 1
    assert len(emu.list("replicasets", ENV)) == 1


async def test_an_unlabelled_object_of_that_name_is_refused_and_left_alone(cluster, make):
    emu, _, _ = cluster
    prov = make()
    await prov.create(ns_step(), "t")
    emu.create_configmap(ENV, "settings", {"owner": "someone else"})
    step = manifest_step(OTHERS[1])
    with pytest.raises(InvalidRequest, match="exists and is not envdeck's"):
        await prov.find(step)
    with pytest.raises(InvalidRequest, match="exists and is not envdeck's"):
        await prov.create(step, "t")
    with pytest.raises(InvalidRequest, match="not envdeck's"):
        await prov.delete(step, f"{ENV}/ConfigMap/settings")
    left = emu.get("configmaps", ENV, "settings")
    assert left["data"] == {"owner": "someone else"} and K8S_ENV_LABEL not in (left["metadata"].get("labels") or {})
    # a namespace likewise: "staging" exists without the label
    with pytest.raises(InvalidRequest, match="Namespace staging exists and is not envdeck.s"):
        await prov.create(ns_step("staging"), "t")
    assert K8S_ENV_LABEL not in (emu.get("namespaces", None, "staging")["metadata"].get("labels") or {})


async def test_deployment_health_follows_availability(cluster, make):
    emu, _, _ = cluster
    prov = make()
    await prov.create(ns_step(), "t")
    step = manifest_step(deployment("web", replicas=2))
    native_id = await prov.create(step, "t")
    await until(lambda: _healthy(prov, step, native_id), "web available")
    pod = emu.pod_names(ENV, "app=web")[0]
    emu.inject_fault(ENV, pod, "NotReady")
    health = await prov.health(step, native_id)
    assert not health.healthy and not health.terminal and "1 of 2" in health.reason
    emu.inject_fault(ENV, pod, None)
    assert (await prov.health(step, native_id)).healthy
    emu.set_deployment_condition(ENV, "web", "Progressing", "False", "ProgressDeadlineExceeded",
                                 'ReplicaSet "web" has timed out progressing.')
    health = await prov.health(step, native_id)
    assert not health.healthy and health.terminal and "progress deadline" in health.reason


async def _healthy(prov, step, native_id) -> bool:
    return (await prov.health(step, native_id)).healthy


async def test_a_never_ready_deployment_reports_image_pull_backoff(cluster, make):
    emu, _, _ = cluster
    prov = make()
    await prov.create(ns_step(), "t")
    step = manifest_step(deployment("web", replicas=1, image="registry.invalid/web:1"))
    native_id = await prov.create(step, "t")
    health = await prov.health(step, native_id)
    assert not health.healthy and not health.terminal
    assert "ImagePullBackOff" in health.reason and "registry.invalid/web:1" in health.reason
    pod = emu.list("pods", ENV, "app=web")[0]
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
    api = manifest_step(deployment("api", replicas=1))
    api_id = await prov.create(api, "t")
    assert (await prov.health(api, api_id)).healthy
    emu.inject_fault(ENV, emu.pod_names(ENV, "app=api")[0], "CrashLoopBackOff")
    health = await prov.health(api, api_id)
    assert not health.healthy and not health.terminal and "CrashLoopBackOff" in health.reason


async def test_a_failed_job_is_terminal(cluster, make):
    emu, _, _ = cluster
    prov = make()
    await prov.create(ns_step(), "t")
    emu.create_job(ENV, "migrate", succeed=False)
    emu.patch("jobs", ENV, "migrate", {"metadata": {"labels": {**LABELS, K8S_STEP_LABEL: "Job.migrate"}}})
    step = manifest_step(OTHERS[3])
    native_id = await prov.find(step)
    assert native_id == f"{ENV}/Job/migrate"
    health = await prov.health(step, native_id)
    assert not health.healthy and health.terminal and "backoff limit" in health.reason


async def test_namespace_delete_takes_everything_and_gone_says_so(cluster, make):
    emu, _, api_client = cluster
    emu.namespace_termination_s = 3600.0  # held Terminating until the test finishes it
    prov = make()
    ns_id = await prov.create(ns_step(), "t")
    web = manifest_step(deployment("web"))
    web_id = await prov.create(web, "t")
    await prov.create(manifest_step(OTHERS[1]), "t")
    await prov.delete(web, web_id)
    assert await prov.gone(web, web_id)
    await prov.create(web, "t")
    await prov.delete(ns_step(), ns_id)
    await prov.delete(ns_step(), ns_id)  # idempotent while it terminates
    core = client.CoreV1Api(api_client)
    assert core.read_namespace(ENV).status.phase == "Terminating"
    assert not await prov.gone(ns_step(), ns_id)
    assert (await prov.health(ns_step(), ns_id)).terminal
    assert await prov.find(ns_step()) is None  # going away: not adopted
    with pytest.raises(BackendUnreachable, match="still being deleted"):
        await prov.create(ns_step(), "t")
    with pytest.raises(BackendDenied, match="being terminated"):
        await prov.create(manifest_step(OTHERS[2]), "t")
    assert emu.list("deployments", ENV) == [] and emu.list("pods", ENV) == [] and emu.list("configmaps", ENV) == []
    assert emu.finish_namespace_terminations() == [ENV]
    assert await prov.gone(ns_step(), ns_id)
    assert ENV not in [n.metadata.name for n in core.list_namespace().items]
    await prov.delete(ns_step(), ns_id)  # gone already: done
    assert await prov.sweep() == []


async def test_sweep_finds_labelled_leftovers_and_deletes_them(cluster, make):
    emu, _, _ = cluster
    emu.add_namespace("staging-extra", labels={K8S_ENV_LABEL: ENV})
    emu.add_namespace("other", labels={K8S_ENV_LABEL: "someone-else"})
    emu.create_configmap("staging", "left", {"k": "v"})
    emu.patch("configmaps", "staging", "left", {"metadata": {"labels": {K8S_ENV_LABEL: ENV}}})
    emu.create_configmap("staging", "theirs", {"k": "v"})
    prov = make(namespace="staging")  # a namespace that is not the environment's: objects in it are swept
    leftovers = await prov.sweep()
    assert leftovers == [Leftover("kubernetes", "Namespace", "staging-extra"),
                         Leftover("kubernetes", "ConfigMap", "staging/ConfigMap/left")]
    for leftover in leftovers:
        await prov.delete_leftover(leftover)
    assert emu.get("configmaps", "staging", "left") is None and emu.get("configmaps", "staging", "theirs")
    assert emu.get("namespaces", None, "staging-extra") is None and emu.get("namespaces", None, "other")
    assert await prov.sweep() == []


async def test_sleep_and_wake_round_trip(cluster, make):
    emu, _, _ = cluster
    prov = make()
    await prov.create(ns_step(), "t")
    for manifest in (deployment("web", replicas=2), statefulset("db", replicas=1)):
        await prov.create(manifest_step(manifest), "t")
    memory = await prov.sleep()
    assert memory == {"kubernetes/Deployment/web": {"replicas": 2}, "kubernetes/StatefulSet/db": {"replicas": 1}}
    assert emu.get("deployments", ENV, "web")["spec"]["replicas"] == 0
    assert emu.get("statefulsets", ENV, "db")["spec"]["replicas"] == 0
    assert emu.list("pods", ENV) == []
    assert await make().sleep() == memory  # repeated after a crash: still the replicas before
    await prov.wake(memory)
    web = emu.get("deployments", ENV, "web")
    assert web["spec"]["replicas"] == 2 and REPLICAS_BEFORE_SLEEP not in (web["metadata"].get("annotations") or {})
    assert emu.get("statefulsets", ENV, "db")["spec"]["replicas"] == 1
    assert len(emu.pod_names(ENV, "app=web")) == 2 and len(emu.pod_names(ENV, "app=db")) == 1


async def test_bad_input_and_unreachable_cluster_are_clear_errors(cluster, make, tmp_path: Path):
    prov = make()
    await prov.create(ns_step(), "t")
    odd = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(InvalidRequest, match="the cluster serves no Widget in example.com/v1"):
        await prov.create(manifest_step(odd), "t")
    no_name = StepSpec(id="ConfigMap/x", backend="kubernetes", kind="ConfigMap",
                       fields={"manifest": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}})
    with pytest.raises(InvalidRequest, match="step ConfigMap/x: the manifest has no metadata.name"):
        await prov.create(no_name, "t")
    dead = tmp_path / "dead-kubeconfig"
    text = Path(cluster[1]).read_text()
    dead.write_text(text.replace(cluster[0].url.rstrip("/"), "http://127.0.0.1:9"))
    with pytest.raises(BackendUnreachable, match="cannot reach"):
        await make(kubeconfig=str(dead)).find(ns_step())


KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (Debian: kubernetes-client)")
async def test_kubectl_sees_the_namespace_label(cluster, make, tmp_path: Path):
    prov = make()
    await prov.create(ns_step(), "t")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "KUBECONFIG": str(cluster[1]), "HOME": str(home)}
    proc = await asyncio.to_thread(subprocess.run, [KUBECTL, "get", "ns", "-l", f"{K8S_ENV_LABEL}={ENV}",
                                                    "-o", "json"], env=env, capture_output=True, text=True,
                                   timeout=90)
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)["items"]
    assert [i["metadata"]["name"] for i in items] == [ENV]
    assert items[0]["metadata"]["labels"][K8S_ENV_LABEL] == ENV
    table = await asyncio.to_thread(subprocess.run, [KUBECTL, "get", "ns", "-l", f"{K8S_ENV_LABEL}=nobody"],
                                    env=env, capture_output=True, text=True, timeout=90)
    assert "No resources found" in table.stderr


async def test_another_instance_of_the_same_name_is_refused_never_adopted(cluster, make):
    """The namespace and objects carry envdeck.io/instance; a second environment of the same name
    (another store) neither adopts nor deletes them, and its sweep reports their labels."""
    emu = cluster[0]
    first, second = make(), make()
    first.bind_instance("a" * 32)
    second.bind_instance("b" * 32)
    assert await first.create(ns_step(), "t") == ENV
    assert emu.get("namespaces", None, ENV)["metadata"]["labels"]["envdeck.io/instance"] == "a" * 32
    with pytest.raises(ForeignResource, match=rf"another envdeck environment named {ENV} \(instance {'a' * 32}\)"):
        await second.find(ns_step())
    with pytest.raises(ForeignResource):
        await second.create(ns_step(), "t")
    with pytest.raises(ForeignResource):
        await second.delete(ns_step(), ENV)
    [leftover] = await second.sweep()
    assert (leftover.kind, leftover.native_id, leftover.instance, leftover.step) == ("Namespace", ENV, "a" * 32,
                                                                                      "namespace")
    with pytest.raises(ForeignResource):
        await second.delete_leftover(leftover)
    assert emu.get("namespaces", None, ENV) is not None
    assert await first.find(ns_step()) == ENV
