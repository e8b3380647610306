"""The kinds envdeck watches in a namespace: where they live in the REST API and
how their objects become Resources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backends.kubernetes import convert
from backends.kubernetes.convert import Converted


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: str
    group_version: str  # "v1", "apps/v1", "batch/v1"
    plural: str
    convert: Callable[[dict], Converted] | None  # None: handled elsewhere (Events)
    namespaced: bool = True
    # Optional kinds are skipped quietly when RBAC forbids them (Nodes are
    # cluster-scoped: a namespace-scoped user usually cannot list them).
    optional: bool = False

    def collection(self, namespace: str) -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def item(self, namespace: str, name: str) -> str:
        return f"{self.collection(namespace)}/{name}"


KINDS: tuple[KindSpec, ...] = (
    KindSpec("Deployment", "apps/v1", "deployments", convert.deployment),
    KindSpec("StatefulSet", "apps/v1", "statefulsets", convert.statefulset),
    KindSpec("DaemonSet", "apps/v1", "daemonsets", convert.daemonset),
    KindSpec("ReplicaSet", "apps/v1", "replicasets", convert.replicaset),
    KindSpec("Pod", "v1", "pods", convert.pod),
    KindSpec("Service", "v1", "services", convert.service),
    KindSpec("Job", "batch/v1", "jobs", convert.job),
    KindSpec("PersistentVolumeClaim", "v1", "persistentvolumeclaims", convert.pvc),
    KindSpec("Secret", "v1", "secrets", convert.secret, optional=True),
    KindSpec("Node", "v1", "nodes", convert.node, namespaced=False, optional=True),
    KindSpec("Event", "v1", "events", None),
)

BY_KIND: dict[str, KindSpec] = {k.kind: k for k in KINDS}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")
