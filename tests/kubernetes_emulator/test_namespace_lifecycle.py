"""What environment lifecycles need from the emulator, proven with clients nobody here wrote (the
official client and kubectl): namespace deletion (Terminating, then gone, with its objects),
label selectors on namespaces, creating every kind templates use, and images no registry serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubernetes_emulator.support import Cluster, wait_for

LABEL = "envdeck.io/env"


def _namespace(name: str, labels: dict[str, str] | None = None) -> client.V1Namespace:
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))


def _configmap(name: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"k": "v"})


def test_deleted_namespace_is_terminating_refuses_new_content_then_goes(cluster: Cluster):
    cluster.emu.namespace_termination_s = 3600.0  # held until finish_namespace_terminations()
    core = cluster.core
    core.create_namespace(_namespace("pr-1", {LABEL: "pr-1"}))
    cluster.emu.create_deployment("pr-1", "web", replicas=2)
    core.create_namespaced_config_map("pr-1", _configmap("settings"))
    answer = core.delete_namespace("pr-1")  # typed "object" by the client: a dict
    assert answer["status"]["phase"] == "Terminating" and answer["metadata"]["deletionTimestamp"]
    current = core.read_namespace("pr-1")
    assert current.status.phase == "Terminating" and current.metadata.labels[LABEL] == "pr-1"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map("pr-1", _configmap("late"))
    assert refused.value.status == 403 and "because it is being terminated" in refused.value.body
    assert core.list_namespaced_config_map("pr-1").items == []
    assert core.list_namespaced_pod("pr-1").items == [] and cluster.apps.list_namespaced_deployment("pr-1").items == []
    assert core.delete_namespace("pr-1")["status"]["phase"] == "Terminating"  # again: still the terminating one
    with pytest.raises(ApiException) as exists:
        core.create_namespace(_namespace("pr-1"))
    assert exists.value.status == 409
    assert cluster.emu.finish_namespace_terminations() == ["pr-1"]
    with pytest.raises(ApiException) as gone:
        core.read_namespace("pr-1")
    assert gone.value.status == 404
    core.create_namespace(_namespace("pr-1"))  # the name is free again
    assert core.read_namespace("pr-1").status.phase == "Active"


def test_a_namespace_ends_its_termination_by_itself(cluster: Cluster):
    cluster.emu.namespace_termination_s = 0.2
    core = cluster.core
    core.create_namespace(_namespace("pr-2"))
    core.delete_namespace("pr-2")

    def gone() -> bool:
        try:
            core.read_namespace("pr-2")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, what="namespace pr-2 gone")
    assert "pr-2" not in [n.metadata.name for n in core.list_namespace().items]


def test_watch_sees_terminating_then_deleted(cluster: Cluster):
    cluster.emu.namespace_termination_s = 3600.0
    core = cluster.core
    core.create_namespace(_namespace("pr-3"))
    rv = core.list_namespace().metadata.resource_version
    core.delete_namespace("pr-3")
    cluster.emu.finish_namespace_terminations()
    events = core.list_namespace(watch=True, resource_version=rv, timeout_seconds=1, _preload_content=False)
    seen = [(e["type"], (e["object"].get("status") or {}).get("phase"))
            for e in map(json.loads, events.read().decode().splitlines()) if e["object"]["metadata"]["name"] == "pr-3"]
    assert seen == [("MODIFIED", "Terminating"), ("DELETED", "Terminating")]


def test_label_selectors_on_namespaces(cluster: Cluster, kubectl):
    core = cluster.core
    core.create_namespace(_namespace("pr-a", {LABEL: "a", "team": "x"}))
    core.create_namespace(_namespace("pr-b", {LABEL: "b"}))

    def names(selector: str) -> list[str]:
        return sorted(n.metadata.name for n in core.list_namespace(label_selector=selector).items)

    assert names(f"{LABEL}=a") == ["pr-a"]
    assert names(f"{LABEL} in (a,b)") == ["pr-a", "pr-b"]
    assert names(f"{LABEL},team!=x") == ["pr-b"]
    assert "pr-a" not in names(f"!{LABEL}") and "staging" in names(f"!{LABEL}")
    out = json.loads(kubectl("get", "ns", "-l", f"{LABEL}=b", "-o", "json").stdout)
    assert [i["metadata"]["name"] for i in out["items"]] == ["pr-b"]
    table = kubectl("get", "ns", "-l", LABEL, "-L", LABEL).stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "AGE", "ENV"]  # kubectl heads -L with the last path part
    assert [(line.split()[0], line.split()[-1]) for line in table[1:]] == [("pr-a", "a"), ("pr-b", "b")]


def test_kubectl_delete_namespace_shows_terminating(cluster: Cluster, kubectl):
    cluster.emu.namespace_termination_s = 3600.0
    cluster.core.create_namespace(_namespace("pr-4"))  # (kubectl create namespace sends protobuf)
    kubectl("delete", "namespace", "pr-4", "--wait=false")
    assert kubectl("get", "ns", "pr-4", "-o", "jsonpath={.status.phase}").stdout == "Terminating"
    row = next(line for line in kubectl("get", "ns").stdout.splitlines() if line.startswith("pr-4 "))
    assert row.split()[1] == "Terminating"
    cluster.emu.finish_namespace_terminations()
    missing = kubectl("get", "ns", "pr-4", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr


TEMPLATE_KINDS = """\
apiVersion: v1
kind: Namespace
metadata: {name: pr-5, labels: {envdeck.io/env: pr-5}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: pr-5, labels: {envdeck.io/env: pr-5}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: pr-5, labels: {envdeck.io/env: pr-5}}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: pr-5, labels: {envdeck.io/env: pr-5}}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: pr-5, labels: {envdeck.io/env: pr-5}}
data: {mode: preview}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: pr-5, labels: {envdeck.io/env: pr-5}}
stringData: {token: not-a-real-one}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: pr-5, labels: {envdeck.io/env: pr-5}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "busybox:1.36"}]
"""


def test_kubectl_creates_every_kind_templates_use(cluster: Cluster, kubectl, tmp_path: Path):
    manifest = tmp_path / "env.yaml"
    manifest.write_text(TEMPLATE_KINDS)
    validate = [] if kubectl.minor >= 27 else ["--validate=false"]
    kubectl("create", "-f", str(manifest), *validate)
    listed = json.loads(kubectl("get", "deploy,sts,svc,cm,secret,job", "-n", "pr-5", "-l", f"{LABEL}=pr-5",
                                "-o", "json").stdout)
    assert sorted((i["kind"], i["metadata"]["name"]) for i in listed["items"]) == [
        ("ConfigMap", "settings"), ("Deployment", "web"), ("Job", "migrate"), ("Secret", "creds"),
        ("Service", "web"), ("StatefulSet", "db")]
    assert cluster.apps.read_namespaced_deployment("web", "pr-5").status.available_replicas == 2
    assert cluster.apps.read_namespaced_stateful_set("db", "pr-5").status.ready_replicas == 1
    job = client.BatchV1Api(cluster.api_client).read_namespaced_job("migrate", "pr-5")
    assert [c.type for c in job.status.conditions if c.status == "True"] == ["SuccessCriteriaMet", "Complete"]
    again = kubectl("create", "-f", str(manifest), *validate, check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == len(list(yaml.safe_load_all(TEMPLATE_KINDS))) == 7
    assert len(cluster.apps.list_namespaced_deployment("pr-5").items) == 1


def test_an_image_no_registry_serves_stays_in_image_pull_backoff(cluster: Cluster, kubectl):
    cluster.emu.create_deployment("staging", "broken", replicas=1, image="registry.invalid/web:1")
    cluster.emu.unpullable_images.add("example/private:2")
    cluster.emu.create_deployment("staging", "private", replicas=1, image="example/private:2")
    cluster.emu.create_deployment("staging", "fine", replicas=1, image="registry.example.com/web:1")
    rows = {line.split()[0].rsplit("-", 2)[0]: line.split()[2]
            for line in kubectl("get", "pods").stdout.splitlines()[1:]}
    assert rows == {"broken": "ImagePullBackOff", "private": "ImagePullBackOff", "fine": "Running"}
    broken = cluster.apps.read_namespaced_deployment("broken", "staging")
    assert not broken.status.available_replicas
    events = cluster.core.list_namespaced_event("staging", field_selector="reason=Failed").items
    assert any('Failed to pull image "registry.invalid/web:1"' in e.message for e in events)
