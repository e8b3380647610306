"""Discovery, /version and the clients that depend on them (DynamicClient, VersionApi)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from tests.kubernetes_emulator.support import Cluster


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_core_and_group_discovery_list_resources_with_verbs_and_short_names(cluster: Cluster):
    status, api = _get(cluster.url + "/api")
    assert status == 200 and api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    _, groups = _get(cluster.url + "/apis")
    names = {g["name"] for g in groups["groups"]}
    assert {"apps", "batch", "coordination.k8s.io", "metrics.k8s.io"} <= names
    _, core = _get(cluster.url + "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["namespaced"] is True
    assert "watch" in by_name["pods"]["verbs"] and by_name["pods"]["kind"] == "Pod"
    assert by_name["nodes"]["namespaced"] is False
    assert {"pods/log", "pods/status", "events", "secrets", "configmaps", "persistentvolumeclaims"} <= set(by_name)
    _, apps = _get(cluster.url + "/apis/apps/v1")
    apps_by_name = {r["name"]: r for r in apps["resources"]}
    assert apps_by_name["deployments"]["shortNames"] == ["deploy"]
    scale = apps_by_name["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    _, group = _get(cluster.url + "/apis/batch")
    assert group["preferredVersion"]["groupVersion"] == "batch/v1"


def test_openapi_v3_declares_server_side_field_validation(cluster: Cluster):
    status, root = _get(cluster.url + "/openapi/v3")
    assert status == 200 and "apis/apps/v1" in root["paths"]
    status, doc = _get(cluster.url + root["paths"]["apis/apps/v1"]["serverRelativeURL"])
    assert status == 200
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}


def test_unknown_paths_and_openapi_v2_answer_404_status(cluster: Cluster):
    for path in ("/openapi/v2", "/openapi/v3/apis/nope/v1", "/apis/nope.example.com/v1", "/api/v1/widgets"):
        status, body = _get(cluster.url + path)
        assert status == 404, path
        assert body["kind"] == "Status" and body["code"] == 404


def test_version_api_validates_all_fields(cluster: Cluster):
    info = client.VersionApi(cluster.api_client).get_code()  # GET /version/ with 9 required fields
    assert info.major == "1" and info.git_version.startswith("v1.")
    status, plain = _get(cluster.url + "/version")
    assert status == 200 and len(plain) == 9


def test_dynamic_client_discovers_and_uses_resources(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=2)
    dyn = DynamicClient(cluster.api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    listed = deployments.get(namespace="staging")
    assert [d.metadata.name for d in listed.items] == ["web"]
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert len(pods.get(namespace="staging", label_selector="app=web").items) == 2
    leases = dyn.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    assert leases.namespaced


def test_metrics_group_can_be_absent(cluster: Cluster):
    cluster.emu.metrics.enabled = False
    _, groups = _get(cluster.url + "/apis")
    assert "metrics.k8s.io" not in {g["name"] for g in groups["groups"]}
    status, _ = _get(cluster.url + "/apis/metrics.k8s.io/v1beta1/namespaces/staging/pods")
    assert status == 404


def test_token_auth_is_enforced_when_configured(tmp_path):
    from kubernetes import config

    from backends.sim.k8s_emulator import Emulator, EmulatorThread

    emu = Emulator(token="s3cret")
    with EmulatorThread(emu) as url:
        status, body = _get(url + "/api/v1/namespaces")
        assert status == 401 and body["reason"] == "Unauthorized"
        kc = emu.write_kubeconfig(tmp_path / "kc")
        api = config.new_client_from_config(config_file=str(kc))
        try:
            names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        finally:
            api.close()
        assert "default" in names


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez"])
def test_health_endpoints(cluster: Cluster, path: str):
    with urllib.request.urlopen(cluster.url + path, timeout=30) as resp:
        assert resp.status == 200 and resp.read() == b"ok"
