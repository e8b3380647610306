"""Where the objects a lifecycle step names live in the Kubernetes REST API, and their ids:
`KindPath` (a kind's collection and item paths, from discovery), `ObjectRef` (a native id
`NAMESPACE/KIND/NAME` taken apart) and the kinds the provisioner sweeps and scales."""

from __future__ import annotations

from dataclasses import dataclass

from backends.kubernetes.api_paths import collection_path, item_path
from tui.core.errors import InvalidRequest

BACKEND = "kubernetes"
#: Kinds whose dependents are deleted before them (foreground propagation).
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"})
SLEEP_KINDS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"))
#: What the sweep looks for in the environment's namespace (the kinds templates create).
SWEEP_KINDS: tuple[tuple[str, str], ...] = (
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("v1", "Service"), ("v1", "ConfigMap"),
    ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "PersistentVolumeClaim"),
    ("networking.k8s.io/v1", "Ingress"),
)
_API_VERSION_OF = {kind: api_version for api_version, kind in SWEEP_KINDS}


@dataclass(frozen=True, slots=True)
class KindPath:
    """Where one kind lives in the REST API (from discovery)."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def collection(self, namespace: str | None) -> str:
        # every segment percent-encoded (api_paths.py): a name is data, never a path
        return collection_path(self.api_version, self.plural, namespace if self.namespaced else None)

    def item(self, namespace: str | None, name: str) -> str:
        return item_path(self.api_version, self.plural, namespace if self.namespaced else None, name)


NAMESPACE_PATH = KindPath("v1", "Namespace", "namespaces", False)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A native id taken apart."""

    namespace: str | None
    kind: str
    name: str

    @classmethod
    def parse(cls, native_id: str) -> ObjectRef:
        parts = native_id.split("/")
        if len(parts) == 3 and all(parts):
            return cls(parts[0], parts[1], parts[2])
        if len(parts) == 2 and all(parts):
            return cls(None, parts[0], parts[1])
        raise InvalidRequest(f"not a Kubernetes object id: {native_id!r} (NAMESPACE/KIND/NAME)", backend=BACKEND)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


def api_version_of(kind: str) -> str:
    api_version = _API_VERSION_OF.get(kind)
    if api_version is None:
        raise InvalidRequest(f"envdeck does not know the API version of kind {kind}", backend=BACKEND)
    return api_version
