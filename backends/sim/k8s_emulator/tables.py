"""Server-side printing: `meta.k8s.io/v1 Table` answers for `kubectl get`.

kubectl asks with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`;
the columns and cell formats follow the apiserver's printers for each kind
(priority-1 columns are the ones `-o wide` adds).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .resources import ResourceType
from .selectors import selector_from_match_labels

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration: 45s, 5m10s, 47m, 3h12m, 20h, 3d4h, 45d, 2y120d."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"


def age(stamp: str | None) -> str:
    if not stamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(stamp)
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - then).total_seconds())


def _containers(obj: Obj) -> list[Obj]:
    return (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers", [])


def _names_images(obj: Obj) -> list[str]:
    cs = _containers(obj)
    return [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)]


def _selector(obj: Obj) -> str:
    sel = (obj.get("spec") or {}).get("selector") or {}
    return selector_from_match_labels(sel.get("matchLabels") or {}) or "<none>"


def pod_status_reason(pod: Obj) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            term = state["terminated"]
            reason = term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal")
                                              else f"ExitCode:{term.get('exitCode', 0)}")
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(pod: Obj) -> list[Any]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    last = max((((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "" for c in statuses),
               default="")
    restarts_cell = f"{restarts} ({age(last)} ago)" if restarts and last else str(restarts)
    return [pod["metadata"]["name"], f"{ready}/{len(pod['spec'].get('containers', []))}", pod_status_reason(pod),
            restarts_cell, age(pod["metadata"].get("creationTimestamp")), status.get("podIP") or "<none>",
            pod["spec"].get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", "<none>"]


def _deployment_row(d: Obj) -> list[Any]:
    st = d.get("status") or {}
    return [d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{d['spec'].get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), age(d["metadata"].get("creationTimestamp")),
            *_names_images(d), _selector(d)]


def _event_row(e: Obj) -> list[Any]:
    inv = e.get("involvedObject") or {}
    return [age(e.get("lastTimestamp") or e.get("eventTime")), e.get("type", ""), e.get("reason", ""),
            f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}", inv.get("fieldPath", ""),
            (e.get("source") or {}).get("component", ""), e.get("message", ""), age(e.get("firstTimestamp")),
            e.get("count", 1), e["metadata"]["name"]]


def _service_row(s: Obj) -> list[Any]:
    spec = s.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" if not p.get("nodePort")
                     else f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    lb = ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in lb) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    return [s["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), external,
            ports or "<none>", age(s["metadata"].get("creationTimestamp")),
            selector_from_match_labels(spec.get("selector") or {}) or "<none>"]


def _node_row(n: Obj) -> list[Any]:
    st = n.get("status") or {}
    ready = next((c for c in st.get("conditions", []) if c.get("type") == "Ready"), {})
    state = "Ready" if ready.get("status") == "True" else "NotReady"
    if (n.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = ",".join(sorted(k.split("/", 1)[1] for k in n["metadata"].get("labels", {})
                            if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    info = st.get("nodeInfo") or {}
    addr = {a.get("type"): a.get("address") for a in st.get("addresses", [])}
    return [n["metadata"]["name"], state, roles, age(n["metadata"].get("creationTimestamp")),
            info.get("kubeletVersion", ""), addr.get("InternalIP", "<none>"), addr.get("ExternalIP", "<none>"),
            info.get("osImage", ""), info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _job_row(j: Obj) -> list[Any]:
    st = j.get("status") or {}
    conds = {c.get("type") for c in st.get("conditions", []) if c.get("status") == "True"}
    state = "Complete" if "Complete" in conds else "Failed" if "Failed" in conds else "Running"
    done = st.get("completionTime")
    duration = "<unknown>"
    if st.get("startTime"):
        try:
            start = datetime.strptime(st["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            end = datetime.strptime(done, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if done else datetime.now(UTC)
            duration = human_duration((end - start).total_seconds())
        except ValueError:
            pass
    return [j["metadata"]["name"], state, f"{st.get('succeeded', 0)}/{j['spec'].get('completions', 1)}", duration,
            age(j["metadata"].get("creationTimestamp")), *_names_images(j), _selector(j)]


def _simple(*cells: Any) -> Any:
    return lambda o: [o["metadata"]["name"], *[c(o) for c in cells], age(o["metadata"].get("creationTimestamp"))]


_PRINTERS: dict[str, tuple[list[Column], Any]] = {
    "Pod": ([("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0),
             ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
             ("Readiness Gates", "string", 1)], _pod_row),
    "Deployment": ([("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "integer", 0),
                    ("Available", "integer", 0), ("Age", "string", 0), ("Containers", "string", 1),
                    ("Images", "string", 1), ("Selector", "string", 1)], _deployment_row),
    "ReplicaSet": ([("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
                    ("Ready", "integer", 0), ("Age", "string", 0), ("Containers", "string", 1),
                    ("Images", "string", 1), ("Selector", "string", 1)],
                   lambda o: [o["metadata"]["name"], o["spec"].get("replicas", 1),
                              (o.get("status") or {}).get("replicas", 0), (o.get("status") or {}).get("readyReplicas", 0),
                              age(o["metadata"].get("creationTimestamp")), *_names_images(o), _selector(o)]),
    "StatefulSet": ([("Name", "string", 0), ("Ready", "string", 0), ("Age", "string", 0),
                     ("Containers", "string", 1), ("Images", "string", 1)],
                    lambda o: [o["metadata"]["name"],
                               f"{(o.get('status') or {}).get('readyReplicas', 0)}/{o['spec'].get('replicas', 1)}",
                               age(o["metadata"].get("creationTimestamp")), *_names_images(o)]),
    "DaemonSet": ([("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
                   ("Ready", "integer", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0),
                   ("Node Selector", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
                   ("Images", "string", 1), ("Selector", "string", 1)],
                  lambda o: [o["metadata"]["name"], *[(o.get("status") or {}).get(k, 0) for k in (
                      "desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled",
                      "numberAvailable")], selector_from_match_labels(
                      ((o["spec"].get("template") or {}).get("spec") or {}).get("nodeSelector") or {}) or "<none>",
                      age(o["metadata"].get("creationTimestamp")), *_names_images(o), _selector(o)]),
    "Event": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0), ("Object", "string", 0),
               ("Subobject", "string", 1), ("Source", "string", 1), ("Message", "string", 0),
               ("First Seen", "string", 1), ("Count", "string", 1), ("Name", "string", 1)], _event_row),
    "Service": ([("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0),
                 ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0),
                 ("Selector", "string", 1)], _service_row),
    "Node": ([("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0),
              ("Version", "string", 0), ("Internal-IP", "string", 1), ("External-IP", "string", 1),
              ("OS-Image", "string", 1), ("Kernel-Version", "string", 1), ("Container-Runtime", "string", 1)],
             _node_row),
    "Namespace": ([("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
                  _simple(lambda o: (o.get("status") or {}).get("phase", "Active"))),
    "Job": ([("Name", "string", 0), ("Status", "string", 0), ("Completions", "string", 0),
             ("Duration", "string", 0), ("Age", "string", 0), ("Containers", "string", 1), ("Images", "string", 1),
             ("Selector", "string", 1)], _job_row),
    "ConfigMap": ([("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)],
                  _simple(lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))),
    "Secret": ([("Name", "string", 0), ("Type", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)],
               _simple(lambda o: o.get("type", "Opaque"), lambda o: len(o.get("data") or {}))),
    "PersistentVolumeClaim": (
        [("Name", "string", 0), ("Status", "string", 0), ("Volume", "string", 0), ("Capacity", "string", 0),
         ("Access Modes", "string", 0), ("StorageClass", "string", 0), ("VolumeAttributesClass", "string", 0),
         ("Age", "string", 0), ("VolumeMode", "string", 1)],
        lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Pending"),
                   o["spec"].get("volumeName", ""), ((o.get("status") or {}).get("capacity") or {}).get("storage", ""),
                   ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX"}.get(m, m)
                            for m in (o.get("status") or {}).get("accessModes", [])),
                   o["spec"].get("storageClassName", ""), "<unset>", age(o["metadata"].get("creationTimestamp")),
                   o["spec"].get("volumeMode", "Filesystem")]),
    "Lease": ([("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)],
              _simple(lambda o: (o.get("spec") or {}).get("holderIdentity", ""))),
}
_DEFAULT: tuple[list[Column], Any] = ([("Name", "string", 0), ("Created At", "date", 0)],
                                      lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")])


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(rt: ResourceType, objects: list[Obj], list_meta: Obj, include: str = "Metadata") -> Obj:
    columns, row = _PRINTERS.get(rt.kind, _DEFAULT)
    rows = []
    for obj in objects:
        r: Obj = {"cells": row(obj)}
        ob = _row_object(obj, include)
        if ob is not None:
            r["object"] = ob
        rows.append(r)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": [{"name": n, "type": t, "format": "name" if n == "Name" else "",
                                   "description": n, "priority": p} for n, t, p in columns],
            "rows": rows}


def wants_table(accept: str) -> bool:
    """True when the client's first acceptable media type is a meta.k8s.io Table."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "as=Table" in params:
            return "g=meta.k8s.io" in params and ("v=v1" in params or "v=v1beta1" in params)
        if part.split(";")[0].strip() in ("application/json", "*/*", "application/*"):
            return False
    return False
