"""What every emulated controller shares: the work queue, the pod-owner index,
pod creation and status, scripted faults and the garbage collector.

Controllers react to store writes (a listener marks owners dirty); `settle()`
then runs reconcilers until nothing is dirty. The emulator calls `settle()`
after each API request and each mutator, so a `kubectl scale` answer is sent
after the pods already follow (a real cluster converges a moment later).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from . import pods as podlib
from .events import record_event, reference
from .resources import ResourceType, lookup
from .store import Obj, Store, clone

PODS, NODES = lookup("pods"), lookup("nodes")
REPLICASETS, DEPLOYMENTS = lookup("replicasets"), lookup("deployments")
STATEFULSETS, DAEMONSETS, JOBS = lookup("statefulsets"), lookup("daemonsets"), lookup("jobs")
_OWNER_KINDS = {"ReplicaSet": REPLICASETS, "StatefulSet": STATEFULSETS, "DaemonSet": DAEMONSETS, "Job": JOBS,
                "Deployment": DEPLOYMENTS}
_FINISHED = ("Succeeded", "Failed")


class ControllerRuntime:
    def __init__(self, store: Store, rng: random.Random):
        self.store = store
        self.rng = rng
        self.dirty: dict[tuple[str, str, str], None] = {}
        self.pods_by_owner: dict[str, set[tuple[str, str]]] = {}
        self.faults: dict[tuple[str, str], str] = {}
        self.pod_start_delay_s = 0.0
        #: images whose pods stay in ImagePullBackOff (besides any from a `*.invalid` registry)
        self.unpullable_images: set[str] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ip_counter = 0
        self._node_cursor = 0
        self._settling = False
        self._reconcilers: dict[str, Callable[[str, str], None]] = {}
        store.listeners.append(self._on_change)

    # -- the work queue ------------------------------------------------------
    def mark(self, rt: ResourceType, namespace: str, name: str) -> None:
        self.dirty[(rt.key, namespace, name)] = None

    def settle(self) -> None:
        """Run reconcilers until nothing is dirty (re-entrant calls are no-ops)."""
        if self._settling:
            return
        self._settling = True
        try:
            rounds = 0
            while self.dirty and rounds < 1_000_000:
                rounds += 1
                key = next(iter(self.dirty))
                del self.dirty[key]
                reconcile = self._reconcilers.get(key[0])
                if reconcile is not None:
                    reconcile(key[1], key[2])
        finally:
            self._settling = False

    def _on_change(self, rt: ResourceType, type_: str, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        if rt is PODS:
            self._index_pod(type_, obj)
        elif rt is NODES and type_ != "MODIFIED":
            for ds in self.store.objects(DAEMONSETS):
                self.mark(DAEMONSETS, ds["metadata"]["namespace"], ds["metadata"]["name"])
        elif rt.key in self._reconcilers:
            self.mark(rt, ns, name)
        for ref in meta.get("ownerReferences") or ():
            owner_rt = _OWNER_KINDS.get(ref.get("kind"))
            if owner_rt is not None and ref.get("controller"):
                self.mark(owner_rt, ns, ref["name"])
        if type_ == "DELETED":
            self._collect_garbage(rt, obj)

    def _index_pod(self, type_: str, pod: Obj) -> None:
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        for ref in pod["metadata"].get("ownerReferences") or ():
            owned = self.pods_by_owner.setdefault(ref["uid"], set())
            if type_ == "DELETED":
                owned.discard(key)
            else:
                owned.add(key)
        if type_ == "DELETED":
            self.faults.pop(key, None)

    def _collect_garbage(self, rt: ResourceType, obj: Obj) -> None:
        """Background cascading deletion of what the deleted object owned."""
        uid = obj["metadata"].get("uid")
        ns = obj["metadata"].get("namespace", "")
        for pod_ns, pod_name in sorted(self.pods_by_owner.pop(uid, set())):
            self.store.delete(PODS, pod_ns, pod_name)
        if rt is DEPLOYMENTS:
            for rs in list(self.store.objects(REPLICASETS, ns)):
                if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or ()):
                    self.store.delete(REPLICASETS, ns, rs["metadata"]["name"])

    # -- pods ----------------------------------------------------------------
    def owned_pods(self, owner: Obj) -> list[Obj]:
        found = []
        for ns, name in self.pods_by_owner.get(owner["metadata"]["uid"], ()):
            pod = self.store.get(PODS, ns, name)
            if pod is not None:
                found.append(pod)
        return sorted(found, key=lambda p: p["metadata"]["name"])

    def node_names(self) -> list[str]:
        return [n["metadata"]["name"] for n in self.store.objects(NODES)] or ["node-1"]

    def next_node(self) -> str:
        """Round-robin over schedulable nodes (cordoned ones are skipped unless all are cordoned)."""
        nodes = [n["metadata"]["name"] for n in self.store.objects(NODES)
                 if not (n.get("spec") or {}).get("unschedulable")] or self.node_names()
        self._node_cursor += 1
        return nodes[self._node_cursor % len(nodes)]

    def next_pod_ip(self) -> str:
        self._ip_counter += 1
        n = self._ip_counter
        return f"10.244.{(n // 250) % 250}.{n % 250 + 1}"

    def host_ip(self, node_name: str) -> str:
        node = self.store.get(NODES, None, node_name)
        for addr in ((node or {}).get("status") or {}).get("addresses", []):
            if addr.get("type") == "InternalIP":
                return addr["address"]
        return "172.18.0.2"

    def create_pod(self, template: Obj, namespace: str, name: str, owner: Obj | None,
                   node: str | None = None, extra_labels: dict[str, str] | None = None,
                   final_state: str = "Running") -> Obj:
        node = node or self.next_node()
        pod = podlib.pod_from_template(template, namespace, name, owner, node, extra_labels)
        if final_state == "Running" and any(self.unpullable(c.get("image", ""))
                                            for c in pod["spec"].get("containers", [])):
            final_state = self.faults[(namespace, name)] = "ImagePullBackOff"
        delayed = self.pod_start_delay_s > 0 and self.loop is not None and self.loop.is_running()
        state = "Pending" if delayed else final_state
        pod["status"] = podlib.pod_status(pod, state, self.next_pod_ip(), self.host_ip(node))
        created = self.store.create(PODS, pod)
        if delayed:
            assert self.loop is not None
            self.loop.call_later(self.pod_start_delay_s, self._start_pod, namespace, name, final_state)
        elif final_state == "ImagePullBackOff":
            self._fault_event(created, final_state)
        return created

    def unpullable(self, image: str) -> bool:
        """An image no registry serves: listed in `unpullable_images`, or from a registry under
        the reserved `.invalid` top-level domain (RFC 2606), e.g. `registry.invalid/app:1`.
        Its pods stay Pending in ImagePullBackOff, as a kubelet reports them."""
        if image in self.unpullable_images:
            return True
        first, sep, _ = image.partition("/")
        host = first.split(":", 1)[0].lower()
        return bool(sep) and ("." in first or ":" in first) and (host == "invalid" or host.endswith(".invalid"))

    def _start_pod(self, namespace: str, name: str, final_state: str) -> None:
        pod = self.store.get(PODS, namespace, name)
        if pod is None or pod["status"].get("phase") != "Pending":
            return
        self.set_pod_state(pod, self.faults.get((namespace, name), final_state))
        self.settle()

    def set_pod_state(self, pod: Obj, state: str) -> Obj:
        status = pod.get("status") or {}
        updated = dict(pod)
        updated["metadata"] = clone(pod["metadata"])
        updated["status"] = podlib.pod_status(pod, state, status.get("podIP") or self.next_pod_ip(),
                                              status.get("hostIP") or self.host_ip(pod["spec"].get("nodeName", "")),
                                              previous=status)
        return self.store.update(PODS, updated)

    def set_fault(self, namespace: str, name: str, kind: str | None, event: bool = True) -> Obj:
        if kind is not None and kind not in podlib.FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {podlib.FAULTS} or None")
        pod = self.store.get(PODS, namespace, name)
        if pod is None:
            raise KeyError(f"pod {namespace}/{name} not found")
        if kind is None:
            self.faults.pop((namespace, name), None)
        else:
            self.faults[(namespace, name)] = kind
        updated = self.set_pod_state(pod, kind or "Running")
        if event and kind is not None:
            self._fault_event(updated, kind)
        return updated

    def _fault_event(self, pod: Obj, kind: str) -> None:
        container = pod["spec"]["containers"][0]
        ref = dict(reference(pod), fieldPath=f"spec.containers{{{container['name']}}}")
        ns = pod["metadata"]["namespace"]
        message = {
            "CrashLoopBackOff": ("BackOff", "Back-off restarting failed container "
                                            f"{container['name']} in pod {pod['metadata']['name']}"),
            "OOMKilled": ("OOMKilling", f"Container {container['name']} was OOM-killed (memory limit exceeded)"),
            "ImagePullBackOff": ("Failed", f'Failed to pull image "{container.get("image", "")}": '
                                           "rpc error: code = NotFound desc = failed to resolve reference"),
            "NotReady": ("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"),
            "Failed": ("BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        }[kind]
        record_event(self.store, ns, ref, message[0], message[1], "Warning", "kubelet")

    def pod_state_for(self, pod: Obj) -> str:
        return self.faults.get((pod["metadata"]["namespace"], pod["metadata"]["name"]), "Running")

    @staticmethod
    def active(pods: list[Obj]) -> list[Obj]:
        return [p for p in pods if (p.get("status") or {}).get("phase") not in _FINISHED
                and not p["metadata"].get("deletionTimestamp")]

    def write_status(self, rt: ResourceType, obj: Obj, status: Obj) -> None:
        if obj.get("status") == status:
            return
        updated = dict(obj)
        updated["metadata"] = clone(obj["metadata"])
        updated["status"] = status
        self.store.update(rt, updated)
