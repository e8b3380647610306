"""`Emulator`: an in-memory, stateful Kubernetes API server for tests, benchmarks and the demo.

    emu = Emulator()
    url = await emu.start()                 # http://127.0.0.1:PORT
    emu.add_namespace("staging")
    emu.create_deployment("staging", "web", replicas=3)
    emu.inject_fault("staging", emu.pod_names("staging", "app=web")[0], "CrashLoopBackOff")
    emu.write_kubeconfig(tmp / "kubeconfig", namespace="staging")
    await emu.stop()

All mutators are plain synchronous methods and are thread-safe (see `server.on_loop`).
Reads (`get`, `list`, `pod_names`) return deep copies.
"""

from __future__ import annotations

import json
import random
from typing import Any

from aiohttp import web

from . import crds, manifests
from .controllers import Controllers
from .demo_seed import run_log_generators
from .events import record_event
from .logs import LogBook
from .metrics import MetricsServer
from .patching import MERGE_PATCH, apply_patch
from .pods import pod_from_template, pod_status
from .portforward import PortForwards
from .resources import ResourceType, TypeRegistry, lookup
from .rest import RestApi
from .selectors import label_matcher
from .server import FailureMode, ServerBase, on_loop
from .status import already_exists, not_found
from .store import Obj, Store, clone, now_iso

NAMESPACES, PODS, NODES = lookup("namespaces"), lookup("pods"), lookup("nodes")
CRDS = lookup("apiextensions.k8s.io/customresourcedefinitions")
CONFIGMAPS, ROOT_CA = lookup("configmaps"), "kube-root-ca.crt"


