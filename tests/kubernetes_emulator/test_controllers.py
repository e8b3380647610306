"""The emulated controllers: Deployment → ReplicaSet → Pods, rollouts, faults, StatefulSet,
DaemonSet, Job, garbage collection; every object the emulator produces deserializes into the
official client's typed models."""

from __future__ import annotations

import json
import re

from kubernetes import client

from backends.sim.k8s_emulator import Emulator
from backends.sim.k8s_emulator.demo_seed import seed_demo
from tests.kubernetes_emulator.support import Cluster, wait_for


def _conditions(deployment) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in deployment.status.conditions}


def test_deployment_creates_replicaset_and_pods_that_follow_replicas(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=3)
    apps, core = cluster.apps, cluster.core
    [rs] = apps.list_namespaced_replica_set("staging").items
    assert rs.metadata.owner_references[0].kind == "Deployment" and rs.metadata.owner_references[0].controller
    pods = core.list_namespaced_pod("staging", label_selector="app=web").items
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(rf"{rs.metadata.name}-[a-z0-9]{{5}}", pod.metadata.name)
        assert pod.status.phase == "Running" and pod.status.container_statuses[0].ready
        assert pod.metadata.owner_references[0].uid == rs.metadata.uid
    d = apps.read_namespaced_deployment("web", "staging")
    assert (d.status.replicas, d.status.ready_replicas, d.status.updated_replicas, d.status.available_replicas) \
        == (3, 3, 3, 3)
    assert _conditions(d) == {"Available": ("True", "MinimumReplicasAvailable"),
                              "Progressing": ("True", "NewReplicaSetAvailable")}
    apps.patch_namespaced_deployment_scale("web", "staging", {"spec": {"replicas": 5}})
    assert len(core.list_namespaced_pod("staging").items) == 5
    scale = apps.read_namespaced_deployment_scale("web", "staging")
    assert scale.spec.replicas == 5 and scale.status.selector == "app=web"
    apps.replace_namespaced_deployment_scale("web", "staging", client.V1Scale(
        metadata=client.V1ObjectMeta(name="web", namespace="staging"), spec=client.V1ScaleSpec(replicas=1)))
    assert len(core.list_namespaced_pod("staging").items) == 1


def test_rollout_restart_annotation_rolls_pods_to_a_new_replicaset(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=2)
    apps, core = cluster.apps, cluster.core
    old_pods = {p.metadata.name for p in core.list_namespaced_pod("staging").items}
    apps.patch_namespaced_deployment("web", "staging", {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}})
    new_pods = {p.metadata.name for p in core.list_namespaced_pod("staging").items}
    assert len(new_pods) == 2 and not (new_pods & old_pods)
    rss = {rs.metadata.name: rs for rs in apps.list_namespaced_replica_set("staging").items}
    assert len(rss) == 2
    revisions = sorted((rs.metadata.annotations["deployment.kubernetes.io/revision"], rs.spec.replicas)
                       for rs in rss.values())
    assert revisions == [("1", 0), ("2", 2)]
    d = apps.read_namespaced_deployment("web", "staging")
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "2"


def test_faults_set_container_states_and_reduce_availability(cluster: Cluster):
    emu = cluster.emu
    emu.create_deployment("staging", "web", replicas=4)
    pods = emu.pod_names("staging", "app=web")
    emu.inject_fault("staging", pods[0], "CrashLoopBackOff")
    emu.inject_fault("staging", pods[1], "OOMKilled")
    emu.inject_fault("staging", pods[2], "ImagePullBackOff")
    emu.inject_fault("staging", pods[3], "NotReady")
    core = cluster.core
    crash = core.read_namespaced_pod(pods[0], "staging").status.container_statuses[0]
    assert crash.state.waiting.reason == "CrashLoopBackOff" and crash.restart_count >= 1 and not crash.ready
    assert crash.last_state.terminated.exit_code == 1
    oom = core.read_namespaced_pod(pods[1], "staging").status.container_statuses[0]
    assert oom.last_state.terminated.reason == "OOMKilled" and oom.last_state.terminated.exit_code == 137
    pull = core.read_namespaced_pod(pods[2], "staging")
    assert pull.status.phase == "Pending"
    assert pull.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
    not_ready = core.read_namespaced_pod(pods[3], "staging")
    assert not_ready.status.container_statuses[0].state.running is not None
    assert {c.type: c.status for c in not_ready.status.conditions}["Ready"] == "False"
    d = cluster.apps.read_namespaced_deployment("web", "staging")
    assert (d.status.ready_replicas or 0) == 0 and d.status.unavailable_replicas == 4
    assert _conditions(d)["Available"] == ("False", "MinimumReplicasUnavailable")
    warnings = {e.reason for e in core.list_namespaced_event("staging", field_selector="type=Warning").items}
    assert {"BackOff", "OOMKilling", "Failed", "Unhealthy"} <= warnings
    for name in pods:
        emu.inject_fault("staging", name, None)
    d = cluster.apps.read_namespaced_deployment("web", "staging")
    assert d.status.available_replicas == 4 and _conditions(d)["Available"][0] == "True"


def test_progress_deadline_condition_can_be_forced(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=1)
    cluster.emu.set_deployment_condition("staging", "web", "Progressing", "False", "ProgressDeadlineExceeded",
                                         'ReplicaSet "web" has timed out progressing.')
    d = cluster.apps.read_namespaced_deployment("web", "staging")
    assert _conditions(d)["Progressing"] == ("False", "ProgressDeadlineExceeded")


