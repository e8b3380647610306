"""The kinds envdeck watches in a namespace: where they live in the REST API and
how their objects become Resources.

`BASE_KINDS` are watched from the start (before discovery answers, and when it
cannot); discovery (discovery.py) adds every other namespaced type the server
serves with list+watch, CRDs included. A discovered type envdeck knows gets its
typed converter (`TYPED`, by group and plural); any other becomes a generic
Resource whose health follows `status.conditions` (kind_health.generic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backends.kubernetes import convert, convert_kinds
from backends.kubernetes.api_paths import collection_path, item_path
from backends.kubernetes.convert import Converted


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: str  # the Resource kind shown ("Deployment"; "Certificate.acme.io" when two groups share a kind)
    group_version: str  # "v1", "apps/v1", "batch/v1"
    plural: str
    convert: Callable[[dict], Converted] | None  # None: handled elsewhere (Events)
    namespaced: bool = True
    # Optional kinds are skipped quietly when RBAC forbids listing them (403) or the
    # server does not serve them (404); the inventory lists them for `envdeck doctor`.
    optional: bool = False

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    @property
    def key(self) -> str:
        """`apps/deployments`, `/pods`: one resource whatever its version."""
        return f"{self.group}/{self.plural}"

    @property
    def resource_name(self) -> str:
        """As kubectl names it: `pods`, `ingresses.networking.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection(self, namespace: str) -> str:
        # every segment percent-encoded (api_paths.py): a name is data, never a path
        return collection_path(self.group_version, self.plural, namespace if self.namespaced else None)

    def item(self, namespace: str, name: str) -> str:
        return item_path(self.group_version, self.plural, namespace if self.namespaced else None, name)


BASE_KINDS: tuple[KindSpec, ...] = (
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

#: Kinds with known semantics found by discovery: typed conversion and health.
DISCOVERED_TYPED: tuple[KindSpec, ...] = (
    KindSpec("ConfigMap", "v1", "configmaps", convert_kinds.configmap, optional=True),
    KindSpec("Ingress", "networking.k8s.io/v1", "ingresses", convert_kinds.ingress, optional=True),
    KindSpec("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", convert_kinds.networkpolicy,
             optional=True),
    KindSpec("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", convert_kinds.hpa,
             optional=True),
    KindSpec("CronJob", "batch/v1", "cronjobs", convert_kinds.cronjob, optional=True),
    KindSpec("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", convert_kinds.pdb, optional=True),
)

TYPED: dict[str, KindSpec] = {k.key: k for k in (*BASE_KINDS, *DISCOVERED_TYPED)}
BY_KIND: dict[str, KindSpec] = {k.kind: k for k in (*BASE_KINDS, *DISCOVERED_TYPED)}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")

#: Namespaced types discovery finds but envdeck does not watch, and why (docs/kubernetes.md):
EXCLUDED: dict[str, str] = {
    "/events": "read by the event log (Warning events become faults), not shown as resources",
    "events.k8s.io/events": "the same events as core v1 events, through another API",
    "coordination.k8s.io/leases": "leader-election heartbeats rewritten every few seconds: churn, no health",
    "/endpoints": "a mirror of Services' ready pods, rewritten on every pod readiness change",
    "discovery.k8s.io/endpointslices": "the same mirror as endpoints (1 per 100 pods), same churn",
    "apps/controllerrevisions": "StatefulSet/DaemonSet history, internal to their controllers",
    "/podtemplates": "templates kept by controllers, no state of their own",
    "metrics.k8s.io/pods": "usage samples, read by the metrics sampler (and not watchable)",
}


def spec_for(group: str, version: str, plural: str, kind: str, namespaced: bool) -> KindSpec:
    """The KindSpec of a discovered resource type: the typed one when envdeck knows it
    (at the version the server prefers), else a generic one."""
    group_version = f"{group}/{version}" if group else version
    typed = TYPED.get(f"{group}/{plural}")
    if typed is not None:
        if typed.group_version == group_version:
            return typed
        return KindSpec(typed.kind, group_version, plural, typed.convert, typed.namespaced, typed.optional)
    return KindSpec(kind, group_version, plural, convert_kinds.generic(kind), namespaced, optional=True)
