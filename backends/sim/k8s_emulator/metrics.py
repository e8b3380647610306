"""metrics.k8s.io/v1beta1 PodMetrics and NodeMetrics, as metrics-server reports them.

Running pods report a small, stable usage derived from their name unless a test
set one with `Emulator.set_pod_metrics`; `Emulator(metrics=False)` makes the
group absent (404), like a cluster without metrics-server.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .resources import ResourceType, lookup
from .selectors import SelectorError, label_matcher
from .status import ApiError
from .store import encode, now_iso

if TYPE_CHECKING:
    from .store import Store

PODS, NODES = lookup("pods"), lookup("nodes")


def parse_cpu(value: str) -> float:
    """Cores from a quantity: "250m" → 0.25, "2" → 2.0, "1500000n" → 0.0015."""
    units = {"n": 1e-9, "u": 1e-6, "m": 1e-3}
    if value and value[-1] in units:
        return float(value[:-1]) * units[value[-1]]
    return float(value)


def parse_memory(value: str) -> int:
    """Bytes from a quantity: "64Mi", "1Gi", "128974848", "100M"."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * factor)
    return int(value)


class MetricsServer:
    def __init__(self, store: Store):
        self.store = store
        self.enabled = True
        self.usage: dict[tuple[str, str], dict[str | None, tuple[str, str]]] = {}

    def set(self, namespace: str, pod: str, cpu: str, memory: str, container: str | None = None) -> None:
        parse_cpu(cpu)
        parse_memory(memory)
        self.usage.setdefault((namespace, pod), {})[container] = (cpu, memory)

    def _container_usage(self, pod: dict[str, Any], container: str) -> dict[str, str]:
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        set_ = self.usage.get(key, {})
        if container in set_ or None in set_:
            cpu, memory = set_.get(container) or set_[None]
            return {"cpu": cpu, "memory": memory}
        seed = int(hashlib.sha256(f"{key}/{container}".encode()).hexdigest()[:8], 16)
        return {"cpu": f"{1 + seed % 40}m", "memory": f"{16 + seed % 96}Mi"}

    def pod_metrics(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        if (pod.get("status") or {}).get("phase") != "Running":
            return None
        meta = pod["metadata"]
        return {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace"),
                             "creationTimestamp": now_iso(), "labels": meta.get("labels") or {}},
                "timestamp": now_iso(), "window": "15s",
                "containers": [{"name": c["name"], "usage": self._container_usage(pod, c["name"])}
                               for c in pod["spec"].get("containers", [])]}

    def node_metrics(self, node: dict[str, Any]) -> dict[str, Any]:
        name = node["metadata"]["name"]
        cpu = memory = 0.0
        for pod in self.store.objects(PODS):
            if pod["spec"].get("nodeName") == name and (m := self.pod_metrics(pod)):
                for c in m["containers"]:
                    cpu += parse_cpu(c["usage"]["cpu"])
                    memory += parse_memory(c["usage"]["memory"])
        return {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": name, "creationTimestamp": now_iso(),
                             "labels": node["metadata"].get("labels") or {}},
                "timestamp": now_iso(), "window": "20s",
                "usage": {"cpu": f"{int(cpu * 1000) + 120}m", "memory": f"{int(memory / 2**10) + 900_000}Ki"}}

    def serve(self, request: web.Request, rt: ResourceType, namespace: str | None, name: str | None
              ) -> web.Response:
        if not self.enabled:
            raise ApiError(404, "the server could not find the requested resource")
        try:
            label_m = label_matcher(request.query.get("labelSelector"))
        except SelectorError as exc:
            raise ApiError(400, str(exc)) from None
        source = PODS if rt.kind == "PodMetrics" else NODES
        build = self.pod_metrics if source is PODS else self.node_metrics
        if name is not None:
            obj = self.store.get(source, namespace, name)
            metrics = build(obj) if obj is not None else None
            if metrics is None:
                raise ApiError(404, f'{rt.plural}.metrics.k8s.io "{name}" not found', "NotFound",
                               {"name": name, "group": "metrics.k8s.io", "kind": rt.plural})
            return web.Response(body=encode(metrics), content_type="application/json")
        items = []
        for obj in self.store.objects(source, namespace):
            if label_m is not None and not label_m(obj["metadata"].get("labels") or {}):
                continue
            if (metrics := build(obj)) is not None:
                items.append(metrics)
        return web.Response(body=encode({"kind": rt.list_kind, "apiVersion": "metrics.k8s.io/v1beta1",
                                         "metadata": {}, "items": items}), content_type="application/json")