def test_pod_start_delay_makes_rollouts_observable(cluster: Cluster):
    cluster.emu.pod_start_delay_s = 0.5
    cluster.emu.create_deployment("staging", "web", replicas=2)
    d = cluster.apps.read_namespaced_deployment("web", "staging")
    assert _conditions(d)["Progressing"] == ("True", "ReplicaSetUpdated") and not d.status.ready_replicas
    pod = cluster.core.list_namespaced_pod("staging").items[0]
    assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    wait_for(lambda: cluster.apps.read_namespaced_deployment("web", "staging").status.ready_replicas == 2,
             what="pods to start")
    d = cluster.apps.read_namespaced_deployment("web", "staging")
    assert _conditions(d)["Progressing"] == ("True", "NewReplicaSetAvailable")


def test_deleted_pods_are_replaced_and_deployment_delete_collects_garbage(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=2)
    core = cluster.core
    victim = core.list_namespaced_pod("staging").items[0].metadata.name
    core.delete_namespaced_pod(victim, "staging")
    names = [p.metadata.name for p in core.list_namespaced_pod("staging").items]
    assert len(names) == 2 and victim not in names
    cluster.apps.delete_namespaced_deployment("web", "staging")
    assert core.list_namespaced_pod("staging").items == []


def test_statefulset_daemonset_job(cluster: Cluster):
    emu = cluster.emu
    emu.add_node("node-2")
    emu.create_statefulset("staging", "db", replicas=3)
    emu.create_daemonset("staging", "agent")
    emu.create_job("staging", "migrate", completions=2)
    emu.create_job("staging", "broken", succeed=False)
    core, apps = cluster.core, cluster.apps
    assert sorted(emu.pod_names("staging", "app=db")) == ["db-0", "db-1", "db-2"]
    apps.patch_namespaced_stateful_set_scale("db", "staging", {"spec": {"replicas": 1}})
    assert emu.pod_names("staging", "app=db") == ["db-0"]
    sts = apps.read_namespaced_stateful_set("db", "staging")
    assert sts.status.ready_replicas == 1 and sts.status.current_revision == sts.status.update_revision
    agents = core.list_namespaced_pod("staging", label_selector="app=agent").items
    assert sorted(p.spec.node_name for p in agents) == ["node-1", "node-2"]
    emu.add_node("node-3")
    assert len(emu.pod_names("staging", "app=agent")) == 3
    assert apps.read_namespaced_daemon_set("agent", "staging").status.number_ready == 3
    batch = client.BatchV1Api(cluster.api_client)
    job = batch.read_namespaced_job("migrate", "staging")
    assert job.status.succeeded == 2 and {c.type for c in job.status.conditions} >= {"Complete"}
    broken = batch.read_namespaced_job("broken", "staging")
    assert broken.status.failed == 1 and "Failed" in {c.type for c in broken.status.conditions}


def test_demo_seed_objects_deserialize_into_typed_models(cluster: Cluster):
    result = cluster.thread.call(seed_demo, cluster.emu, ("staging", "prod"))
    assert result["desired"]["staging"][0] == {"kind": "Deployment", "name": "web", "replicas": 3,
                                               "image": "nginx:1.27"}
    apps, core = cluster.apps, cluster.core
    batch = client.BatchV1Api(cluster.api_client)
    web = apps.read_namespaced_deployment("web", "staging")
    assert web.spec.replicas == 2  # the drift the desired state will report
    for call in (core.list_pod_for_all_namespaces, core.list_event_for_all_namespaces,
                 core.list_service_for_all_namespaces, core.list_secret_for_all_namespaces,
                 core.list_config_map_for_all_namespaces, core.list_node, core.list_namespace,
                 core.list_persistent_volume_claim_for_all_namespaces, apps.list_deployment_for_all_namespaces,
                 apps.list_replica_set_for_all_namespaces, apps.list_stateful_set_for_all_namespaces,
                 apps.list_daemon_set_for_all_namespaces, batch.list_job_for_all_namespaces):
        assert call().items, call.__name__
    faulty = result["faulty_pods"]["staging"]
    crash = core.read_namespaced_pod(faulty["CrashLoopBackOff"], "staging")
    assert crash.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"


def test_bulk_pods_are_running_and_listable(cluster: Cluster):
    cluster.emu.bulk_create_pods("staging", 3000, prefix="bulk")
    listed = cluster.core.list_namespaced_pod("staging", _preload_content=False)
    items = json.loads(listed.data)["items"]
    assert len(items) == 3000 and items[0]["metadata"]["name"] == "bulk-00000"
    assert {i["status"]["phase"] for i in items} == {"Running"}


def test_emulator_without_default_nodes_still_schedules():
    emu = Emulator(nodes=())
    emu.create_deployment("staging", "web", replicas=1)
    [pod] = emu.list("pods", "staging")
    assert pod["spec"]["nodeName"] == "node-1" and pod["status"]["phase"] == "Running"


def test_cordoned_nodes_get_no_new_pods_and_node_readiness_flips(cluster: Cluster):
    emu = cluster.emu
    emu.add_node("node-2")
    cluster.core.patch_node("node-1", {"spec": {"unschedulable": True}})
    emu.create_deployment("staging", "web", replicas=4)
    assert {p["spec"]["nodeName"] for p in emu.list("pods", "staging")} == {"node-2"}
    emu.set_node_ready("node-2", False)
    ready = {c.type: c.status for c in cluster.core.read_node("node-2").status.conditions}["Ready"]
    assert ready == "Unknown"
