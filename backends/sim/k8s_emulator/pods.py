"""Pods as the apiserver defaults them and the kubelet reports them.

`pod_from_template` builds a pod (spec defaulting included) for a controller;
`pod_status` computes what the kubelet would report for a pod in one of the
emulator's states: starting, running and ready, or one of the scripted faults.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from .store import clone, now_iso

FAULTS = ("CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "NotReady", "Failed")
SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"

_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
]


def random_suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(SAFE_CHARS) for _ in range(n))


def template_hash(template: dict[str, Any]) -> str:
    """A stable pod-template-hash (the apiserver uses fnv32a; any stable safe string works)."""
    digest = hashlib.sha256(repr(_canonical(template)).encode()).digest()
    return "".join(SAFE_CHARS[b % len(SAFE_CHARS)] for b in digest[:10])


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_canonical(v) for v in value)
    return value


def default_container(container: dict[str, Any]) -> dict[str, Any]:
    c = dict(container)
    image = c.get("image", "")
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image.split("/")[-1]
                 else "IfNotPresent")
    return c


def default_pod_spec(spec: dict[str, Any]) -> dict[str, Any]:
    s = clone(spec)
    s["containers"] = [default_container(c) for c in s.get("containers", [])]
    if "initContainers" in s:
        s["initContainers"] = [default_container(c) for c in s["initContainers"]]
    s.setdefault("restartPolicy", "Always")
    s.setdefault("terminationGracePeriodSeconds", 30)
    s.setdefault("dnsPolicy", "ClusterFirst")
    s.setdefault("securityContext", {})
    s.setdefault("schedulerName", "default-scheduler")
    return s


def pod_from_template(template: dict[str, Any], namespace: str, name: str, owner: dict[str, Any] | None,
                      node: str, extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta = clone(template.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if meta.get("annotations"):
        metadata["annotations"] = meta["annotations"]
    if owner is not None:
        metadata["generateName"] = name[: name.rfind("-") + 1]
        metadata["ownerReferences"] = [{
            "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
        }]
    spec = default_pod_spec(template.get("spec") or {})
    spec.setdefault("serviceAccountName", "default")
    spec["serviceAccount"] = spec["serviceAccountName"]
    spec["nodeName"] = node
    spec.setdefault("tolerations", clone(_TOLERATIONS))
    spec.setdefault("priority", 0)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    token_volume = f"kube-api-access-{name[-5:]}"
    spec.setdefault("volumes", []).append({"name": token_volume, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                     "fieldPath": "metadata.namespace"}}]}},
    ]}})
    for c in spec["containers"]:
        c.setdefault("volumeMounts", []).append({
            "name": token_volume, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _condition(type_: str, ok: bool, since: str, reason: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": type_, "status": "True" if ok else "False", "lastProbeTime": None,
                         "lastTransitionTime": since}
    if reason:
        c["reason"] = reason
    return c


def pod_status(pod: dict[str, Any], state: str, pod_ip: str, host_ip: str,
               previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Status for `state`: "Pending" (starting), "Running", "Succeeded", or a fault of FAULTS."""
    since = now_iso()
    start = (previous or {}).get("startTime") or since
    old_statuses = {c.get("name"): c for c in (previous or {}).get("containerStatuses", [])}
    statuses = []
    for c in pod["spec"].get("containers", []):
        old = old_statuses.get(c["name"], {})
        restarts = old.get("restartCount", 0)
        cs: dict[str, Any] = {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
                              "restartCount": restarts, "started": False, "lastState": {}}
        cid = "containerd://" + hashlib.sha256(f"{pod['metadata']['name']}/{c['name']}/{restarts}".encode()
                                               ).hexdigest()
        image_id = "docker.io/library/" + c.get("image", "") + "@sha256:" + hashlib.sha256(
            c.get("image", "").encode()).hexdigest()
        if state == "Running":
            cs.update(ready=True, started=True, containerID=cid, imageID=image_id,
                      state={"running": {"startedAt": start}})
            if old.get("lastState"):
                cs["lastState"] = old["lastState"]
        elif state == "NotReady":
            cs.update(started=True, containerID=cid, imageID=image_id, state={"running": {"startedAt": start}})
        elif state == "CrashLoopBackOff":
            cs.update(restartCount=restarts + 5, containerID=cid, imageID=image_id, state={"waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 5m0s restarting failed container={c['name']} pod={pod['metadata']['name']}"
                           f"_{pod['metadata'].get('namespace', '')}({pod['metadata'].get('uid', '')})"}},
                lastState={"terminated": {"exitCode": 1, "reason": "Error", "startedAt": start,
                                          "finishedAt": since, "containerID": cid}})
        elif state == "OOMKilled":
            term = {"exitCode": 137, "reason": "OOMKilled", "startedAt": start, "finishedAt": since,
                    "containerID": cid}
            cs.update(restartCount=restarts + 1, containerID=cid, imageID=image_id,
                      state={"terminated": dict(term)}, lastState={"terminated": dict(term)})
        elif state == "ImagePullBackOff":
            cs.update(state={"waiting": {"reason": "ImagePullBackOff",
                                         "message": f'Back-off pulling image "{c.get("image", "")}"'}})
        elif state in ("Succeeded", "Failed"):
            ok = state == "Succeeded"
            cs.update(containerID=cid, imageID=image_id, state={"terminated": {
                "exitCode": 0 if ok else 1, "reason": "Completed" if ok else "Error", "startedAt": start,
                "finishedAt": since, "containerID": cid}})
        else:  # Pending: being created
            cs.update(state={"waiting": {"reason": "ContainerCreating"}})
        statuses.append(cs)
    ready = bool(statuses) and all(s["ready"] for s in statuses)
    phase = {"ImagePullBackOff": "Pending", "Pending": "Pending", "Succeeded": "Succeeded",
             "Failed": "Failed"}.get(state, "Running")
    not_ready_reason = None if ready else ("PodCompleted" if phase in ("Succeeded", "Failed")
                                           else "ContainersNotReady")
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            _condition("PodReadyToStartContainers", state != "Pending", start),
            _condition("Initialized", True, start),
            _condition("Ready", ready, since, not_ready_reason),
            _condition("ContainersReady", ready, since, not_ready_reason),
            _condition("PodScheduled", True, start),
        ],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": start,
        "containerStatuses": statuses,
        "qosClass": _qos_class(pod["spec"].get("containers", [])),
    }
    return status


def _qos_class(containers: list[dict[str, Any]]) -> str:
    resources = [c.get("resources") or {} for c in containers]
    if all(r.get("limits") and r.get("requests", r.get("limits")) == r.get("limits") for r in resources):
        return "Guaranteed"
    if any(r.get("limits") or r.get("requests") for r in resources):
        return "Burstable"
    return "BestEffort"


def is_ready(pod: dict[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions", []):
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False
