"""core/v1 Events, aggregated like the kubelet and controllers do (same object + reason → count += 1)."""

from __future__ import annotations

from typing import Any

from .resources import lookup
from .store import Store, clone, now_iso

EVENTS = lookup("events")


def record_event(store: Store, namespace: str, involved: dict[str, Any], reason: str, message: str,
                 type_: str = "Normal", component: str = "", count: int = 1) -> dict[str, Any]:
    """Create the event, or bump the count of the existing one for the same object, reason and type.

    `involved` is an object reference: kind, name and optionally namespace, uid, apiVersion, fieldPath.
    """
    ref = {k: involved[k] for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion",
                                    "fieldPath") if involved.get(k) is not None}
    ref.setdefault("namespace", namespace)
    stamp = now_iso()
    for existing in store.objects(EVENTS, namespace):
        inv = existing.get("involvedObject", {})
        if (inv.get("kind"), inv.get("name"), inv.get("uid")) == (ref.get("kind"), ref.get("name"), ref.get("uid")) \
                and existing.get("reason") == reason and existing.get("type") == type_:
            updated = clone(existing)
            updated["count"] = existing.get("count", 1) + count
            updated["message"] = message
            updated["lastTimestamp"] = stamp
            return store.update(EVENTS, updated)
    name = f"{ref['name']}.{store.rv + 1:016x}"
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": ref, "reason": reason, "message": message,
        "source": {"component": component} if component else {},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": count, "type": type_,
        "eventTime": None, "reportingComponent": component, "reportingInstance": "",
    }
    return store.create(EVENTS, event)


def reference(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata", {})
    return {"kind": obj.get("kind"), "namespace": meta.get("namespace"), "name": meta.get("name"),
            "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion")}
