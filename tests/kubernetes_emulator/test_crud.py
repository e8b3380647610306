"""REST verbs with the typed official client: create/get/list/replace/patch/delete, errors as
v1 Status, selectors, pagination, resourceVersions."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubernetes_emulator.support import Cluster


def _configmap(name: str, labels: dict[str, str] | None = None, data: dict[str, str] | None = None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or {"k": "v"})


def test_create_get_list_carry_uid_and_resource_versions(cluster: Cluster):
    core = cluster.core
    created = core.create_namespaced_config_map("staging", _configmap("app", {"app": "web"}))
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    got = core.read_namespaced_config_map("app", "staging")
    assert got.data == {"k": "v"} and got.metadata.uid == created.metadata.uid
    listed = core.list_namespaced_config_map("staging")
    assert listed.metadata.resource_version
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    assert [c.metadata.name for c in listed.items if c.metadata.name != "kube-root-ca.crt"] == ["app"]


def test_errors_are_v1_status_with_codes(cluster: Cluster):
    core = cluster.core
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("nope", "staging")
    assert missing.value.status == 404
    assert '"reason":"NotFound"' in missing.value.body.replace(" ", "")
    core.create_namespaced_config_map("staging", _configmap("dup"))
    with pytest.raises(ApiException) as dup:
        core.create_namespaced_config_map("staging", _configmap("dup"))
    assert dup.value.status == 409
    with pytest.raises(ApiException) as no_ns:
        core.create_namespaced_config_map("does-not-exist", _configmap("x"))
    assert no_ns.value.status == 404
    with pytest.raises(ApiException) as bad_name:
        core.create_namespaced_config_map("staging", _configmap("Bad_Name"))
    assert bad_name.value.status == 422


def test_replace_with_stale_resource_version_conflicts(cluster: Cluster):
    core = cluster.core
    first = core.create_namespaced_config_map("staging", _configmap("cfg"))
    first.data = {"k": "v2"}
    second = core.replace_namespaced_config_map("cfg", "staging", first)
    assert second.data == {"k": "v2"}
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    first.data = {"k": "stale"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("cfg", "staging", first)
    assert stale.value.status == 409
    assert core.read_namespaced_config_map("cfg", "staging").data == {"k": "v2"}


def test_patch_strategic_merge_and_json_patch(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=1, containers=[
        {"name": "web", "image": "nginx:1.27"}, {"name": "sidecar", "image": "envoy:1.30"}])
    apps = cluster.apps
    # strategic merge (the client's default for a dict body): containers merge by name
    apps.patch_namespaced_deployment("web", "staging", {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "envoy:1.31"}]}}}})
    d = apps.read_namespaced_deployment("web", "staging")
    assert [(c.name, c.image) for c in d.spec.template.spec.containers] == [("web", "nginx:1.27"),
                                                                           ("sidecar", "envoy:1.31")]
    # json patch (a list body)
    apps.patch_namespaced_deployment("web", "staging", [{"op": "replace", "path": "/spec/replicas", "value": 4}])
    assert apps.read_namespaced_deployment("web", "staging").spec.replicas == 4
    # a failed json-patch test op is refused and changes nothing
    with pytest.raises(ApiException) as failed:
        apps.patch_namespaced_deployment("web", "staging", [
            {"op": "test", "path": "/spec/replicas", "value": 9}, {"op": "replace", "path": "/spec/replicas",
                                                                   "value": 1}])
    assert failed.value.status == 422
    assert apps.read_namespaced_deployment("web", "staging").spec.replicas == 4


def test_merge_patch_replaces_lists_and_deletes_with_null(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=1, containers=[
        {"name": "web", "image": "nginx:1.27"}, {"name": "sidecar", "image": "envoy:1.30"}])
    patched = cluster.emu.patch("apps/deployments", "staging", "web", {
        "metadata": {"labels": {"app": None, "team": "a"}},
        "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox"}]}}}})
    assert patched["metadata"]["labels"] == {"team": "a"}
    assert [c["name"] for c in patched["spec"]["template"]["spec"]["containers"]] == ["only"]


def test_label_selectors_all_operators(cluster: Cluster):
    core = cluster.core
    for name, labels in {"a": {"app": "web", "tier": "fe"}, "b": {"app": "api", "tier": "be"},
                         "c": {"app": "db"}, "d": {"app": "web", "canary": "true"}}.items():
        core.create_namespaced_config_map("staging", _configmap(name, labels))

    def names(selector: str) -> list[str]:
        return sorted(c.metadata.name for c in core.list_namespaced_config_map("staging",
                                                                              label_selector=selector).items
                      if c.metadata.name != "kube-root-ca.crt")  # every namespace's (a real cluster's too)

    assert names("app=web") == ["a", "d"]
    assert names("app==web") == ["a", "d"]
    assert names("app!=web") == ["b", "c"]
    assert names("app in (api, db)") == ["b", "c"]
    assert names("app notin (web)") == ["b", "c"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c", "d"]
    assert names("app=web,!canary") == ["a"]
    with pytest.raises(ApiException) as bad:
        names("app in (")
    assert bad.value.status == 400


def test_field_selectors_and_unsupported_fields(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=2)
    core = cluster.core
    pods = core.list_namespaced_pod("staging").items
    target = pods[0].metadata.name
    cluster.emu.inject_fault("staging", pods[1].metadata.name, "ImagePullBackOff")
    by_name = core.list_namespaced_pod("staging", field_selector=f"metadata.name={target}").items
    assert [p.metadata.name for p in by_name] == [target]
    running = core.list_namespaced_pod("staging", field_selector="status.phase=Running").items
    assert [p.metadata.name for p in running] == [target]
    pending = core.list_namespaced_pod("staging", field_selector="status.phase!=Running").items
    assert [p.metadata.name for p in pending] == [pods[1].metadata.name]
    on_node = core.list_namespaced_pod("staging", field_selector="spec.nodeName=node-1").items
    assert len(on_node) == 2
    with pytest.raises(ApiException) as unsupported:
        core.list_namespaced_pod("staging", field_selector="spec.containers=x")
    assert unsupported.value.status == 400
    events = core.list_namespaced_event("staging", field_selector=(
        f"involvedObject.kind=Pod,involvedObject.name={pods[1].metadata.name},type=Warning")).items
    assert [e.reason for e in events] == ["Failed"]


def test_pagination_with_limit_and_continue_sees_every_item_once(cluster: Cluster):
    cluster.emu.bulk_create_pods("staging", 1234, prefix="bulk")
    core = cluster.core
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = core.list_namespaced_pod("staging", limit=500, _continue=token)
        pages += 1
        seen.extend(p.metadata.name for p in page.items)
        token = page.metadata._continue
        if not token:
            break
    assert pages == 3
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 1234


def test_all_namespaces_and_cluster_scoped_lists(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=1)
    cluster.emu.create_deployment("prod", "web", replicas=2)
    pods = cluster.core.list_pod_for_all_namespaces().items
    assert sorted({p.metadata.namespace for p in pods}) == ["prod", "staging"] and len(pods) == 3
    nss = [n.metadata.name for n in cluster.core.list_namespace().items]
    assert {"default", "staging", "prod"} <= set(nss)
    nodes = cluster.core.list_node().items
    assert [n.metadata.name for n in nodes] == ["node-1"] and nodes[0].metadata.namespace is None


def test_delete_returns_object_or_status_and_namespace_delete_cascades(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=1)
    core, apps = cluster.core, cluster.apps
    pod = core.list_namespaced_pod("staging").items[0].metadata.name
    deleted = core.delete_namespaced_pod(pod, "staging")
    assert deleted.metadata.name == pod and deleted.metadata.deletion_timestamp is not None
    status = apps.delete_namespaced_deployment("web", "staging")  # typed "object" by the client: a dict
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert apps.list_namespaced_replica_set("staging").items == []  # garbage-collected
    assert core.list_namespaced_pod("staging").items == []
    core.create_namespaced_config_map("staging", _configmap("left"))
    core.delete_namespace("staging")
    assert core.list_namespaced_config_map("staging").items == []
    with pytest.raises(ApiException) as gone:
        core.read_namespace("staging")
    assert gone.value.status == 404


def test_status_subresource_and_main_resource_keep_their_parts(cluster: Cluster):
    cluster.emu.create_deployment("staging", "web", replicas=2)
    apps = cluster.apps
    before = apps.read_namespaced_deployment("web", "staging")
    # status sent to the main resource is ignored, like the apiserver does
    apps.patch_namespaced_deployment("web", "staging", {"status": {"replicas": 99}})
    assert apps.read_namespaced_deployment("web", "staging").status.replicas == before.status.replicas
    generation = before.metadata.generation
    apps.patch_namespaced_deployment("web", "staging", {"spec": {"replicas": 3}})
    after = apps.read_namespaced_deployment("web", "staging")
    assert after.metadata.generation == generation + 1
    assert after.status.observed_generation == after.metadata.generation


def test_leases_and_secrets_round_trip(cluster: Cluster):
    coord = client.CoordinationV1Api(cluster.api_client)
    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="leader"),
                           spec=client.V1LeaseSpec(holder_identity="pod-a", lease_duration_seconds=15))
    coord.create_namespaced_lease("staging", lease)
    assert coord.read_namespaced_lease("leader", "staging").spec.holder_identity == "pod-a"
    cluster.emu.create_secret("staging", "db", {"password": "hunter2"})
    secret = cluster.core.read_namespaced_secret("db", "staging")
    assert secret.type == "Opaque" and set(secret.data) == {"password"}