class Emulator(ServerBase):
    def __init__(self, seed: int | None = None, nodes: tuple[str, ...] = ("node-1",), token: str | None = None,
                 history_limit: int = 10_000, metrics: bool = True):
        super().__init__(token)
        self.rng = random.Random(seed)
        self.types = TypeRegistry()  # the built-in types and those of the CRDs created
        #: resources whose LIST and WATCH answer 403 Forbidden, as RBAC would for a user without the
        #: verb: plurals ("configmaps") or group/plural keys ("networking.k8s.io/ingresses")
        self.forbidden_lists: set[str] = set()
        self.store = Store(history_limit)
        self.store.listeners.append(self._on_crd_change)
        self.controllers = Controllers(self.store, self.rng)
        self.logs = LogBook()
        self.metrics = MetricsServer(self.store)
        self.metrics.enabled = metrics
        #: port-forward streams, counted on the server side (portforward.py)
        self.port_forwards = PortForwards()
        self._rest = RestApi(self)
        self._service_ips = 0
        #: > 0: a deleted namespace stays Terminating this long before it is gone (see terminate_namespace)
        self.namespace_termination_s = 0.0
        self.store.listeners.append(self._forget_deleted_pod_logs)
        self.store.listeners.append(self._publish_root_ca)
        self.add_namespace("default")
        for name in nodes:
            self.add_node(name)

    # -- ServerBase hooks ----------------------------------------------------
    def settle(self) -> None:
        self.controllers.settle()

    def _routes(self) -> list[web.RouteDef]:
        return self._rest.routes()

    def _hidden_groups(self) -> set[str]:
        return set() if self.metrics.enabled else {"metrics.k8s.io"}

    def _types(self) -> TypeRegistry:
        return self.types

    def _attach_loop(self) -> None:
        self.controllers.loop = self._loop

    def _on_stop(self) -> None:
        self.store.close_watchers()
        self.logs.close_followers()

    def _forget_deleted_pod_logs(self, rt: ResourceType, type_: str, obj: Obj, old: Obj | None) -> None:
        if rt is PODS and type_ == "DELETED":
            self.logs.forget(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def _publish_root_ca(self, rt: ResourceType, type_: str, obj: Obj, old: Obj | None) -> None:
        """A namespace created (by any path: POST, a seed, a manifest): its `kube-root-ca.crt`
        ConfigMap, as a real cluster's root-ca-cert-publisher writes into every namespace (pods'
        service account volumes name it; its absence would read as a Missing dependency)."""
        if rt is not NAMESPACES or type_ != "ADDED":
            return
        name = obj["metadata"]["name"]
        if self.store.get(CONFIGMAPS, name, ROOT_CA) is None:
            cm = manifests.configmap(name, ROOT_CA, {"ca.crt": manifests.ROOT_CA_PEM})
            cm["metadata"]["annotations"] = {"kubernetes.io/description": manifests.ROOT_CA_DESCRIPTION}
            self.store.create(CONFIGMAPS, cm)

    def _on_crd_change(self, rt: ResourceType, type_: str, obj: Obj, old: Obj | None) -> None:
        """A CRD written: serve (or stop serving) its resource types; mark it Established."""
        if rt is not CRDS:
            return
        spec = obj.get("spec") or {}
        group, plural = str(spec.get("group") or ""), str((spec.get("names") or {}).get("plural") or "")
        if type_ == "DELETED":
            gone = self.types.remove(group, plural)
            if gone:
                self.store.drop_type(gone[0])
            return
        new_types = crds.types_of(obj)
        self.types.remove(group, plural)
        self.types.add(new_types)
        for t in new_types:
            self.store.add_type(t)
        if not crds.is_established(obj):
            established = clone(obj)
            established["status"] = crds.established(obj)
            self.store.update(CRDS, established)

    def list_forbidden(self, rt: ResourceType) -> bool:
        """True when `forbidden_lists` names this resource type (see RestApi.dispatch)."""
        return bool(self.forbidden_lists) and (rt.plural in self.forbidden_lists or rt.key in self.forbidden_lists)

    def allocate_cluster_ip(self) -> str:
        self._service_ips += 1
        return f"10.96.{self._service_ips // 250}.{self._service_ips % 250 + 1}"

    @property
    def pod_start_delay_s(self) -> float:
        """> 0: new pods stay ContainerCreating this long (rollouts observable as Progressing)."""
        return self.controllers.pod_start_delay_s

    @pod_start_delay_s.setter
    def pod_start_delay_s(self, value: float) -> None:
        self.controllers.pod_start_delay_s = value

    @property
    def unpullable_images(self) -> set[str]:
        """Images whose new pods stay in ImagePullBackOff (so do those of any `*.invalid` registry)."""
        return self.controllers.unpullable_images

    # -- generic object access ----------------------------------------------
    @on_loop
    def create(self, resource: str, obj: Obj) -> Obj:
        """Create any object as `POST` would (defaults, validation). `resource`: "pods", "apps/deployments"..."""
        rt = self.types.lookup(resource)
        ns = (obj.get("metadata") or {}).get("namespace") if rt.namespaced else None
        if rt.namespaced and not ns:
            raise ValueError("metadata.namespace is required")
        resp = self._rest.create(rt, ns, clone(obj))
        return json.loads(resp.body)  # type: ignore[arg-type]

    def _put_new(self, rt: ResourceType, obj: Obj) -> Obj:
        meta = obj["metadata"]
        if self.store.get(rt, meta.get("namespace"), meta["name"]) is not None:
            raise already_exists(rt, meta["name"])
        return self.create(rt.key, obj)

    @on_loop
    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        obj = self.store.get(self.types.lookup(resource), namespace, name)
        return clone(obj) if obj is not None else None

    @on_loop
    def list(self, resource: str, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        match = label_matcher(label_selector)
        return [clone(o) for o in self.store.objects(self.types.lookup(resource), namespace)
                if match is None or match(o["metadata"].get("labels") or {})]

    @on_loop
    def pod_names(self, namespace: str, label_selector: str | None = None) -> list[str]:
        match = label_matcher(label_selector)
        return [p["metadata"]["name"] for p in self.store.objects(PODS, namespace)
                if match is None or match(p["metadata"].get("labels") or {})]

    @on_loop
    def patch(self, resource: str, namespace: str | None, name: str, patch: Any,
              content_type: str = MERGE_PATCH) -> Obj:
        """Patch like the API would (spec changes; status via `set_status`)."""
        rt = self.types.lookup(resource)
        current = self.store.get(rt, namespace, name)
        if current is None:
            raise not_found(rt, name)
        patched = apply_patch(content_type, current, patch)
        if rt.has_status:
            patched["status"] = clone(current.get("status"))
        return clone(self.store.update(rt, patched))

    @on_loop
    def set_status(self, resource: str, namespace: str | None, name: str, status: Obj) -> Obj:
        rt = self.types.lookup(resource)
        current = self.store.get(rt, namespace, name)
        if current is None:
            raise not_found(rt, name)
        updated = clone(current)
        updated["status"] = status
        return clone(self.store.update(rt, updated))

    @on_loop
    def delete(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        return self.remove(self.types.lookup(resource), namespace, name)

    def remove(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """Delete an object (a namespace takes its contents with it); dependents are garbage-collected."""
        if rt is NAMESPACES:
            self._empty_namespace(name)
        final = self.store.delete(rt, namespace, name)
        self.settle()
        return final

    def _empty_namespace(self, name: str) -> None:
        for key in list(self.store.tables):
            rt = self.types.lookup(key)
            if rt.namespaced:
                for obj in list(self.store.objects(rt, name)):
                    self.store.delete(rt, name, obj["metadata"]["name"])

    @on_loop
    def terminate_namespace(self, name: str) -> Obj:
        """`DELETE` of a namespace, as the namespace controller carries it out: the namespace turns
        Terminating at once (deletionTimestamp, `status.phase: Terminating`; creating in it is
        refused with 403), its objects are deleted, and the namespace itself goes after
        `namespace_termination_s` (0: in the same request). Deleting it again while it terminates
        answers the terminating namespace. Returns what the API answers."""
        current = self.store.get(NAMESPACES, None, name)
        if current is None:
            raise not_found(NAMESPACES, name)
        if current["metadata"].get("deletionTimestamp"):
            return clone(current)
        terminating = clone(current)
        terminating["metadata"]["deletionTimestamp"] = now_iso()
        terminating["metadata"]["deletionGracePeriodSeconds"] = 0
        terminating["status"] = {"phase": "Terminating"}
        answer = clone(self.store.update(NAMESPACES, terminating))
        self._empty_namespace(name)
        self.settle()
        uid = current["metadata"]["uid"]
        if self.namespace_termination_s > 0 and self._loop is not None and self._loop.is_running():
            self._loop.call_later(self.namespace_termination_s, self._finish_namespace, name, uid)
        else:
            self._finish_namespace(name, uid)
        return answer

    @on_loop
    def finish_namespace_terminations(self) -> list[str]:
        """Remove every Terminating namespace now (as the namespace controller would once done);
        returns their names. For tests that hold namespaces Terminating with a long
        `namespace_termination_s`."""
        names = [ns["metadata"]["name"] for ns in self.store.objects(NAMESPACES)
                 if ns["metadata"].get("deletionTimestamp")]
        for name in names:
            self.remove(NAMESPACES, None, name)
        return names

    def _finish_namespace(self, name: str, uid: str) -> None:
        current = self.store.get(NAMESPACES, None, name)
        if current is not None and current["metadata"]["uid"] == uid:
            self.remove(NAMESPACES, None, name)

    # -- seeding -------------------------------------------------------------
    @on_loop
    def add_namespace(self, name: str, labels: dict[str, str] | None = None) -> Obj:
        existing = self.store.get(NAMESPACES, None, name)
        if existing is not None:
            return clone(existing)
        return self.store.create(NAMESPACES, manifests.namespace(name, labels))

    @on_loop
    def add_node(self, name: str, labels: dict[str, str] | None = None) -> Obj:
        address = f"172.18.0.{len(self.store.table(NODES).objects) + 2}"
        return self.store.create(NODES, manifests.node(name, address, labels))

    @on_loop
    def set_node_ready(self, name: str, ready: bool) -> Obj:
        """Flip the node's Ready condition (KubeletReady / NodeStatusUnknown)."""
        node = self.store.get(NODES, None, name)
        if node is None:
            raise not_found(NODES, name)
        updated = clone(node)
        for cond in updated["status"]["conditions"]:
            if cond["type"] == "Ready":
                cond.update(status="True" if ready else "Unknown",
                            reason="KubeletReady" if ready else "NodeStatusUnknown",
                            message="kubelet is posting ready status" if ready
                            else "Kubelet stopped posting node status.", lastTransitionTime=now_iso())
        return clone(self.store.update(NODES, updated))

    def _ensure_ns(self, namespace: str) -> None:
        if self.store.get(NAMESPACES, None, namespace) is None:
            self.store.create(NAMESPACES, manifests.namespace(namespace))

    @on_loop
    def create_deployment(self, namespace: str, name: str, replicas: int = 3, image: str = "nginx:1.27",
                          labels: dict[str, str] | None = None, containers: list[Obj] | None = None) -> Obj:
        """A Deployment; the controllers create its ReplicaSet and pods (`<rs-name>-<5 chars>`)."""
        self._ensure_ns(namespace)
        return self._put_new(lookup("deployments"),
                             manifests.deployment(namespace, name, replicas, image, labels, containers))

    @on_loop
    def create_statefulset(self, namespace: str, name: str, replicas: int = 2, image: str = "postgres:16",
                           labels: dict[str, str] | None = None, containers: list[Obj] | None = None,
                           service_name: str | None = None) -> Obj:
        self._ensure_ns(namespace)
        return self._put_new(lookup("statefulsets"), manifests.statefulset(
            namespace, name, replicas, image, labels, containers, service_name))

    @on_loop
    def create_daemonset(self, namespace: str, name: str, image: str = "fluent/fluent-bit:3.1",
                         labels: dict[str, str] | None = None, containers: list[Obj] | None = None) -> Obj:
        self._ensure_ns(namespace)
        return self._put_new(lookup("daemonsets"), manifests.daemonset(namespace, name, image, labels, containers))

    @on_loop
    def create_job(self, namespace: str, name: str, image: str = "busybox:1.36", completions: int = 1,
                   command: list[str] | None = None, labels: dict[str, str] | None = None,
                   succeed: bool = True) -> Obj:
        """A Job whose pods complete (or fail: `succeed=False` → condition Failed, BackoffLimitExceeded)."""
        self._ensure_ns(namespace)
        self.controllers.job_outcomes[(namespace, name)] = "Succeeded" if succeed else "Failed"
        return self._put_new(lookup("jobs"), manifests.job(namespace, name, image, completions, command, labels))

    @on_loop
    def create_service(self, namespace: str, name: str, selector: dict[str, str] | None = None, port: int = 80,
                       target_port: int = 8080, type: str = "ClusterIP") -> Obj:  # noqa: A002 - kubectl's word
        self._ensure_ns(namespace)
        return self._put_new(lookup("services"), manifests.service(namespace, name, selector, port, target_port,
                                                                   type))

    @on_loop
    def create_pvc(self, namespace: str, name: str, storage: str = "1Gi", storage_class: str = "standard") -> Obj:
        self._ensure_ns(namespace)
        return self._put_new(lookup("persistentvolumeclaims"), manifests.pvc(namespace, name, storage, storage_class))

    @on_loop
    def create_secret(self, namespace: str, name: str, data: dict[str, str | bytes], type: str = "Opaque") -> Obj:  # noqa: A002
        self._ensure_ns(namespace)
        return self._put_new(lookup("secrets"), manifests.secret(namespace, name, data, type))

    @on_loop
    def create_configmap(self, namespace: str, name: str, data: dict[str, str]) -> Obj:
        self._ensure_ns(namespace)
        return self._put_new(lookup("configmaps"), manifests.configmap(namespace, name, data))

    @on_loop
    def bulk_create_pods(self, namespace: str, n: int, prefix: str = "pod", labels: dict[str, str] | None = None,
                         image: str = "nginx:1.27") -> int:
        """n standalone Running pods `<prefix>-00000`.. (no controller, no events): the 20k-pod fast path."""
        self._ensure_ns(namespace)
        template = {"metadata": {"labels": labels or {"app": prefix}},
                    "spec": {"containers": manifests._containers(prefix, image, None)}}
        ctl = self.controllers
        nodes = ctl.node_names()
        for i in range(n):
            node = nodes[i % len(nodes)]
            pod = pod_from_template(template, namespace, f"{prefix}-{i:05d}", None, node)
            pod["status"] = pod_status(pod, "Running", ctl.next_pod_ip(), ctl.host_ip(node))
            self.store.create(PODS, pod)
        return n

    # -- scripted behaviour --------------------------------------------------
    @on_loop
    def inject_fault(self, namespace: str, pod_name: str, kind: str | None, event: bool = True) -> Obj:
        """kind: "CrashLoopBackOff" | "OOMKilled" | "ImagePullBackOff" | "NotReady" | None (clear).

        Sets the container states a kubelet would report, records the matching Warning event
        (unless event=False) and, for crashes, rotates the logs so `previous=true` has the dead
        container's output. The owning workload loses availability through the controllers."""
        pod = self.store.get(PODS, namespace, pod_name)
        if pod is not None and kind in ("CrashLoopBackOff", "OOMKilled"):
            for c in pod["spec"].get("containers", []):
                self.logs.restart(pod, c["name"], "Killed" if kind == "OOMKilled"
                                  else "panic: runtime error: invalid memory address or nil pointer dereference")
        return clone(self.controllers.set_fault(namespace, pod_name, kind, event))

    @on_loop
    def add_event(self, namespace: str, involved_kind: str, involved_name: str, reason: str, message: str,
                  type: str = "Warning", count: int = 1, component: str = "kubelet") -> Obj:  # noqa: A002
        """An Event about an object (its uid is filled in when the object exists); repeated → count grows."""
        self._ensure_ns(namespace)
        involved: dict[str, Any] = {"kind": involved_kind, "name": involved_name, "namespace": namespace}
        for t in list(self.store.tables):
            rt = self.types.lookup(t)
            if rt.kind == involved_kind:
                target = self.store.get(rt, namespace, involved_name)
                if target is not None:
                    involved.update(uid=target["metadata"]["uid"], apiVersion=rt.api_version,
                                    resourceVersion=target["metadata"]["resourceVersion"])
        return clone(record_event(self.store, namespace, involved, reason, message, type, component, count))

    @on_loop
    def append_log(self, namespace: str, pod: str, line: str, container: str | None = None) -> None:
        obj = self.store.get(PODS, namespace, pod)
        if obj is None:
            raise not_found(PODS, pod)
        self.logs.append(obj, container or obj["spec"]["containers"][0]["name"], line)

    @on_loop
    def set_pod_metrics(self, namespace: str, pod: str, cpu: str = "100m", memory: str = "64Mi",
                        container: str | None = None) -> None:
        """Usage metrics-server reports for the pod's containers (or one container)."""
        self.metrics.set(namespace, pod, cpu, memory, container)

    @on_loop
    def set_failure(self, status: int | None = None, delay_s: float = 0.0, gone_watches: bool = False, *,
                    message: str = "", retry_after_s: int | None = None, times: int | None = None,
                    silent_watches: bool = False, watch_error: int | None = None,
                    endless_watch_line: bool = False) -> None:
        """Every request answers `status` (with `message`, and `Retry-After: retry_after_s` when
        given; only the next `times` requests when given) / waits `delay_s`; `gone_watches`:
        every watch gets 410; `silent_watches`: every watch is accepted, then sends nothing and
        never ends; `watch_error` (410 or 504): every watch answers 200 and one ERROR event, 410 Gone or
        504 "Too large resource version", at once; `endless_watch_line`: every watch answers 200, then
        streams 64 KiB chunks of `A` without a newline until the client drops it (a hostile proxy).
        `failure.injected` counts the requests answered `status` since this call. Call with no
        arguments to heal."""
        self.failure = FailureMode(status=status, delay_s=delay_s, gone_watches=gone_watches, message=message,
                                   retry_after_s=retry_after_s, times=times, silent_watches=silent_watches,
                                   watch_error=watch_error, endless_watch_line=endless_watch_line)
        if status or gone_watches or silent_watches or watch_error or endless_watch_line:
            self.store.close_watchers()

    @on_loop
    def set_deployment_condition(self, namespace: str, name: str, type: str, status: str | None,  # noqa: A002
                                 reason: str = "", message: str = "") -> None:
        """Force a Deployment condition (e.g. Progressing/False/ProgressDeadlineExceeded); status=None clears."""
        overrides = self.controllers.condition_overrides.setdefault((namespace, name), {})
        if status is None:
            overrides.pop(type, None)
        else:
            stamp = now_iso()
            overrides[type] = {"type": type, "status": status, "lastUpdateTime": stamp,
                               "lastTransitionTime": stamp, "reason": reason, "message": message}
        self.controllers.mark(lookup("deployments"), namespace, name)

    @on_loop
    def compact(self) -> None:
        """Drop the watch history: watches and continue tokens from older resourceVersions get 410."""
        self.store.compact()

    @on_loop
    def close_watches(self) -> None:
        """End every open watch stream (clients must reconnect from their last resourceVersion)."""
        self.store.close_watchers()

    @on_loop
    def start_log_generators(self, interval_s: float = 1.0, namespaces: tuple[str, ...] | None = None,
                             lines_per_tick: int = 1) -> None:
        """Keep running pods logging (demo content) until `stop_log_generators()` or `stop()`.
        Needs the running loop (after `start()`)."""
        self.stop_log_generators()
        self._log_task = self.spawn(run_log_generators(self, interval_s, namespaces, lines_per_tick))

    @on_loop
    def stop_log_generators(self) -> None:
        task = getattr(self, "_log_task", None)
        if task is not None:
            task.cancel()
            self._log_task = None

    @property
    def resource_version(self) -> int:
        return self.store.rv
