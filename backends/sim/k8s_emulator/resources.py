"""The resource types the emulator serves, as discovery describes them.

One `ResourceType` per REST collection: its group/version, plural, kind,
scope, short names and verbs, plus the field labels a field selector may use
(a real apiserver answers 400 for any other field).
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list")

_META_FIELDS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    version: str = ""


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    field_labels: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    stored: bool = True  # False for computed resources (metrics)
    has_status: bool = False  # spec/status split: PUT/PATCH on the main resource keeps status

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`deployments.apps`, `pods`: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"

    def allowed_field(self, name: str) -> bool:
        return name in _META_FIELDS or name in self.field_labels

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, ("get", "patch", "update"))


_SCALE = Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling", "v1")

_POD_FIELDS = (
    "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
    "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
    "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
    "reason", "reportingComponent", "source", "type",
)

TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",), field_labels=("status.phase",),
                 verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
                 subresources=(_status("Namespace"),), has_status=True),
    ResourceType("", "v1", "nodes", "Node", False, ("no",), field_labels=("spec.unschedulable",),
                 subresources=(_status("Node"),), has_status=True),
    ResourceType("", "v1", "pods", "Pod", True, ("po",), ("all",), field_labels=_POD_FIELDS,
                 subresources=(_status("Pod"), Subresource("log", "Pod", ("get",)),
                               Subresource("exec", "PodExecOptions", ("create", "get")),
                               Subresource("portforward", "PodPortForwardOptions", ("create", "get"))),
                 has_status=True),
    ResourceType("", "v1", "services", "Service", True, ("svc",), ("all",),
                 subresources=(_status("Service"),), has_status=True),
    ResourceType("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",), field_labels=_EVENT_FIELDS),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "secrets", "Secret", True, (), field_labels=("type",)),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",),
                 subresources=(_status("PersistentVolumeClaim"),), has_status=True),
    ResourceType("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("all",),
                 subresources=(_status("Deployment"), _SCALE), has_status=True),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("all",),
                 subresources=(_status("StatefulSet"), _SCALE), has_status=True),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("all",),
                 subresources=(_status("DaemonSet"),), has_status=True),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("all",),
                 field_labels=("status.replicas",), subresources=(_status("ReplicaSet"), _SCALE),
                 has_status=True),
    ResourceType("batch", "v1", "jobs", "Job", True, (), ("all",), field_labels=("status.successful",),
                 subresources=(_status("Job"),), has_status=True),
    ResourceType("batch", "v1", "cronjobs", "CronJob", True, ("cj",), ("all",),
                 subresources=(_status("CronJob"),), has_status=True),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",),
                 subresources=(_status("Ingress"),), has_status=True),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    ResourceType("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",),
                 ("all",), subresources=(_status("HorizontalPodAutoscaler"),), has_status=True),
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",),
                 subresources=(_status("PodDisruptionBudget"),), has_status=True),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 ("crd", "crds"), subresources=(_status("CustomResourceDefinition"),), has_status=True),
    ResourceType("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", True, verbs=READ_VERBS, stored=False),
    ResourceType("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", False, verbs=READ_VERBS, stored=False),
)

BY_KEY: dict[str, ResourceType] = {t.key: t for t in TYPES}
BY_PATH: dict[tuple[str, str, str], ResourceType] = {(t.group, t.version, t.plural): t for t in TYPES}


def group_versions() -> dict[str, list[str]]:
    """Group name → versions, in discovery order (core group excluded)."""
    groups: dict[str, list[str]] = {}
    for t in TYPES:
        if t.group and t.version not in groups.setdefault(t.group, []):
            groups[t.group].append(t.version)
    return groups


def types_in(group: str, version: str) -> list[ResourceType]:
    return [t for t in TYPES if t.group == group and t.version == version]


def lookup(plural_or_key: str) -> ResourceType:
    """`pods`, `deployments`, `apps/deployments`, `metrics.k8s.io/pods` → its ResourceType."""
    if "/" in plural_or_key:
        return BY_KEY[plural_or_key]
    for t in TYPES:
        if t.plural == plural_or_key and t.stored:
            return t
    raise KeyError(plural_or_key)


class TypeRegistry:
    """The types one emulator serves: the built-in TYPES plus those its CustomResourceDefinitions
    define (added when a CRD is created, removed when it is deleted). Discovery, the REST
    dispatch and the OpenAPI document read it, so a new CRD is served at once."""

    def __init__(self) -> None:
        self.custom: dict[tuple[str, str, str], ResourceType] = {}  # (group, version, plural)

    def all(self) -> list[ResourceType]:
        return [*TYPES, *self.custom.values()]

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return BY_PATH.get((group, version, plural)) or self.custom.get((group, version, plural))

    def group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for t in self.all():
            if t.group and t.version not in groups.setdefault(t.group, []):
                groups[t.group].append(t.version)
        return groups

    def types_in(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.all() if t.group == group and t.version == version]

    def lookup(self, plural_or_key: str) -> ResourceType:
        """As `lookup`, custom resources included (`cert-manager.io/certificates`)."""
        try:
            return lookup(plural_or_key)
        except KeyError:
            pass
        for t in self.custom.values():
            if plural_or_key in (t.key, t.plural):
                return t
        raise KeyError(plural_or_key)

    def add(self, types: list[ResourceType]) -> None:
        for t in types:
            self.custom[(t.group, t.version, t.plural)] = t

    def remove(self, group: str, plural: str) -> list[ResourceType]:
        gone = [t for k, t in self.custom.items() if k[0] == group and k[2] == plural]
        for t in gone:
            del self.custom[(t.group, t.version, t.plural)]
        return gone
