"""pods/log (tail, container, previous, timestamps, follow) and metrics.k8s.io."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubernetes_emulator.support import Cluster, wait_for


def _one_pod(cluster: Cluster, containers=None) -> str:
    cluster.emu.create_deployment("staging", "web", replicas=1, containers=containers)
    return cluster.emu.pod_names("staging")[0]


def test_log_tail_and_timestamps(cluster: Cluster):
    pod = _one_pod(cluster)
    for i in range(5):
        cluster.emu.append_log("staging", pod, f"line {i}")
    core = cluster.core
    full = core.read_namespaced_pod_log(pod, "staging")
    assert full.splitlines()[-5:] == [f"line {i}" for i in range(5)]
    assert core.read_namespaced_pod_log(pod, "staging", tail_lines=2).splitlines() == ["line 3", "line 4"]
    stamped = core.read_namespaced_pod_log(pod, "staging", tail_lines=1, timestamps=True)
    stamp, text = stamped.rstrip("\n").split(" ", 1)
    assert text == "line 4" and stamp.endswith("Z") and "T" in stamp and len(stamp.split(".")[1]) == 10


def test_log_container_choice_and_previous(cluster: Cluster):
    pod = _one_pod(cluster, containers=[{"name": "app", "image": "nginx:1.27"},
                                        {"name": "proxy", "image": "envoy:1.31"}])
    core = cluster.core
    with pytest.raises(ApiException) as ambiguous:
        core.read_namespaced_pod_log(pod, "staging")
    assert ambiguous.value.status == 400 and "choose one of: [app proxy]" in ambiguous.value.body
    cluster.emu.append_log("staging", pod, "from proxy", container="proxy")
    assert core.read_namespaced_pod_log(pod, "staging", container="proxy").splitlines()[-1] == "from proxy"
    assert "from proxy" not in core.read_namespaced_pod_log(pod, "staging", container="app")
    with pytest.raises(ApiException) as no_previous:
        core.read_namespaced_pod_log(pod, "staging", container="app", previous=True)
    assert no_previous.value.status == 400
    cluster.emu.append_log("staging", pod, "last words", container="app")
    cluster.emu.inject_fault("staging", pod, "CrashLoopBackOff")
    previous = core.read_namespaced_pod_log(pod, "staging", container="app", previous=True).splitlines()
    assert previous[-2] == "last words" and previous[-1].startswith("panic:")
    assert "last words" not in core.read_namespaced_pod_log(pod, "staging", container="app")


def test_logs_of_a_pod_that_cannot_start_are_refused(cluster: Cluster):
    pod = _one_pod(cluster)
    cluster.emu.inject_fault("staging", pod, "ImagePullBackOff")
    with pytest.raises(ApiException) as waiting:
        cluster.core.read_namespaced_pod_log(pod, "staging")
    assert waiting.value.status == 400 and "waiting to start" in waiting.value.body


def test_follow_streams_appended_lines_in_order(cluster: Cluster):
    pod = _one_pod(cluster)
    resp = cluster.core.read_namespaced_pod_log(pod, "staging", follow=True, tail_lines=0, _preload_content=False)
    received: list[str] = []

    def read() -> None:
        buffer = b""
        for chunk in resp.stream(amt=None, decode_content=False):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                received.append(line.decode())
            if len(received) >= 50:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for i in range(50):
        cluster.emu.append_log("staging", pod, f"event {i}")
    wait_for(lambda: len(received) >= 50, what="50 followed lines")
    resp.release_conn()
    assert received == [f"event {i}" for i in range(50)]


def test_follow_ends_when_the_pod_is_deleted(cluster: Cluster):
    pod = _one_pod(cluster)
    resp = cluster.core.read_namespaced_pod_log(pod, "staging", follow=True, _preload_content=False)
    done = threading.Event()

    def drain() -> None:
        for _ in resp.stream(amt=None, decode_content=False):
            pass
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    cluster.emu.delete("pods", "staging", pod)
    assert done.wait(timeout=60)


def test_pod_and_node_metrics(cluster: Cluster):
    pod = _one_pod(cluster)
    cluster.emu.set_pod_metrics("staging", pod, cpu="250m", memory="128Mi")
    custom = client.CustomObjectsApi(cluster.api_client)
    listed = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "staging", "pods")
    assert listed["kind"] == "PodMetricsList"
    [item] = listed["items"]
    assert item["metadata"]["name"] == pod
    assert item["containers"] == [{"name": "web", "usage": {"cpu": "250m", "memory": "128Mi"}}]
    one = custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", "staging", "pods", pod)
    assert one["window"]
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert nodes["items"][0]["metadata"]["name"] == "node-1" and nodes["items"][0]["usage"]["cpu"].endswith("m")
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", "staging", "pods", "nope")
    assert missing.value.status == 404
