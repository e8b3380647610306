"""Every namespace of the emulator has its `kube-root-ca.crt` ConfigMap from its creation, as the
root CA publisher of a real cluster writes it (pods' service account volumes name it), however
the namespace was created; it goes with its namespace. Checked with the official client."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubernetes_emulator.support import Cluster


def _ca(cluster: Cluster, namespace: str) -> client.V1ConfigMap:
    return cluster.core.read_namespaced_config_map("kube-root-ca.crt", namespace)


def test_every_namespace_gets_the_cluster_ca_configmap(cluster: Cluster):
    core = cluster.core
    assert "BEGIN CERTIFICATE" in _ca(cluster, "default").data["ca.crt"]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pr-7")))  # POST
    made = _ca(cluster, "pr-7")
    assert set(made.data) == {"ca.crt"} and "kube-apiserver" in made.metadata.annotations["kubernetes.io/description"]
    cluster.emu.create_deployment("seeded", "web", replicas=1)  # a namespace a seed helper makes
    assert _ca(cluster, "seeded").metadata.namespace == "seeded"
    names = [(c.metadata.namespace, c.metadata.name) for c in core.list_config_map_for_all_namespaces().items
             if c.metadata.name == "kube-root-ca.crt"]
    assert sorted(names) == sorted((ns.metadata.name, "kube-root-ca.crt") for ns in core.list_namespace().items)

    core.delete_namespace("pr-7")
    with pytest.raises(ApiException) as gone:
        _ca(cluster, "pr-7")
    assert gone.value.status == 404, "the ConfigMap goes with its namespace"
