"""Xray links between a namespace's Resources (pure functions over what convert.py kept).

- Ingress → Service (`routes to`: the backend service names of its rules)
- Service → Pod and PodDisruptionBudget → Pod (`selects` / `covers`: selector ⊆ the pod's labels)
- owner → owned (`owns`: Deployment → ReplicaSet → Pod, StatefulSet/DaemonSet/Job → Pod,
  CronJob → Job, any controller owner reference, custom resources included)
- Pod → PersistentVolumeClaim / ConfigMap / Secret (`mounts` volumes, `env from` envFrom and
  env valueFrom)
- HorizontalPodAutoscaler → its scale target (`scales`)
- Pod → Node (`runs on`), Node → the EC2 instance of its providerID (`is`, across backends)

Selectors are matched against pods grouped by label once per call (a label pair → the pods
that carry it; a selector intersects its pairs' groups, smallest first), so that a namespace of
20k pods costs one pass over the pods, not one per Service.
"""

from __future__ import annotations

from typing import Any

from tui.core.model import Resource, resource_id
from tui.core.xray import Link

BACKEND = "kubernetes"


def _rid(kind: str, name: str) -> str:
    return resource_id(BACKEND, kind, name)


def _owner_id(ref: Any) -> str | None:
    """`Kind/name` (convert.controller_of) → the owner's resource id."""
    if not isinstance(ref, str) or "/" not in ref:
        return None
    kind, _, name = ref.partition("/")
    return _rid(kind, name) if kind and name else None


class _PodsByLabel:
    def __init__(self, pods: list[Resource]):
        self.groups: dict[tuple[str, str], list[str]] = {}
        for pod in pods:
            for pair in (pod.attributes.get("labels") or {}).items():
                self.groups.setdefault(pair, []).append(pod.id)

    def matching(self, selector: dict[str, Any]) -> list[str]:
        if not selector:  # a Service without a selector selects nothing (its endpoints are manual)
            return []
        groups = sorted((self.groups.get((str(k), str(v)), []) for k, v in selector.items()), key=len)
        if not groups[0]:
            return []
        found = set(groups[0])
        for group in groups[1:]:
            found.intersection_update(group)
            if not found:
                return []
        return sorted(found)


def _aws_instance(provider_id: Any) -> str | None:
    """aws:///eu-west-1a/i-0abc… → aws/ec2-instance/i-0abc…"""
    if not isinstance(provider_id, str) or not provider_id.startswith("aws://"):
        return None
    last = provider_id.rstrip("/").rsplit("/", 1)[-1]
    return resource_id("aws", "ec2-instance", last) if last.startswith("i-") else None


def resource_links(resources: list[Resource]) -> list[Link]:
    """Every link among these Resources of one namespace (targets may be absent: a Pod naming a
    ConfigMap that does not exist is the xray's Missing node). Ids are built once per name
    (20k pods name the same few ConfigMaps, Secrets and Nodes)."""
    pods = [r for r in resources if r.kind == "Pod"]
    by_label = _PodsByLabel(pods)
    ids: dict[tuple[str, str], str] = {}

    def rid(kind: str, name: str) -> str:
        key = (kind, name)
        found = ids.get(key)
        if found is None:
            found = ids[key] = f"{BACKEND}/{kind}/{name}"
        return found

    links: list[Link] = []
    add = links.append
    for res in resources:
        attrs = res.attributes
        owner = attrs.get("owner")
        if isinstance(owner, str) and "/" in owner:
            kind, _, name = owner.partition("/")
            if kind and name:
                add(Link(rid(kind, name), res.id, "owns"))
        kind = res.kind
        if kind == "Pod":
            refs = attrs.get("refs")
            if refs:
                for group, relation in (("volumes", "mounts"), ("env", "env from")):
                    for ref_kind, names in (refs.get(group) or {}).items():
                        for name in names:
                            add(Link(res.id, rid(ref_kind, name), relation))
            node = attrs.get("node")
            if node:
                add(Link(res.id, rid("Node", str(node)), "runs on"))
        elif kind == "Service":
            links += [Link(res.id, pid, "selects") for pid in by_label.matching(attrs.get("selector") or {})]
        elif kind == "PodDisruptionBudget":
            links += [Link(res.id, pid, "covers") for pid in by_label.matching(attrs.get("selector") or {})]
        elif kind == "Ingress":
            links += [Link(res.id, rid("Service", str(name)), "routes to") for name in attrs.get("services") or ()]
        elif kind == "HorizontalPodAutoscaler":
            target = _owner_id(attrs.get("target"))
            if target is not None:
                add(Link(res.id, target, "scales"))
        elif kind == "Node":
            instance = _aws_instance(attrs.get("provider_id"))
            if instance is not None:
                add(Link(res.id, instance, "is"))
    return links
