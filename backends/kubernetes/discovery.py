"""Which resource types the namespace has: the discovery API, read as kubectl reads it.

`/api/v1` and `/apis` (each group with its preferred version) are read at once, then
every preferred group version's resource list concurrently (at most
`DISCOVERY_CONCURRENCY` at a time). A type is kept when it is namespaced, served
with both `list` and `watch`, not a subresource (`pods/log`) and not one of
`kinds.EXCLUDED` (noise). A group version that fails (an aggregated API whose
backing service is down answers 503) is skipped and named in `unavailable`, as
kubectl warns and carries on; failing to read `/api/v1` or `/apis` is an error.
Two groups with the same kind (`Certificate` of cert-manager and of another
operator) keep distinct names: the one of a built-in/typed group stays `Certificate`,
the others become `Certificate.group`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from backends.kubernetes.api import KubeApi
from backends.kubernetes.api_paths import api_base
from backends.kubernetes.convert_kinds import generic
from backends.kubernetes.kinds import BASE_KINDS, EXCLUDED, TYPED, KindSpec, spec_for
from tui.core.errors import BackendError

DISCOVERY_CONCURRENCY = 8


@dataclass(slots=True)
class Discovered:
    """What one discovery pass found."""

    specs: list[KindSpec]  # the base kinds first, then the discovered ones (typed, then by name)
    unavailable: list[str] = field(default_factory=list)  # group versions that did not answer


def _wanted(entry: dict[str, Any]) -> bool:
    verbs = set(entry.get("verbs") or ())
    name = str(entry.get("name") or "")
    return bool(name) and "/" not in name and bool(entry.get("namespaced")) and {"list", "watch"} <= verbs


async def discover(api: KubeApi) -> Discovered:
    core_task = asyncio.ensure_future(api.get("/api/v1"))
    try:
        groups = await api.get("/apis")
        core = await core_task
    finally:
        core_task.cancel()
    versions = [str((g.get("preferredVersion") or {}).get("groupVersion") or "")
                for g in groups.get("groups") or () if isinstance(g, dict)]
    gate = asyncio.Semaphore(DISCOVERY_CONCURRENCY)

    async def resources_of(group_version: str) -> dict[str, Any] | BackendError:
        async with gate:
            try:
                return await api.get(api_base(group_version))
            except BackendError as exc:  # e.g. 503 from an aggregated API that is down
                return exc

    answers = await asyncio.gather(*(resources_of(gv) for gv in versions if gv))
    found: list[tuple[str, str, dict[str, Any]]] = [("", "v1", e) for e in core.get("resources") or ()]
    unavailable: list[str] = []
    for group_version, answer in zip([gv for gv in versions if gv], answers, strict=True):
        if isinstance(answer, BackendError):
            unavailable.append(group_version)
            continue
        group, _, version = group_version.rpartition("/")
        found.extend((group, version, e) for e in answer.get("resources") or ())
    return Discovered(_specs(found), unavailable)


def _specs(found: list[tuple[str, str, dict[str, Any]]]) -> list[KindSpec]:
    base_keys = {k.key for k in BASE_KINDS}
    chosen: dict[str, KindSpec] = {}
    for group, version, entry in found:
        if not isinstance(entry, dict) or not _wanted(entry):
            continue
        key = f"{group}/{entry['name']}"
        if key in EXCLUDED or key in base_keys or key in chosen:
            continue
        chosen[key] = spec_for(group, version, str(entry["name"]), str(entry.get("kind") or entry["name"]), True)
    taken = {k.kind for k in BASE_KINDS} | {s.kind for key, s in chosen.items() if key in TYPED}
    specs: list[KindSpec] = []
    for key, spec in sorted(chosen.items(), key=lambda kv: (kv[0] not in TYPED, kv[1].kind, kv[0])):
        if key not in TYPED and spec.kind in taken:
            name = f"{spec.kind}.{spec.group}"
            spec = KindSpec(name, spec.group_version, spec.plural, generic(name), spec.namespaced, optional=True)
        taken.add(spec.kind)
        specs.append(spec)
    return [*BASE_KINDS, *specs]


#: Watched to learn when discovery must be read again (cluster-scoped: a namespace-scoped
#: user is often not allowed to list it; the inventory then re-reads discovery periodically).
CRD_SPEC = KindSpec("CustomResourceDefinition", "apiextensions.k8s.io/v1", "customresourcedefinitions", None,
                    namespaced=False, optional=True)


def _shape(crd: dict[str, Any]) -> tuple:
    """What of a CRD decides the types served: group, plural, kind, scope, served versions, Established."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    served = tuple(sorted(str(v.get("name")) for v in spec.get("versions") or () if v.get("served")))
    established = any(c.get("type") == "Established" and c.get("status") == "True"
                      for c in (crd.get("status") or {}).get("conditions") or () if isinstance(c, dict))
    return (spec.get("group"), names.get("plural"), names.get("kind"), spec.get("scope"), served, established)


class CrdShapes:
    """The informer sink of CustomResourceDefinitions: keeps only their shapes, so that a
    change of anything else (annotations, stored versions) does not re-read discovery."""

    def __init__(self) -> None:
        self.shapes: dict[str, tuple] = {}

    def upsert(self, obj: dict[str, Any]) -> None:
        self.shapes[str((obj.get("metadata") or {}).get("name") or "")] = _shape(obj)

    def remove(self, name: str) -> None:
        self.shapes.pop(name, None)

    def relist(self) -> _CrdRelist:
        return _CrdRelist(self)

    def signature(self) -> frozenset:
        return frozenset(self.shapes.values())


class _CrdRelist:
    def __init__(self, sink: CrdShapes):
        self.sink = sink
        self.shapes: dict[str, tuple] = {}

    def upsert(self, obj: dict[str, Any]) -> None:
        self.shapes[str((obj.get("metadata") or {}).get("name") or "")] = _shape(obj)

    def commit(self) -> bool:
        changed = self.shapes != self.sink.shapes
        self.sink.shapes = self.shapes
        return changed
