"""KubernetesProvisioner: the lifecycle steps of an environment's namespace and manifests.

    step `namespace` (kind Namespace, fields {"name"})   → the namespace, labelled
    step `KIND/NAME` (fields {"manifest": {...}})         → that object in the environment's namespace

Everything it creates carries the labels `envdeck.io/env`, `envdeck.io/template` and
`envdeck.io/step` (values through `k8s_label_value`). Create is create-or-adopt: a
409 AlreadyExists reads the object and adopts it when it carries this environment's and this
step's labels; an object of that name without them is refused ("exists and is not envdeck's"),
never taken over or deleted.

Connection as the observing backend (connection.py: the official client's kubeconfig /
in-cluster loaders; api.py: raw JSON over aiohttp with the per-call timeout, HTTP failures
mapped to BackendUnreachable / BackendDenied / InvalidRequest / NotFound). Any kind the
cluster serves is reached through API discovery (`/api/v1`, `/apis/GROUP/VERSION`), as
kubectl and the dynamic client do. Health is a fresh GET every time (never the informer
cache), judged by health.py plus the pods of a workload (ImagePullBackOff, CrashLoopBackOff
are reported as the reason; whether they are fatal after the step timeout is the engine's call).

Native ids: a namespace's is its name; an object's is `NAMESPACE/KIND/NAME` (`KIND/NAME` for a
cluster-scoped one).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any, ClassVar

from pydantic import ValidationError

from backends.base import Provisioner
from backends.kubernetes import health
from backends.kubernetes.api import MERGE_PATCH, KubeApi
from backends.kubernetes.api_paths import api_base, collection_path
from backends.kubernetes.connection import ClusterConnection, load_connection_async
from backends.kubernetes.step_health import judge, pod_selector
from backends.kubernetes.step_objects import (
    BACKEND,
    NAMESPACE_PATH,
    SLEEP_KINDS,
    SWEEP_KINDS,
    WORKLOAD_KINDS,
    KindPath,
    ObjectRef,
    api_version_of,
)
from tui.core.config import Defaults, KubernetesConfig
from tui.core.errors import BackendError, BackendUnreachable, ForeignResource, InvalidRequest, NotFound
from tui.core.lifecycle.records import (
    K8S_ENV_LABEL,
    K8S_INSTANCE_LABEL,
    K8S_STEP_LABEL,
    K8S_TEMPLATE_LABEL,
    Leftover,
    StepHealth,
    StepSpec,
    k8s_label_value,
)
from tui.core.model import Health, resource_id

#: Kept on a workload scaled to 0 by sleep: the replicas before, so that a sleep repeated after a
#: crash (the memory not yet saved) still knows what to restore.
REPLICAS_BEFORE_SLEEP = "envdeck.io/replicas-before-sleep"
_SERVER_OWNED = ("uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp",
                 "deletionGracePeriodSeconds", "managedFields", "selfLink")


class KubernetesProvisioner(Provisioner):
    name: ClassVar[str] = BACKEND

    def __init__(self, env: str, config: KubernetesConfig | dict[str, Any], defaults: Defaults, *,
                 template: str, instance: str = ""):
        if not isinstance(config, KubernetesConfig):
            try:
                config = KubernetesConfig.model_validate(config)
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'kubernetes'}: {e['msg']}"
                                     for e in exc.errors())
                raise InvalidRequest(f"kubernetes section of {env}: {problems}", backend=BACKEND) from None
        super().__init__(env, config, defaults, template=template, instance=instance)
        self.namespace = config.namespace
        self.connection: ClusterConnection | None = None
        self.api: KubeApi | None = None
        self._paths: dict[tuple[str, str], KindPath] = {("v1", "Namespace"): NAMESPACE_PATH}
        self._served: dict[str, dict[str, KindPath]] = {}
        self._lock = asyncio.Lock()
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    # -- connection ----------------------------------------------------------
    async def _ensure(self) -> KubeApi:
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop:  # an asyncio.Lock belongs to one loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            if self.api is None:
                self.connection = await asyncio.wait_for(load_connection_async(self.config),
                                                         timeout=float(self.defaults.timeout) * 3)
                self.api = KubeApi(self.connection, float(self.defaults.timeout))
            return self.api

    async def close(self) -> None:
        if self.api is not None:
            await self.api.close()
        if self.connection is not None:
            await asyncio.to_thread(self.connection.api_client.close)
        self.api = self.connection = None

    def marks(self, step_id: str) -> dict[str, str]:
        """The owner labels of one step's object (the instance id too, when the environment has one)."""
        marks = {K8S_ENV_LABEL: k8s_label_value(self.env), K8S_TEMPLATE_LABEL: k8s_label_value(self.template),
                 K8S_STEP_LABEL: k8s_label_value(step_id)}
        if self.instance:
            marks[K8S_INSTANCE_LABEL] = k8s_label_value(self.instance)
        return marks

    def _ours(self, obj: dict[str, Any]) -> bool:
        """Labelled with this environment's name AND instance id."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return (labels.get(K8S_ENV_LABEL) == k8s_label_value(self.env)
                and labels.get(K8S_INSTANCE_LABEL, "") == (k8s_label_value(self.instance) if self.instance else ""))

    def _foreign(self, what: str, obj: dict[str, Any], prefix: str = "") -> ForeignResource:
        """The refusal of an object that exists and is not this environment instance's."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        owner = labels.get(K8S_ENV_LABEL)
        if owner == k8s_label_value(self.env):
            whose = (f"it belongs to another envdeck environment named {self.env} (instance "
                     f"{labels.get(K8S_INSTANCE_LABEL) or 'none'}), created elsewhere; this one is instance "
                     f"{self.instance or 'none'}")
        elif owner:
            whose = f"it belongs to environment {owner!r}"
        else:
            whose = f"it has no label {K8S_ENV_LABEL}={self.env}"
        return ForeignResource(f"{prefix}{what} exists and is not envdeck's for {self.env} ({whose}); "
                               "envdeck neither adopts nor deletes it", backend=BACKEND)

    async def _locate(self, api_version: str, kind: str) -> KindPath:
        """Where `kind` of `api_version` lives, by discovery (cached per group/version)."""
        known = self._paths.get((api_version, kind))
        if known is not None:
            return known
        api = await self._ensure()
        served = self._served.get(api_version)
        if served is None:
            path = api_base(api_version)
            try:
                listing = await api.get(path)
            except NotFound:
                listing = {}
            served = {r["kind"]: KindPath(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
                      for r in listing.get("resources") or () if "/" not in str(r.get("name", ""))}
            self._served[api_version] = served
        found = served.get(kind)
        if found is None:
            raise InvalidRequest(f"the cluster serves no {kind} in {api_version}", backend=BACKEND)
        self._paths[(api_version, kind)] = found
        return found

    async def _get(self, path: str) -> dict[str, Any] | None:
        """A fresh GET; None when it does not exist."""
        try:
            return await (await self._ensure()).get(path)
        except NotFound:
            return None

    # -- steps ---------------------------------------------------------------
    def _manifest(self, step: StepSpec) -> dict[str, Any]:
        manifest = step.fields.get("manifest")
        if not isinstance(manifest, dict):
            raise InvalidRequest(f"step {step.id}: fields.manifest must be a Kubernetes object (a mapping)",
                                 backend=BACKEND)
        for key in ("apiVersion", "kind"):
            if not isinstance(manifest.get(key), str) or not manifest[key]:
                raise InvalidRequest(f"step {step.id}: the manifest has no {key}", backend=BACKEND)
        name = (manifest.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"step {step.id}: the manifest has no metadata.name", backend=BACKEND)
        return manifest

    def _namespace_name(self, step: StepSpec) -> str:
        name = step.fields.get("name") or self.namespace
        if not isinstance(name, str):
            raise InvalidRequest(f"step {step.id}: fields.name must be a namespace name", backend=BACKEND)
        return name

    async def _step_target(self, step: StepSpec) -> tuple[KindPath, str | None, str]:
        """(where, namespace, name) of the step's object."""
        if step.kind == "Namespace" and "manifest" not in step.fields:
            return NAMESPACE_PATH, None, self._namespace_name(step)
        manifest = self._manifest(step)
        where = await self._locate(manifest["apiVersion"], manifest["kind"])
        return where, self.namespace if where.namespaced else None, manifest["metadata"]["name"]

    @staticmethod
    def _native_id(where: KindPath, namespace: str | None, name: str) -> str:
        if where is NAMESPACE_PATH:
            return name
        return str(ObjectRef(namespace, where.kind, name))

    def _check_adoptable(self, step: StepSpec, where: KindPath, namespace: str | None, name: str,
                         obj: dict[str, Any]) -> None:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        what = f"{where.kind} {namespace}/{name}" if namespace else f"{where.kind} {name}"
        if not self._ours(obj):
            raise self._foreign(what, obj, f"step {step.id}: ")
        if labels.get(K8S_STEP_LABEL) not in (None, k8s_label_value(step.id)):
            raise ForeignResource(f"step {step.id}: {what} exists and belongs to step "
                                 f"{labels.get(K8S_STEP_LABEL)!r} of {self.env}", backend=BACKEND)

    async def find(self, step: StepSpec) -> str | None:
        where, namespace, name = await self._step_target(step)
        obj = await self._get(where.item(namespace, name))
        if obj is None:
            return None
        self._check_adoptable(step, where, namespace, name, obj)
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            return None  # ours but going away: not adopted (create waits until it is gone)
        return self._native_id(where, namespace, name)

    def _body(self, step: StepSpec, where: KindPath, namespace: str | None, name: str) -> dict[str, Any]:
        if where is NAMESPACE_PATH and "manifest" not in step.fields:
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        else:
            body = copy.deepcopy(self._manifest(step))
            body.pop("status", None)
        meta = body.setdefault("metadata", {})
        for key in _SERVER_OWNED:
            meta.pop(key, None)
        if namespace is not None:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["labels"] = {**(meta.get("labels") or {}), **self.marks(step.id)}
        return body

    async def create(self, step: StepSpec, token: str) -> str:
        """Create-or-adopt. Kubernetes has no idempotency token: the object's name is the key, so a
        409 AlreadyExists reads it and adopts it when it carries this step's labels (`token` unused)."""
        where, namespace, name = await self._step_target(step)
        api = await self._ensure()
        try:
            await api.request("POST", where.collection(namespace), body=self._body(step, where, namespace, name))
        except BackendError as exc:
            if getattr(exc, "http_status", None) != 409:
                raise
            existing = await self._get(where.item(namespace, name))
            if existing is None:  # deleted in between: the next attempt creates it
                raise BackendUnreachable(f"step {step.id}: {where.kind} {name} existed and is now gone; "
                                         "try again", backend=BACKEND) from None
            self._check_adoptable(step, where, namespace, name, existing)
            if (existing.get("metadata") or {}).get("deletionTimestamp"):
                raise BackendUnreachable(f"step {step.id}: {where.kind} {name} is still being deleted; "
                                         "try again when it is gone", backend=BACKEND) from None
        return self._native_id(where, namespace, name)

    async def _where_of(self, step: StepSpec, native_id: str) -> tuple[KindPath, str | None, str]:
        if step.kind == "Namespace" and "manifest" not in step.fields:
            return NAMESPACE_PATH, None, native_id
        ref = ObjectRef.parse(native_id)
        manifest = step.fields.get("manifest")
        api_version = manifest.get("apiVersion") if isinstance(manifest, dict) else None
        where = await self._locate(api_version or api_version_of(ref.kind), ref.kind)
        return where, ref.namespace, ref.name

    async def health(self, step: StepSpec, native_id: str) -> StepHealth:
        where, namespace, name = await self._where_of(step, native_id)
        obj = await self._get(where.item(namespace, name))
        if obj is None:
            return StepHealth(False, f"{where.kind} {name} does not exist (deleted outside envdeck?)", terminal=True)
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            return StepHealth(False, f"{where.kind} {name} is being deleted", terminal=True)
        verdict = judge(obj)
        if verdict.healthy or verdict.terminal or where.kind not in WORKLOAD_KINDS:
            return verdict
        pod_reason = await self._pod_trouble(obj, namespace)
        return StepHealth(False, f"{verdict.reason}; {pod_reason}" if pod_reason else verdict.reason)

    async def _pod_trouble(self, obj: dict[str, Any], namespace: str | None) -> str:
        """The first bad container state of the workload's pods ("pod web-x: ImagePullBackOff: …")."""
        selector = pod_selector(obj)
        if not selector or namespace is None:
            return ""
        pods, _ = await (await self._ensure()).list_all(collection_path("v1", "pods", namespace),
                                                         labelSelector=selector)
        for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
            verdict, reason = health.pod(pod)
            if verdict is Health.DEGRADED:
                return f"pod {pod['metadata']['name']}: {reason}"
        return ""

    async def _delete_object(self, where: KindPath, namespace: str | None, name: str, what: str) -> None:
        """Delete one object of ours: a fresh read first (not ours → refused), then DELETE with a uid
        precondition, so that an object somebody re-created meanwhile is never deleted."""
        current = await self._get(where.item(namespace, name))
        if current is None or (current.get("metadata") or {}).get("deletionTimestamp"):
            return
        if not self._ours(current):
            raise self._foreign(f"{where.kind} {name}", current, f"{what}: ")
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1",
                                   "preconditions": {"uid": current["metadata"]["uid"]}}
        if where.kind in WORKLOAD_KINDS:
            options["propagationPolicy"] = "Foreground"
        elif where is not NAMESPACE_PATH:
            options["propagationPolicy"] = "Background"
        try:
            await (await self._ensure()).request("DELETE", where.item(namespace, name), body=options)
        except NotFound:
            return
        except BackendError as exc:
            if getattr(exc, "http_status", None) == 409:  # re-created meanwhile: not the one we own
                return
            raise

    async def delete(self, step: StepSpec, native_id: str) -> None:
        where, namespace, name = await self._where_of(step, native_id)
        await self._delete_object(where, namespace, name, f"step {step.id}")

    async def gone(self, step: StepSpec, native_id: str) -> bool:
        where, namespace, name = await self._where_of(step, native_id)
        return await self._get(where.item(namespace, name)) is None

    # -- sweep -----------------------------------------------------------------
    async def sweep(self) -> list[Leftover]:
        api = await self._ensure()
        selector = f"{K8S_ENV_LABEL}={k8s_label_value(self.env)}"
        namespaces, _ = await api.list_all(NAMESPACE_PATH.collection(None), labelSelector=selector)
        found = [_leftover("Namespace", ns["metadata"]["name"], ns)
                 for ns in sorted(namespaces, key=lambda n: n["metadata"]["name"])]
        if any(lo.native_id == self.namespace and lo.instance == self._instance_label() for lo in found):
            return found  # its own namespace: its objects go with it
        if await self._get(NAMESPACE_PATH.item(None, self.namespace)) is None:
            return found
        for api_version, kind in SWEEP_KINDS:
            try:
                where = await self._locate(api_version, kind)
            except InvalidRequest:
                continue  # not served by this cluster
            items, _ = await api.list_all(where.collection(self.namespace), labelSelector=selector)
            found.extend(_leftover(kind, str(ObjectRef(self.namespace, kind, obj["metadata"]["name"])), obj)
                         for obj in sorted(items, key=lambda o: o["metadata"]["name"]))
        return found

    def _instance_label(self) -> str:
        return k8s_label_value(self.instance) if self.instance else ""

    async def delete_leftover(self, leftover: Leftover) -> None:
        if leftover.kind == "Namespace":
            await self._delete_object(NAMESPACE_PATH, None, leftover.native_id, "sweep")
            return
        ref = ObjectRef.parse(leftover.native_id)
        where = await self._locate(api_version_of(ref.kind), ref.kind)
        await self._delete_object(where, ref.namespace, ref.name, "sweep")

    # -- sleep / wake ------------------------------------------------------------
    async def _sleepers(self) -> list[tuple[KindPath, dict[str, Any]]]:
        """The Deployments and StatefulSets sleep scales: all of the namespace's when the namespace
        is the environment's (labelled), else only those labelled for it."""
        api = await self._ensure()
        namespace = await self._get(NAMESPACE_PATH.item(None, self.namespace))
        if namespace is None:
            return []
        own_namespace = self._ours(namespace)
        selector = None if own_namespace else f"{K8S_ENV_LABEL}={k8s_label_value(self.env)}"
        found = []
        for api_version, kind in SLEEP_KINDS:
            where = await self._locate(api_version, kind)
            items, _ = await api.list_all(where.collection(self.namespace), labelSelector=selector)
            found.extend((where, obj) for obj in sorted(items, key=lambda o: o["metadata"]["name"])
                         if own_namespace or self._ours(obj))  # another instance's: left alone
        return found

    async def sleep(self) -> dict[str, dict[str, Any]]:
        api = await self._ensure()
        memory: dict[str, dict[str, Any]] = {}
        for where, obj in await self._sleepers():
            meta, name = obj["metadata"], obj["metadata"]["name"]
            replicas = int((obj.get("spec") or {}).get("replicas", 1))
            noted = (meta.get("annotations") or {}).get(REPLICAS_BEFORE_SLEEP)
            if replicas == 0 and noted is not None and noted.isdigit():
                replicas = int(noted)  # asleep already (a sleep repeated after a crash)
            memory[resource_id(BACKEND, where.kind, name)] = {"replicas": replicas}
            if (obj.get("spec") or {}).get("replicas", 1) == 0 and noted is not None:
                continue
            patch = {"metadata": {"annotations": {REPLICAS_BEFORE_SLEEP: str(replicas)}}, "spec": {"replicas": 0}}
            await api.patch(where.item(self.namespace, name), patch, MERGE_PATCH)
        return memory

    async def wake(self, memory: dict[str, dict[str, Any]]) -> None:
        api = await self._ensure()
        for rid, fields in sorted(memory.items()):
            backend, _, rest = rid.partition("/")
            kind, _, name = rest.partition("/")
            if backend != BACKEND or not kind or not name or "replicas" not in fields:
                continue
            where = await self._locate(api_version_of(kind), kind)
            patch = {"metadata": {"annotations": {REPLICAS_BEFORE_SLEEP: None}},
                     "spec": {"replicas": int(fields["replicas"])}}
            try:
                await api.patch(where.item(self.namespace, name), patch, MERGE_PATCH)
            except NotFound:
                continue  # deleted while asleep: nothing to restore

    def describe(self) -> str:
        return f"kubernetes namespace {self.namespace}"


def _leftover(kind: str, native_id: str, obj: dict[str, Any]) -> Leftover:
    """A swept object with the instance and step labels it carries."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return Leftover(BACKEND, kind, native_id, instance=str(labels.get(K8S_INSTANCE_LABEL, "")),
                    step=str(labels.get(K8S_STEP_LABEL, "")))
