"""CustomResourceDefinitions, the networking/autoscaling/policy kinds and RBAC-forbidden lists,
with the official client (typed and dynamic) and kubectl."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from tests.kubernetes_emulator.support import NAMESPACE, Cluster, wait_for

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "certificates.cert-manager.io"},
    "spec": {
        "group": "cert-manager.io", "scope": "Namespaced",
        "names": {"plural": "certificates", "singular": "certificate", "kind": "Certificate",
                  "shortNames": ["cert", "certs"], "categories": ["cert-manager"]},
        "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}


def _cert(name: str) -> dict:
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"secretName": f"{name}-tls", "dnsNames": [f"{name}.example.com"]}}


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_created_crd_is_established_discovered_and_served(cluster: Cluster):
    ext = client.ApiextensionsV1Api(cluster.api_client)
    status, _ = _get(cluster.url + "/apis/cert-manager.io/v1")
    assert status == 404
    ext.create_custom_resource_definition(CRD)
    crd = ext.read_custom_resource_definition("certificates.cert-manager.io")
    assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    _, groups = _get(cluster.url + "/apis")
    assert "cert-manager.io" in {g["name"] for g in groups["groups"]}
    _, resources = _get(cluster.url + "/apis/cert-manager.io/v1")
    entries = {r["name"]: r for r in resources["resources"]}
    assert entries["certificates"]["kind"] == "Certificate" and entries["certificates"]["namespaced"] is True
    assert {"list", "watch", "create"} <= set(entries["certificates"]["verbs"])
    assert "certificates/status" in entries

    custom = client.CustomObjectsApi(cluster.api_client)
    custom.create_namespaced_custom_object("cert-manager.io", "v1", NAMESPACE, "certificates", _cert("web"))
    status_body = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending",
                                              "message": "Issuing certificate as Secret does not exist"}]}}
    custom.patch_namespaced_custom_object_status("cert-manager.io", "v1", NAMESPACE, "certificates", "web",
                                                 status_body)
    got = custom.get_namespaced_custom_object("cert-manager.io", "v1", NAMESPACE, "certificates", "web")
    assert got["spec"]["secretName"] == "web-tls" and got["status"]["conditions"][0]["status"] == "False"
    assert got["metadata"]["generation"] == 1
    listed = custom.list_namespaced_custom_object("cert-manager.io", "v1", NAMESPACE, "certificates")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["web"]

    dynamic = DynamicClient(cluster.api_client)  # reads discovery as kubectl does
    certs = dynamic.resources.get(api_version="cert-manager.io/v1", kind="Certificate")
    assert [c.metadata.name for c in certs.get(namespace=NAMESPACE).items] == ["web"]


def test_deleting_a_crd_deletes_its_objects_and_ends_its_watches(cluster: Cluster):
    ext = client.ApiextensionsV1Api(cluster.api_client)
    ext.create_custom_resource_definition(CRD)
    custom = client.CustomObjectsApi(cluster.api_client)
    custom.create_namespaced_custom_object("cert-manager.io", "v1", NAMESPACE, "certificates", _cert("a"))
    listed = custom.list_namespaced_custom_object("cert-manager.io", "v1", NAMESPACE, "certificates")
    events: list[tuple[str, str]] = []

    def follow() -> None:
        w = watch.Watch()
        for ev in w.stream(custom.list_namespaced_custom_object, "cert-manager.io", "v1", NAMESPACE, "certificates",
                           resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=30):
            events.append((ev["type"], ev["object"]["metadata"]["name"]))

    def certificate_watchers() -> int:
        return sum(len(t.watchers) for key, t in list(cluster.emu.store.tables.items()) if "certificates" in key)

    reader = threading.Thread(target=follow)
    reader.start()
    # the watch is registered on the server before the changes it must see (a watch that reached the
    # server after the CRD was gone rightly saw nothing: the suite under load met that)
    wait_for(lambda: certificate_watchers() > 0, timeout=30, what="the watch registered")
    custom.create_namespaced_custom_object("cert-manager.io", "v1", NAMESPACE, "certificates", _cert("b"))
    ext.delete_custom_resource_definition("certificates.cert-manager.io")
    reader.join(timeout=30)
    assert not reader.is_alive(), "the watch did not end when its CRD was deleted"
    assert events == [("ADDED", "b"), ("DELETED", "a"), ("DELETED", "b")]
    status, _ = _get(cluster.url + f"/apis/cert-manager.io/v1/namespaces/{NAMESPACE}/certificates")
    assert status == 404
    assert cluster.emu.get("apiextensions.k8s.io/customresourcedefinitions", None, CRD["metadata"]["name"]) is None


def test_a_crd_with_a_wrong_name_is_refused(cluster: Cluster):
    ext = client.ApiextensionsV1Api(cluster.api_client)
    bad = json.loads(json.dumps(CRD))
    bad["metadata"]["name"] = "certs.example.com"
    with pytest.raises(ApiException) as info:
        ext.create_custom_resource_definition(bad)
    assert info.value.status == 422 and "spec.names.plural" in info.value.body


def test_networking_autoscaling_policy_kinds_are_served(cluster: Cluster):
    api = cluster.api_client
    net = client.NetworkingV1Api(api)
    net.create_namespaced_ingress(NAMESPACE, {
        "metadata": {"name": "web"},
        "spec": {"rules": [{"host": "web.example.com", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    net.create_namespaced_network_policy(NAMESPACE, {"metadata": {"name": "deny-all"},
                                                     "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(NAMESPACE, {
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 5}})
    client.PolicyV1Api(api).create_namespaced_pod_disruption_budget(NAMESPACE, {
        "metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}})
    client.BatchV1Api(api).create_namespaced_cron_job(NAMESPACE, {
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}}})
    assert [i.metadata.name for i in net.list_namespaced_ingress(NAMESPACE).items] == ["web"]
    assert [p.metadata.name for p in net.list_namespaced_network_policy(NAMESPACE).items] == ["deny-all"]
    hpa = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("web", NAMESPACE)
    assert hpa.spec.max_replicas == 5
    assert client.PolicyV1Api(api).read_namespaced_pod_disruption_budget("web", NAMESPACE).spec.min_available == 1
    assert client.BatchV1Api(api).read_namespaced_cron_job("nightly", NAMESPACE).spec.suspend is True


def test_forbidden_lists_answer_403_but_other_verbs_work(cluster: Cluster):
    core = client.CoreV1Api(cluster.api_client)
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "settings"}, "data": {"a": "b"}})
    cluster.emu.forbidden_lists.add("configmaps")
    with pytest.raises(ApiException) as info:
        core.list_namespaced_config_map(NAMESPACE)
    assert info.value.status == 403 and "cannot list resource" in info.value.body
    with pytest.raises(ApiException) as info:
        core.list_namespaced_config_map(NAMESPACE, watch=True, _preload_content=False)
    assert info.value.status == 403 and "cannot watch resource" in info.value.body
    assert core.read_namespaced_config_map("settings", NAMESPACE).data == {"a": "b"}
    assert core.list_namespaced_secret(NAMESPACE).items == []  # other kinds stay listable


def test_kubectl_applies_a_crd_and_gets_its_objects(cluster: Cluster, kubectl, tmp_path):
    crd_file = tmp_path / "crd.json"
    crd_file.write_text(json.dumps(CRD))
    kubectl("apply", "-f", str(crd_file))
    cert_file = tmp_path / "cert.json"
    cert_file.write_text(json.dumps(_cert("api")))
    kubectl("apply", "-f", str(cert_file))
    out = kubectl("get", "certificates", "-n", NAMESPACE, "-o", "name").stdout.split()
    assert out == ["certificate.cert-manager.io/api"]
    short = kubectl("get", "cert", "-n", NAMESPACE, "-o", "jsonpath={.items[*].spec.secretName}").stdout
    assert short == "api-tls"
    resources = kubectl("api-resources", "--api-group=cert-manager.io", "-o", "name").stdout.split()
    assert resources == ["certificates.cert-manager.io"]
