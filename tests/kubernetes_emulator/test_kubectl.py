"""Conformance with a client nobody here wrote: kubectl in a subprocess against a written kubeconfig.

Skipped (with the reason) only when kubectl is not installed.
"""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from tests.kubernetes_emulator.support import KUBECTL, Cluster, wait_for

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (Debian: kubernetes-client)")


@pytest.fixture
def web(cluster: Cluster) -> Cluster:
    cluster.emu.create_deployment("staging", "web", replicas=3)
    return cluster


def test_get_json_for_pods_deployments_events(web: Cluster, kubectl):
    web.emu.add_event("staging", "Deployment", "web", "FailedCreate", "quota exceeded", count=2)
    pods = json.loads(kubectl("get", "pods", "-o", "json").stdout)
    assert pods["kind"] == "List" and len(pods["items"]) == 3
    assert {p["metadata"]["labels"]["app"] for p in pods["items"]} == {"web"}
    deploys = json.loads(kubectl("get", "deploy", "-o", "json").stdout)
    assert [d["metadata"]["name"] for d in deploys["items"]] == ["web"]
    assert deploys["items"][0]["status"]["readyReplicas"] == 3
    events = json.loads(kubectl("get", "events", "-o", "json").stdout)
    warning = [e for e in events["items"] if e["type"] == "Warning"]
    assert [(e["reason"], e["count"]) for e in warning] == [("FailedCreate", 2)]
    one = json.loads(kubectl("get", "pod", pods["items"][0]["metadata"]["name"], "-o", "json").stdout)
    assert one["kind"] == "Pod"


def test_table_output_uses_server_side_columns(web: Cluster, kubectl):
    web.emu.inject_fault("staging", web.emu.pod_names("staging")[0], "CrashLoopBackOff")
    lines = kubectl("get", "pods").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    statuses = sorted(line.split()[2] for line in lines[1:])
    assert statuses == ["CrashLoopBackOff", "Running", "Running"]
    wide = kubectl("get", "deploy", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                               "SELECTOR"]
    assert wide[1].split()[:2] == ["web", "2/3"] and "nginx:1.27" in wide[1]
    everything = kubectl("get", "all").stdout
    assert "deployment.apps/web" in everything and "replicaset.apps/web-" in everything
    assert "No resources found" in kubectl("get", "pods", "-n", "empty-ns").stderr


def test_describe_deployment_and_pod(web: Cluster, kubectl):
    pod = web.emu.pod_names("staging")[0]
    web.emu.inject_fault("staging", pod, "OOMKilled")
    out = kubectl("describe", "deployment", "web").stdout
    assert "Replicas:               3 desired | 3 updated | 3 total | 2 available | 1 unavailable" in out
    assert "NewReplicaSet:   web-" in out and "ScalingReplicaSet" in out
    pod_out = kubectl("describe", "pod", pod).stdout
    assert "Reason:       OOMKilled" in pod_out and "Exit Code:    137" in pod_out
    assert "OOMKilling" in pod_out  # the Warning event found by field selector


def test_scale_then_pods_follow(web: Cluster, kubectl):
    assert "scaled" in kubectl("scale", "deployment", "web", "--replicas=5").stdout
    assert len(web.emu.pod_names("staging", "app=web")) == 5
    kubectl("scale", "deployment/web", "--replicas=1")
    assert len(web.emu.pod_names("staging", "app=web")) == 1


def test_rollout_restart_rolls_pods_and_status_completes(web: Cluster, kubectl):
    before = set(web.emu.pod_names("staging"))
    assert "restarted" in kubectl("rollout", "restart", "deployment", "web").stdout
    after = set(web.emu.pod_names("staging"))
    assert len(after) == 3 and not (before & after)
    template = web.emu.get("apps/deployments", "staging", "web")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    assert "successfully rolled out" in kubectl("rollout", "status", "deployment", "web", "--timeout=60s").stdout


