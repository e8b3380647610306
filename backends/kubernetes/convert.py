"""Raw API objects → Resources (and the faults their state shows).

Only the fields the model needs are kept: a 3 KB pod becomes a Resource with a
handful of attributes. Annotations are never copied (on a Secret,
`last-applied-configuration` holds its values) and Secret `data` is reduced to
key names.

Text a workload writes (condition and status messages, reasons, label values) is capped as it
is read (`tui.core.redaction.cap_text`: a few KiB, redacted before the cut, marked `… (cut: N
characters)`): a hostile object's megabyte message would otherwise be redacted, stored and
published whole, many times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backends.kubernetes import compliance, health, sharing
from tui.core.model import Fault, Health, Resource, Severity, now_utc, parse_iso, resource_id
from tui.core.redaction import NAME_MAX, REDACT_MARGIN, TEXT_MAX, cap_text

BACKEND = "kubernetes"
# Pod waiting/terminated reasons that are faults, and how bad they are.
_POD_FAULT_SEVERITY = {"OOMKilled": Severity.HIGH, "CrashLoopBackOff": Severity.HIGH,
                       "ImagePullBackOff": Severity.HIGH, "ErrImagePull": Severity.HIGH}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


@dataclass(slots=True)
class Converted:
    """One object's Resource, faults and the relations other features need."""

    resource: Resource
    faults: list[Fault] = field(default_factory=list)
    owner: str | None = None  # "Kind/name" of the controlling owner


def rid(kind: str, name: str) -> str:
    return resource_id(BACKEND, kind, name)


def controller_of(meta: dict[str, Any]) -> str | None:
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return None


