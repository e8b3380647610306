"""Just enough of kube-controller-manager: Deployment → ReplicaSet → Pods,
StatefulSet, DaemonSet and Job pods, and their status fields.

Rollouts are immediate (old pods go, new pods come in one settle); with
`pod_start_delay_s > 0` new pods stay ContainerCreating for that long, so a
rollout is observable as Progressing.
"""

from __future__ import annotations

import math
import random
from typing import Any

from . import pods as podlib
from .events import record_event, reference
from .runtime import DAEMONSETS, DEPLOYMENTS, JOBS, PODS, REPLICASETS, STATEFULSETS, ControllerRuntime
from .store import Obj, Store, clone, now_iso

REVISION = "deployment.kubernetes.io/revision"


def _max_unavailable(spec: Obj, replicas: int) -> int:
    value = ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.floor(replicas * int(value[:-1]) / 100)
    return int(value)


def _condition(type_: str, ok: bool, reason: str, message: str, old: list[Obj]) -> Obj:
    stamp = now_iso()
    previous = next((c for c in old if c.get("type") == type_), None)
    if previous and previous.get("status") == ("True" if ok else "False") and previous.get("reason") == reason:
        return previous
    return {"type": type_, "status": "True" if ok else "False", "lastUpdateTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


class Controllers(ControllerRuntime):
    def __init__(self, store: Store, rng: random.Random):
        super().__init__(store, rng)
        self.condition_overrides: dict[tuple[str, str], dict[str, Obj]] = {}
        self.job_outcomes: dict[tuple[str, str], str] = {}
        self._reconcilers = {
            DEPLOYMENTS.key: self.reconcile_deployment, REPLICASETS.key: self.reconcile_replicaset,
            STATEFULSETS.key: self.reconcile_statefulset, DAEMONSETS.key: self.reconcile_daemonset,
            JOBS.key: self.reconcile_job,
        }

    # -- Deployment ----------------------------------------------------------
    def reconcile_deployment(self, ns: str, name: str) -> None:
        d = self.store.get(DEPLOYMENTS, ns, name)
        if d is None:
            return
        spec = d["spec"]
        replicas = spec.get("replicas", 1)
        template_hash = podlib.template_hash(spec.get("template") or {})
        owned = [rs for rs in self.store.objects(REPLICASETS, ns)
                 if any(r.get("uid") == d["metadata"]["uid"] for r in rs["metadata"].get("ownerReferences") or ())]
        revisions = [int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in owned]
        new_rs = next((rs for rs in owned if rs["metadata"]["labels"].get("pod-template-hash") == template_hash),
                      None)
        top = max(revisions, default=0)
        if new_rs is None:
            new_rs = self._create_replicaset(d, template_hash, replicas, top + 1)
            record_event(self.store, ns, reference(d), "ScalingReplicaSet",
                         f"Scaled up replica set {new_rs['metadata']['name']} from 0 to {replicas}",
                         component="deployment-controller")
        else:
            annotations = new_rs["metadata"].get("annotations") or {}
            revision = int(annotations.get(REVISION, "0"))
            if new_rs["spec"].get("replicas") != replicas or revision < top:
                updated = clone(new_rs)
                before = new_rs["spec"].get("replicas", 0)
                updated["spec"]["replicas"] = replicas
                updated["metadata"].setdefault("annotations", {})[REVISION] = str(max(revision, top + 1)
                                                                                  if revision < top else revision)
                updated["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(replicas)
                new_rs = self.store.update(REPLICASETS, updated)
                if before != replicas:
                    verb = "up" if replicas > before else "down"
                    record_event(self.store, ns, reference(d), "ScalingReplicaSet",
                                 f"Scaled {verb} replica set {new_rs['metadata']['name']} from {before} to {replicas}",
                                 component="deployment-controller")
        for rs in owned:
            if rs["metadata"]["name"] != new_rs["metadata"]["name"] and rs["spec"].get("replicas", 0) != 0:
                updated = clone(rs)
                updated["spec"]["replicas"] = 0
                self.store.update(REPLICASETS, updated)
                record_event(self.store, ns, reference(d), "ScalingReplicaSet",
                             f"Scaled down replica set {rs['metadata']['name']} from "
                             f"{rs['spec'].get('replicas', 0)} to 0", component="deployment-controller")
        self._deployment_status(d, new_rs, owned)

    def _create_replicaset(self, d: Obj, template_hash: str, replicas: int, revision: int) -> Obj:
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        template = clone(d["spec"].get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = template_hash
        selector = clone(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": f"{name}-{template_hash}", "namespace": ns,
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {REVISION: str(revision), "deployment.kubernetes.io/desired-replicas": str(replicas),
                            "deployment.kubernetes.io/max-replicas": str(replicas + 1)},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                 "uid": d["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"replicas": replicas, "selector": selector, "template": template,
                     "minReadySeconds": d["spec"].get("minReadySeconds", 0)},
            "status": {"replicas": 0}}
        return self.store.create(REPLICASETS, rs)

    def _deployment_status(self, d: Obj, new_rs: Obj, owned: list[Obj]) -> None:
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        new_rs = self.store.get(REPLICASETS, ns, new_rs["metadata"]["name"]) or new_rs
        current = [self.store.get(REPLICASETS, ns, rs["metadata"]["name"]) for rs in owned]
        all_rs = [rs for rs in current if rs is not None]
        if all(rs["metadata"]["name"] != new_rs["metadata"]["name"] for rs in all_rs):
            all_rs.append(new_rs)
        replicas = d["spec"].get("replicas", 1)
        total = sum((rs.get("status") or {}).get("replicas", 0) for rs in all_rs)
        ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in all_rs)
        available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in all_rs)
        updated = (new_rs.get("status") or {}).get("replicas", 0)
        new_available = (new_rs.get("status") or {}).get("availableReplicas", 0)
        old_conditions = (d.get("status") or {}).get("conditions", [])
        rs_name = new_rs["metadata"]["name"]
        minimum = available >= replicas - _max_unavailable(d["spec"], replicas)
        complete = updated == replicas and new_available == replicas and total == replicas
        conditions = [
            _condition("Available", minimum, "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
                       "Deployment has minimum availability." if minimum
                       else "Deployment does not have minimum availability.", old_conditions),
            _condition("Progressing", True, "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                       f'ReplicaSet "{rs_name}" has successfully progressed.' if complete
                       else f'ReplicaSet "{rs_name}" is progressing.', old_conditions),
        ]
        overrides = self.condition_overrides.get((ns, name), {})
        conditions = [overrides.get(c["type"], c) for c in conditions]
        status: dict[str, Any] = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": total,
                                  "updatedReplicas": updated, "readyReplicas": ready,
                                  "availableReplicas": available, "conditions": conditions}
        if total - available > 0 or replicas - available > 0:
            status["unavailableReplicas"] = max(total, replicas) - available
        for key in ("readyReplicas", "availableReplicas", "updatedReplicas", "replicas"):
            if status[key] == 0:
                del status[key]
        annotations = d["metadata"].get("annotations") or {}
        revision = (new_rs["metadata"].get("annotations") or {}).get(REVISION)
        if revision and annotations.get(REVISION) != revision:
            fresh = clone(d)
            fresh["metadata"].setdefault("annotations", {})[REVISION] = revision
            fresh["status"] = status
            self.store.update(DEPLOYMENTS, fresh)
            return
        self.write_status(DEPLOYMENTS, d, status)

    # -- ReplicaSet ----------------------------------------------------------
    def reconcile_replicaset(self, ns: str, name: str) -> None:
        rs = self.store.get(REPLICASETS, ns, name)
        if rs is None:
            return
        want = rs["spec"].get("replicas", 1)
        active = self.active(self.owned_pods(rs))
        if len(active) < want:
            for _ in range(want - len(active)):
                pod_name = f"{name}-{podlib.random_suffix(self.rng)}"
                self.create_pod(rs["spec"].get("template") or {}, ns, pod_name, rs)
                record_event(self.store, ns, reference(rs), "SuccessfulCreate", f"Created pod: {pod_name}",
                             component="replicaset-controller")
        elif len(active) > want:
            victims = sorted(active, key=lambda p: (podlib.is_ready(p), p["metadata"]["creationTimestamp"]))
            for pod in victims[: len(active) - want]:
                self.store.delete(PODS, ns, pod["metadata"]["name"])
                record_event(self.store, ns, reference(rs), "SuccessfulDelete",
                             f"Deleted pod: {pod['metadata']['name']}", component="replicaset-controller")
        active = self.active(self.owned_pods(rs))
        ready = sum(1 for p in active if podlib.is_ready(p))
        status: dict[str, Any] = {"replicas": len(active), "fullyLabeledReplicas": len(active),
                                  "readyReplicas": ready, "availableReplicas": ready,
                                  "observedGeneration": rs["metadata"].get("generation", 1)}
        for key in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if status[key] == 0:
                del status[key]
        self.write_status(REPLICASETS, rs, status)

    # -- StatefulSet ---------------------------------------------------------
    def reconcile_statefulset(self, ns: str, name: str) -> None:
        sts = self.store.get(STATEFULSETS, ns, name)
        if sts is None:
            return
        want = sts["spec"].get("replicas", 1)
        revision = f"{name}-{podlib.template_hash(sts['spec'].get('template') or {})}"
        pods = {p["metadata"]["name"]: p for p in self.owned_pods(sts)}
        for ordinal in range(want):
            pod_name = f"{name}-{ordinal}"
            pod = pods.get(pod_name)
            if pod is not None and pod["metadata"]["labels"].get("controller-revision-hash") != revision:
                self.store.delete(PODS, ns, pod_name)
                pod = None
            if pod is None:
                self.create_pod(sts["spec"].get("template") or {}, ns, pod_name, sts, extra_labels={
                    "controller-revision-hash": revision, "apps.kubernetes.io/pod-index": str(ordinal),
                    "statefulset.kubernetes.io/pod-name": pod_name})
        for pod_name in pods:
            if int(pod_name.rsplit("-", 1)[-1]) >= want:
                self.store.delete(PODS, ns, pod_name)
        active = self.active(self.owned_pods(sts))
        ready = sum(1 for p in active if podlib.is_ready(p))
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(active),
                  "readyReplicas": ready, "currentReplicas": len(active), "updatedReplicas": len(active),
                  "availableReplicas": ready, "currentRevision": revision, "updateRevision": revision,
                  "collisionCount": 0}
        self.write_status(STATEFULSETS, sts, status)

    # -- DaemonSet -----------------------------------------------------------
    def reconcile_daemonset(self, ns: str, name: str) -> None:
        ds = self.store.get(DAEMONSETS, ns, name)
        if ds is None:
            return
        revision = podlib.template_hash(ds["spec"].get("template") or {})
        nodes = self.node_names()
        by_node: dict[str, Obj] = {}
        for pod in self.owned_pods(ds):
            node = pod["spec"].get("nodeName")
            if node not in nodes or pod["metadata"]["labels"].get("controller-revision-hash") != revision \
                    or node in by_node:
                self.store.delete(PODS, ns, pod["metadata"]["name"])
            else:
                by_node[node] = pod
        for node in nodes:
            if node not in by_node:
                self.create_pod(ds["spec"].get("template") or {}, ns, f"{name}-{podlib.random_suffix(self.rng)}",
                                ds, node=node, extra_labels={"controller-revision-hash": revision,
                                                             "pod-template-generation": str(
                                                                 ds["metadata"].get("generation", 1))})
        active = self.active(self.owned_pods(ds))
        ready = sum(1 for p in active if podlib.is_ready(p))
        status: dict[str, Any] = {
            "currentNumberScheduled": len(active), "desiredNumberScheduled": len(nodes),
            "numberMisscheduled": 0, "numberReady": ready, "numberAvailable": ready,
            "updatedNumberScheduled": len(active), "observedGeneration": ds["metadata"].get("generation", 1)}
        if len(nodes) - ready:
            status["numberUnavailable"] = len(nodes) - ready
        self.write_status(DAEMONSETS, ds, status)

    # -- Job -----------------------------------------------------------------
    def reconcile_job(self, ns: str, name: str) -> None:
        job = self.store.get(JOBS, ns, name)
        if job is None:
            return
        outcome = self.job_outcomes.get((ns, name), "Succeeded")
        completions = job["spec"].get("completions", 1)
        pods = self.owned_pods(job)
        if not pods:
            template = clone(job["spec"].get("template") or {})
            labels = {"batch.kubernetes.io/controller-uid": job["metadata"]["uid"],
                      "batch.kubernetes.io/job-name": name, "controller-uid": job["metadata"]["uid"],
                      "job-name": name}
            for _ in range(completions if outcome == "Succeeded" else 1):
                self.create_pod(template, ns, f"{name}-{podlib.random_suffix(self.rng)}", job,
                                extra_labels=labels, final_state=outcome)
            pods = self.owned_pods(job)
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        old = job.get("status") or {}
        status: dict[str, Any] = {"startTime": old.get("startTime") or job["metadata"]["creationTimestamp"]}
        active = sum(1 for ph in phases if ph not in ("Succeeded", "Failed"))
        succeeded = phases.count("Succeeded")
        failed = phases.count("Failed")
        for key, value in (("active", active), ("succeeded", succeeded), ("failed", failed)):
            if value:
                status[key] = value
        status["ready"] = 0
        conditions = old.get("conditions", [])
        if succeeded >= completions:
            status["completionTime"] = old.get("completionTime") or now_iso()
            status["conditions"] = [_condition("SuccessCriteriaMet", True, "CompletionsReached",
                                               "Reached expected number of succeeded pods", conditions),
                                    _condition("Complete", True, "CompletionsReached",
                                               "Reached expected number of succeeded pods", conditions)]
        elif failed:
            status["conditions"] = [_condition("FailureTarget", True, "BackoffLimitExceeded",
                                               "Job has reached the specified backoff limit", conditions),
                                    _condition("Failed", True, "BackoffLimitExceeded",
                                               "Job has reached the specified backoff limit", conditions)]
        self.write_status(JOBS, job, status)