def test_logs_and_follow(web: Cluster, kubectl):
    pod = web.emu.pod_names("staging")[0]
    web.emu.append_log("staging", pod, "hello from the emulator")
    assert kubectl("logs", pod).stdout.splitlines()[-1] == "hello from the emulator"
    assert kubectl("logs", pod, "--tail=1").stdout == "hello from the emulator\n"
    proc = subprocess.Popen([KUBECTL, "logs", "-f", "--tail=0", pod], env=kubectl.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        # kubectl connects asynchronously: keep appending until the follower has seen a line
        n = 0

        def appended_and_seen() -> bool:
            nonlocal n
            web.emu.append_log("staging", pod, f"followed {n}")
            n += 1
            return any(line.startswith("followed") for line in seen)

        wait_for(appended_and_seen, timeout=60, interval=0.2, what="kubectl logs -f to print a line")
        web.emu.append_log("staging", pod, "the end")
        wait_for(lambda: "the end\n" in seen, timeout=60, what="the last line")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    followed = [line for line in seen if line.startswith("followed")]
    assert followed == sorted(followed, key=lambda s: int(s.split()[1]))  # in order, no duplicates


def test_selectors(web: Cluster, kubectl):
    web.emu.create_deployment("staging", "api", replicas=2)
    web.emu.inject_fault("staging", web.emu.pod_names("staging", "app=api")[0], "ImagePullBackOff")
    names = kubectl("get", "pods", "-l", "app=web", "-o", "name").stdout.split()
    assert len(names) == 3 and all(n.startswith("pod/web-") for n in names)
    running = kubectl("get", "pods", "--field-selector", "status.phase=Running", "-o", "name").stdout.split()
    assert len(running) == 4
    set_based = kubectl("get", "pods", "-l", "app in (api),app notin (web)", "-o", "name").stdout.split()
    assert len(set_based) == 2


def test_delete_pod_is_replaced(web: Cluster, kubectl):
    victim = web.emu.pod_names("staging")[0]
    assert f'pod "{victim}" deleted' in kubectl("delete", "pod", victim).stdout
    names = web.emu.pod_names("staging")
    assert victim not in names and len(names) == 3


def test_patch_each_type(web: Cluster, kubectl):
    kubectl("patch", "deployment", "web", "-p", '{"spec":{"replicas":2}}')
    assert web.emu.get("apps/deployments", "staging", "web")["spec"]["replicas"] == 2
    kubectl("patch", "deployment", "web", "--type", "merge", "-p", '{"metadata":{"labels":{"team":"core"}}}')
    assert web.emu.get("apps/deployments", "staging", "web")["metadata"]["labels"]["team"] == "core"
    kubectl("patch", "deployment", "web", "--type", "json",
            "-p", '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.28"}]')
    images = {p["spec"]["containers"][0]["image"] for p in web.emu.list("pods", "staging")}
    assert images == {"nginx:1.28"}  # the new template rolled out
    failed = kubectl("patch", "deployment", "web", "--type", "json",
                     "-p", '[{"op":"remove","path":"/spec/nothing"}]', check=False)
    assert failed.returncode != 0


def test_top_pods_and_create_from_file(web: Cluster, kubectl, tmp_path):
    pod = web.emu.pod_names("staging")[0]
    web.emu.set_pod_metrics("staging", pod, cpu="321m", memory="77Mi")
    top = kubectl("top", "pod").stdout
    assert any(line.split()[:3] == [pod, "321m", "77Mi"] for line in top.splitlines())
    manifest = tmp_path / "cm.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-file"},
                                    "data": {"a": "b"}}))
    kubectl("create", "-f", str(manifest), *_validate(kubectl))
    assert web.emu.get("configmaps", "staging", "from-file")["data"] == {"a": "b"}


def _validate(kubectl) -> tuple[str, ...]:
    # kubectl >= 1.27 learns from the emulator's OpenAPI v3 that the server validates fields;
    # older ones (Debian's 1.20) want OpenAPI v2 for client-side validation, which is not served.
    return () if kubectl.minor >= 27 else ("--validate=false",)


def _manifest(replicas: int, sidecar: str) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "applied"}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": "applied"}},
        "template": {"metadata": {"labels": {"app": "applied"}}, "spec": {"containers": [
            {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": sidecar}]}}}})


def test_apply_set_image_and_rollout_undo(cluster: Cluster, kubectl, tmp_path):
    path = tmp_path / "deploy.json"
    path.write_text(_manifest(2, "envoy:1.30"))
    assert "created" in kubectl("apply", "-f", str(path), *_validate(kubectl)).stdout
    path.write_text(_manifest(3, "envoy:1.31"))
    assert "configured" in kubectl("apply", "-f", str(path), *_validate(kubectl)).stdout  # a computed strategic merge patch
    d = cluster.emu.get("apps/deployments", "staging", "applied")
    assert d["spec"]["replicas"] == 3
    assert [c["image"] for c in d["spec"]["template"]["spec"]["containers"]] == ["nginx:1.27", "envoy:1.31"]
    kubectl("set", "image", "deployment/applied", "app=nginx:1.28")
    assert {p["spec"]["containers"][0]["image"] for p in cluster.emu.list("pods", "staging")} == {"nginx:1.28"}
    history = kubectl("rollout", "history", "deployment/applied").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2", "3"]
    kubectl("rollout", "undo", "deployment/applied")
    assert {p["spec"]["containers"][0]["image"] for p in cluster.emu.list("pods", "staging")} == {"nginx:1.27"}


def test_get_watch_prints_changes(web: Cluster, kubectl):
    proc = subprocess.Popen([KUBECTL, "get", "deploy", "--watch-only"], env=kubectl.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    threading.Thread(target=lambda: seen.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        replicas = 3

        def changed_and_seen() -> bool:
            nonlocal replicas
            replicas += 1
            web.emu.patch("apps/deployments", "staging", "web", {"spec": {"replicas": replicas}})
            return any(line.startswith("web ") for line in seen)

        wait_for(changed_and_seen, timeout=60, interval=0.3, what="kubectl get -w to print a change")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert any(line.split()[0] == "web" for line in seen)