# The controllers whose pod template is evaluated in place of what they make: a Pod of a ReplicaSet,
# StatefulSet, DaemonSet or Job; a ReplicaSet of a Deployment; a Job of a CronJob (API group, kind).
_TEMPLATE_OWNERS: dict[str, frozenset[tuple[str, str]]] = {
    "Pod": frozenset({("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("batch", "Job")}),
    "ReplicaSet": frozenset({("apps", "Deployment")}),
    "Job": frozenset({("batch", "CronJob")}),
}


def judged_on_owner(kind: str, meta: dict[str, Any]) -> bool:
    """Whether a `kind` object's pod spec is evaluated on its controller's template instead: only
    when that controller is one envdeck evaluates. An ownerReference to anything else (`Ghost/g`
    of example.com, an operator's custom resource) hid the workload from compliance altogether
    (breaker finding, session 12): it is evaluated itself."""
    owners = _TEMPLATE_OWNERS.get(kind)
    if not owners:
        return False
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            group = str(ref.get("apiVersion") or "").rpartition("/")[0]
            return (group, str(ref.get("kind"))) in owners
    return False


_CONDITION_FIELDS = (("type", "type"), ("status", "status"), ("reason", "reason"), ("message", "message"),
                     ("since", "lastTransitionTime"))


def conditions_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """`status.conditions` as `kubectl describe` lists them (type, status, reason, message,
    since); the resource detail shows them for every backend in this shape. Equal lists
    (pods started together) are one shared list (`sharing`)."""
    conds = (obj.get("status") or {}).get("conditions")
    if not conds:
        return []
    key: list[Any] = ["conditions"]  # a plain loop: generator frames were most of its cost per watch event
    for cond in conds:
        if isinstance(cond, dict) and cond.get("type"):
            get = cond.get
            message = get("message")
            if type(message) is str and len(message) > _KEY_TEXT_MAX:  # the shared table keeps no megabytes
                message = (message[:_KEY_TEXT_MAX], len(message))
            key.append((get("type"), get("status"), get("reason"), message, get("lastTransitionTime")))
    return sharing.nested(tuple(key), lambda: _conditions(conds))


_KEY_TEXT_MAX = TEXT_MAX + REDACT_MARGIN  # what cap_text reads of a message, and its length, make its key


def _conditions(conds: list[Any]) -> list[dict[str, Any]]:
    return [{key: cap_text(str(cond[src]), _CONDITION_MAX.get(key, NAME_MAX)) for key, src in _CONDITION_FIELDS
             if cond.get(src)}
            for cond in conds if isinstance(cond, dict) and cond.get("type")]


_CONDITION_MAX = {"message": TEXT_MAX}


def _labels(labels: dict[Any, Any]) -> dict[str, Any]:
    """Label keys and values capped (the API server checks them; an emulator or an old server may not)."""
    if all(type(k) is str and type(v) is str and len(k) <= NAME_MAX and len(v) <= NAME_MAX
           for k, v in labels.items()):
        return labels
    return {str(k)[:NAME_MAX]: cap_text(str(v), NAME_MAX) for k, v in labels.items()}


def _resource(kind: str, obj: dict[str, Any], verdict: tuple[Health, str], status: str,
              attributes: dict[str, Any]) -> Resource:
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    attributes["namespace"] = sharing.text(meta.get("namespace"))
    if meta.get("labels"):
        attributes["labels"] = sharing.mapping(_labels(dict(meta["labels"])))
    conditions = conditions_of(obj)
    if conditions:
        attributes["conditions"] = conditions
    return Resource(
        id=rid(kind, name), backend=BACKEND, kind=kind, name=name, health=verdict[0],
        health_reason=sharing.text(cap_text(verdict[1])), status=sharing.text(cap_text(status, NAME_MAX)),
        observed_at=now_utc(),
        created_at=_created_at(meta.get("creationTimestamp")), attributes=attributes,
    )


def _created_at(text: Any) -> Any:
    """parse_iso, once per distinct timestamp (datetimes are immutable: shared)."""
    if not text:
        return None
    return sharing.nested(("created", text), lambda: parse_iso(text))


def _images(pod_spec: dict[str, Any]) -> dict[str, str]:
    return {str(c.get("name")): str(c.get("image") or "") for c in pod_spec.get("containers") or ()}


def _container_resources(pod_spec: dict[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """Requests and limits per container (`{"web": {"requests": {"cpu": "100m"}, "limits": {}}}`)."""
    out = {}
    for c in pod_spec.get("containers") or ():
        res = c.get("resources") or {}
        out[str(c.get("name"))] = {part: {str(k): str(v) for k, v in (res.get(part) or {}).items()}
                                   for part in ("requests", "limits")}
    return out


def _env_keys(pod_spec: dict[str, Any]) -> dict[str, list[str]]:
    """The NAMES of each container's environment variables (never their values)."""
    return {str(c.get("name")): sorted({str(e.get("name")) for e in c.get("env") or () if e.get("name")})
            for c in pod_spec.get("containers") or ()}


def _fault(resource: str, severity: Severity, reason: str, message: str, since: str | None = None,
           count: int = 1, last: str | None = None) -> Fault:
    return Fault(resource, severity, cap_text(reason, NAME_MAX), cap_text(message), parse_iso(since), max(1, count),
                 parse_iso(last or since))


def _condition_fault(res: Resource, cond_type: str, status: dict[str, Any], want: str,
                     reason: str | None = None) -> list[Fault]:
    for cond in status.get("conditions") or ():
        if cond.get("type") == cond_type and cond.get("status") == want and \
                (reason is None or cond.get("reason") == reason):
            return [_fault(res.id, Severity.HIGH, str(cond.get("reason") or cond_type),
                           str(cond.get("message") or ""), cond.get("lastTransitionTime"),
                           last=cond.get("lastUpdateTime") or cond.get("lastTransitionTime"))]
    return []


def _workload(kind: str, obj: dict[str, Any], verdict: tuple[Health, str], status_text: str,
              attributes: dict[str, Any]) -> Converted:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    attributes["images"] = _images(pod_spec)
    attributes["container_resources"] = _container_resources(pod_spec)
    attributes["env_keys"] = _env_keys(pod_spec)
    attributes["selector"] = dict((spec.get("selector") or {}).get("matchLabels") or {})
    attributes["generation"] = meta.get("generation")
    res = _resource(kind, obj, verdict, status_text, attributes)
    owner = controller_of(meta)
    if not judged_on_owner(kind, meta):  # a ReplicaSet of a Deployment is evaluated on the Deployment
        res.findings = compliance.evaluate_pod_spec(kind, res.id, pod_spec)
        res.assessed = True  # counted in the compliance score (an owned one is not)
        res.controls = compliance.controls_for(kind)
    return Converted(res, owner=owner)


def deployment(obj: dict[str, Any]) -> Converted:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    ready = int(status.get("readyReplicas") or 0)
    attrs = {"replicas": want, "ready_replicas": ready,
             "updated_replicas": int(status.get("updatedReplicas") or 0),
             "available_replicas": int(status.get("availableReplicas") or 0),
             "paused": bool(spec.get("paused"))}
    conv = _workload("Deployment", obj, health.deployment(obj), f"{ready}/{want}", attrs)
    conv.faults = _condition_fault(conv.resource, "Progressing", status, "False", "ProgressDeadlineExceeded")
    return conv


def statefulset(obj: dict[str, Any]) -> Converted:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    ready = int(status.get("readyReplicas") or 0)
    attrs = {"replicas": want, "ready_replicas": ready,
             "updated_replicas": int(status.get("updatedReplicas") or 0),
             "service_name": spec.get("serviceName")}
    return _workload("StatefulSet", obj, health.statefulset(obj), f"{ready}/{want}", attrs)


def daemonset(obj: dict[str, Any]) -> Converted:
    status = obj.get("status") or {}
    want = int(status.get("desiredNumberScheduled") or 0)
    ready = int(status.get("numberReady") or 0)
    attrs = {"desired": want, "ready": ready, "available": int(status.get("numberAvailable") or 0),
             "updated": int(status.get("updatedNumberScheduled") or 0)}
    return _workload("DaemonSet", obj, health.daemonset(obj), f"{ready}/{want}", attrs)


def replicaset(obj: dict[str, Any]) -> Converted:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    ready = int(status.get("readyReplicas") or 0)
    attrs = {"replicas": want, "ready_replicas": ready,
             "available_replicas": int(status.get("availableReplicas") or 0)}
    conv = _workload("ReplicaSet", obj, health.replicaset(obj), f"{ready}/{want}", attrs)
    conv.resource.attributes["owner"] = conv.owner
    conv.faults = _condition_fault(conv.resource, "ReplicaFailure", status, "True")
    return conv


def job(obj: dict[str, Any]) -> Converted:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    verdict = health.job(obj)
    completions = spec.get("completions", 1)
    succeeded = int(status.get("succeeded") or 0)
    text = {Health.HEALTHY: "Complete", Health.DEGRADED: "Failed", Health.SUSPENDED: "Suspended"}.get(
        verdict[0], "Running")
    attrs = {"completions": completions, "succeeded": succeeded, "failed": int(status.get("failed") or 0),
             "active": int(status.get("active") or 0)}
    conv = _workload("Job", obj, verdict, f"{text} {succeeded}/{completions or 1}", attrs)
    conv.resource.attributes["owner"] = conv.owner
    conv.faults = _condition_fault(conv.resource, "Failed", status, "True")
    return conv


def _pod_status_text(obj: dict[str, Any]) -> str:
    """The STATUS column of `kubectl get pods`."""
    status = obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in reversed(status.get("containerStatuses") or ()):
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            term = state["terminated"]
            reason = term.get("reason") or f"ExitCode:{term.get('exitCode')}"
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return str(reason)


def _pod_faults(res: Resource, obj: dict[str, Any], verdict: tuple[Health, str]) -> list[Fault]:
    status = obj.get("status") or {}
    faults: list[Fault] = []
    for cs in [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]:
        name = cs.get("name")
        restarts = int(cs.get("restartCount") or 0)
        state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated") or {}
        waiting = state.get("waiting") or {}
        reason = waiting.get("reason") or ""
        if reason and health.bad_waiting_reason(reason):
            faults.append(_fault(res.id, _POD_FAULT_SEVERITY.get(reason, Severity.MEDIUM), reason,
                                 f"container {name}: {waiting.get('message') or reason}",
                                 status.get("startTime"), restarts, last.get("finishedAt")))
        term = state.get("terminated") or {}
        oom = term if term.get("reason") == "OOMKilled" else last if last.get("reason") == "OOMKilled" else None
        if oom is not None:
            faults.append(_fault(res.id, Severity.HIGH, "OOMKilled",
                                 f"container {name} was killed for exceeding its memory limit",
                                 oom.get("startedAt") or status.get("startTime"), max(restarts, 1),
                                 oom.get("finishedAt")))
    if not faults and verdict[0] is not Health.HEALTHY and status.get("phase") == "Running":
        for cond in status.get("conditions") or ():
            if cond.get("type") == "Ready" and cond.get("status") != "True":
                faults.append(_fault(res.id, Severity.MEDIUM, "NotReady",
                                     str(cond.get("message") or cond.get("reason") or "pod is not ready"),
                                     cond.get("lastTransitionTime")))
    if not faults and verdict[0] is Health.DEGRADED:
        faults.append(_fault(res.id, Severity.HIGH, res.status or "Failed", verdict[1], status.get("startTime")))
    return faults


def _pod_refs(spec: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """The claims, ConfigMaps and Secrets a pod spec names (xray links): `volumes` (projected
    sources included) and `env` (envFrom and env valueFrom of every container), by kind."""
    volumes: dict[str, set[str]] = {"PersistentVolumeClaim": set(), "ConfigMap": set(), "Secret": set()}
    env: dict[str, set[str]] = {"ConfigMap": set(), "Secret": set()}
    for vol in spec.get("volumes") or ():
        # the service account token volume the API server adds to every pod (kube-root-ca.crt):
        # not a dependency anyone chose
        if not isinstance(vol, dict) or str(vol.get("name") or "").startswith("kube-api-access-"):
            continue
        sources = [vol, *(((vol.get("projected") or {}).get("sources")) or ())]
        for src in sources:
            if not isinstance(src, dict):
                continue
            for kind, key, name_key in (("PersistentVolumeClaim", "persistentVolumeClaim", "claimName"),
                                        ("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName"),
                                        ("Secret", "secret", "name")):
                name = (src.get(key) or {}).get(name_key) if isinstance(src.get(key), dict) else None
                if name:
                    volumes[kind].add(str(name))
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        if not isinstance(container, dict):
            continue
        for ref in container.get("envFrom") or ():
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if isinstance(ref, dict) and isinstance(ref.get(key), dict) and ref[key].get("name"):
                    env[kind].add(str(ref[key]["name"]))
        for var in container.get("env") or ():
            source = (var.get("valueFrom") or {}) if isinstance(var, dict) else {}
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if isinstance(source.get(key), dict) and source[key].get("name"):
                    env[kind].add(str(source[key]["name"]))
    return {group: {kind: sorted(names) for kind, names in refs.items() if names}
            for group, refs in (("volumes", volumes), ("env", env)) if any(refs.values())}


def pod(obj: dict[str, Any]) -> Converted:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or ()
    ready = sum(1 for cs in statuses if cs.get("ready"))
    owner = controller_of(meta)
    attrs = {
        "phase": sharing.text(status.get("phase")), "node": sharing.text(spec.get("nodeName")),
        "pod_ip": status.get("podIP"),
        "ready": sharing.text(f"{ready}/{len(spec.get('containers') or ())}"),
        "restarts": sum(int(cs.get("restartCount") or 0) for cs in statuses),
        "containers": sharing.sequence([str(c.get("name")) for c in spec.get("containers") or ()]),
        "images": sharing.mapping(_images(spec)), "owner": sharing.text(owner),
    }
    refs = _pod_refs(spec)
    if refs:
        attrs["refs"] = refs
    verdict = health.pod(obj)
    res = _resource("Pod", obj, verdict, _pod_status_text(obj), attrs)
    if not judged_on_owner("Pod", meta):
        res.findings = compliance.evaluate_pod_spec("Pod", res.id, spec)
        res.assessed = True  # counted in the compliance score (an owned one is not)
        res.controls = compliance.controls_for("Pod")
    return Converted(res, _pod_faults(res, obj, verdict), owner)


def service(obj: dict[str, Any]) -> Converted:
    spec = obj.get("spec") or {}
    ports = [f"{p.get('port')}/{p.get('protocol') or 'TCP'}" for p in spec.get("ports") or ()]
    attrs = {"type": spec.get("type") or "ClusterIP", "cluster_ip": spec.get("clusterIP"), "ports": ports,
             "selector": dict(spec.get("selector") or {})}
    return Converted(_resource("Service", obj, health.service(obj), attrs["type"], attrs))


def pvc(obj: dict[str, Any]) -> Converted:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    attrs = {"phase": status.get("phase"), "storage_class": spec.get("storageClassName"),
             "volume": spec.get("volumeName"), "capacity": (status.get("capacity") or {}).get("storage"),
             "access_modes": list(spec.get("accessModes") or ())}
    verdict = health.pvc(obj)
    res = _resource("PersistentVolumeClaim", obj, verdict, str(status.get("phase") or "Unknown"), attrs)
    faults = [_fault(res.id, Severity.HIGH, "ClaimLost", verdict[1])] if verdict[0] is Health.DEGRADED else []
    return Converted(res, faults)


def secret(obj: dict[str, Any]) -> Converted:
    """Names and key names only: `data`/`stringData` values are dropped here and
    annotations (which may hold last-applied values) are never read."""
    keys = sorted({*(obj.get("data") or {}), *(obj.get("stringData") or {})})
    meta = obj.get("metadata") or {}
    slim = {"metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                         "creationTimestamp": meta.get("creationTimestamp"), "labels": meta.get("labels")}}
    secret_type = str(obj.get("type") or "Opaque")
    attrs = {"type": secret_type, "keys": keys}
    return Converted(_resource("Secret", slim, (Health.HEALTHY, ""), secret_type, attrs))


def node(obj: dict[str, Any]) -> Converted:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    verdict = health.node(obj)
    text = "Ready" if verdict[0] is Health.HEALTHY else "NotReady"
    if spec.get("unschedulable"):
        text += ",SchedulingDisabled"
    attrs = {"unschedulable": bool(spec.get("unschedulable")),
             "kubelet": (status.get("nodeInfo") or {}).get("kubeletVersion")}
    if spec.get("providerID"):  # aws:///eu-west-1a/i-0abc…: the EC2 instance behind the node (xray)
        attrs["provider_id"] = str(spec["providerID"])
    res = _resource("Node", obj, verdict, text, attrs)
    faults = _condition_fault(res, "Ready", status, "False") + _condition_fault(res, "Ready", status, "Unknown")
    return Converted(res, faults)


def same_content(old: Resource, new: Resource) -> bool:
    """True when nothing shown changed (the old object may then be kept)."""
    return (old.health is new.health and old.status == new.status and old.health_reason == new.health_reason
            and old.attributes == new.attributes and old.findings == new.findings
            and old.assessed == new.assessed and old.controls == new.controls)
