"""CustomResourceDefinitions (apiextensions.k8s.io/v1): what a CRD must say, and the
resource types it makes the emulator serve.

A CRD is checked as the apiserver checks the parts that matter here (its name is
`<plural>.<group>`, a kind and a scope, at least one served version and exactly one
storage version); once stored it is `Established` at once and every served version
appears in discovery and is served with list/watch/CRUD (the `status` subresource
when the version declares it). Deleting the CRD deletes its objects (watchers see
them DELETED) and ends the watches on them. No schema validation or conversion:
every version reads and writes the same stored objects.
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceType, Subresource
from .status import invalid
from .store import now_iso

Obj = dict[str, Any]


def validate(rt: ResourceType, crd: Obj) -> None:
    name = crd["metadata"].get("name", "")
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not group or not plural or not kind:
        raise invalid(rt, name, "spec.group, spec.names.plural and spec.names.kind: Required value")
    if name != f"{plural}.{group}":
        raise invalid(rt, name, f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        raise invalid(rt, name, 'spec.scope: Unsupported value: supported values: "Cluster", "Namespaced"')
    versions = spec.get("versions") or []
    if not any(v.get("served") for v in versions):
        raise invalid(rt, name, "spec.versions: Invalid value: must have at least one served version")
    if sum(1 for v in versions if v.get("storage")) != 1:
        raise invalid(rt, name, "spec.versions: Invalid value: must have exactly one version marked as storage version")


def types_of(crd: Obj) -> list[ResourceType]:
    """The resource types of a CRD's served versions, the storage version first."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind = str(names["kind"])
    versions = sorted((v for v in spec.get("versions") or () if v.get("served")),
                      key=lambda v: not v.get("storage"))
    out = []
    for v in versions:
        has_status = "status" in (v.get("subresources") or {})
        subresources = (Subresource("status", kind, ("get", "patch", "update")),) if has_status else ()
        out.append(ResourceType(
            str(spec["group"]), str(v["name"]), str(names["plural"]), kind, spec.get("scope") == "Namespaced",
            tuple(names.get("shortNames") or ()), tuple(names.get("categories") or ()),
            subresources=subresources, has_status=True))  # has_status: generation is kept, as for every CR
    return out


def established(crd: Obj) -> Obj:
    """The CRD's status once the apiserver accepted its names and serves it."""
    stamp = now_iso()
    names = (crd.get("spec") or {}).get("names") or {}
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
         "lastTransitionTime": stamp},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted", "lastTransitionTime": stamp},
    ]
    stored = [v.get("name") for v in (crd.get("spec") or {}).get("versions") or () if v.get("storage")]
    return {"conditions": conditions, "acceptedNames": dict(names), "storedVersions": stored}


def is_established(crd: Obj) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or ())
