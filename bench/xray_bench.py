"""Xray in a 20,000-object namespace (issue 17: < 50 ms).

The namespace is made of raw API objects turned into Resources by the real converter
(backends/kubernetes/convert*.py), so the attributes are what the backend keeps: 100 apps,
each a Deployment, its ReplicaSet, its pods (labels, owner, a ConfigMap volume, a Secret env
reference, a node), a Service selecting them, a ConfigMap, a Secret, an HPA on the Deployment;
an Ingress for every other app's Service, a PVC for every fourth app's pods, 20 Nodes.
Pods fill the rest up to `--objects`. One pod per app crashes.

Timed: the graph of one observation (in a fresh heap, as `envdeck xray` builds it, and in a
settled one, as the TUI does: tui/core/heap.py; every link of the namespace from the Kubernetes link
functions, indexed: done once per observation), then `xray()` of a resource of each kind on
that graph, both directions with the roll-up (what the CLI and the screen ask for).

    python -m bench.xray_bench [--quick] [--objects 20000] [--reps 30]
"""

from __future__ import annotations

import gc
import time

from backends.kubernetes import convert, convert_kinds
from backends.kubernetes import links as kubernetes_links
from bench.report import parse_args, percentile, print_table, write_result
from tui.core.env_state import EnvState
from tui.core.model import Resource
from tui.core.xray import XrayGraph, xray

NAME = "xray_bench"
GOAL_MS = 50.0
NS = "bench"
APPS = 100
NODES = 20


def _meta(name: str, **extra) -> dict:
    return {"name": name, "namespace": NS, "creationTimestamp": "2026-12-01T00:00:00Z", **extra}


def _pod(app: int, i: int, crash: bool) -> dict:
    owner = [{"kind": "ReplicaSet", "name": f"app-{app}-5c8b", "controller": True}]
    volumes = [{"name": "conf", "configMap": {"name": f"app-{app}-config"}}]
    if app % 4 == 0:
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": f"app-{app}-data"}})
    state = {"waiting": {"reason": "CrashLoopBackOff"}} if crash else {"running": {}}
    return {"metadata": _meta(f"app-{app}-5c8b-{i:05d}", labels={"app": f"app-{app}", "pod-template-hash": "5c8b"},
                              ownerReferences=owner),
            "spec": {"nodeName": f"node-{i % NODES}", "volumes": volumes, "containers": [{
                "name": "app", "image": "registry.example/app:1",
                "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": f"app-{app}-secret", "key": "pw"}}}]}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": not crash,
                                                                  "restartCount": 7 if crash else 0, "state": state}],
                       "conditions": [{"type": "Ready", "status": "False" if crash else "True"}]}}


def namespace(objects: int) -> list[Resource]:
    out: list[Resource] = []
    for n in range(NODES):
        out.append(convert.node({"metadata": {"name": f"node-{n}"}, "spec": {"providerID": f"aws:///us-east-1a/i-{n:08x}"},
                                 "status": {"conditions": [{"type": "Ready", "status": "True"}]}}).resource)
    for app in range(APPS):
        labels = {"app": f"app-{app}"}
        template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "a:1"}]}}
        out.append(convert.deployment({"metadata": _meta(f"app-{app}", generation=1), "spec": {
            "replicas": 3, "selector": {"matchLabels": labels}, "template": template},
            "status": {"readyReplicas": 3, "observedGeneration": 1}}).resource)
        out.append(convert.replicaset({"metadata": _meta(f"app-{app}-5c8b", ownerReferences=[
            {"kind": "Deployment", "name": f"app-{app}", "controller": True}]), "spec": {
            "replicas": 3, "selector": {"matchLabels": labels}, "template": template},
            "status": {"readyReplicas": 3}}).resource)
        out.append(convert.service({"metadata": _meta(f"app-{app}"), "spec": {"selector": labels,
                                                                              "ports": [{"port": 80}]}}).resource)
        out.append(convert_kinds.configmap({"metadata": _meta(f"app-{app}-config"), "data": {"k": "v"}}).resource)
        out.append(convert.secret({"metadata": _meta(f"app-{app}-secret"), "data": {"pw": "eA=="}}).resource)
        out.append(convert_kinds.hpa({"metadata": _meta(f"app-{app}"), "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": f"app-{app}"}, "maxReplicas": 9}}).resource)
        if app % 2 == 0:
            out.append(convert_kinds.ingress({"metadata": _meta(f"app-{app}"), "spec": {"rules": [{"http": {"paths": [
                {"backend": {"service": {"name": f"app-{app}"}}}]}}]}}).resource)
        if app % 4 == 0:
            out.append(convert.pvc({"metadata": _meta(f"app-{app}-data"), "spec": {},
                                    "status": {"phase": "Bound"}}).resource)
    per_app = max(1, (objects - len(out)) // APPS)
    for app in range(APPS):
        out += [convert.pod(_pod(app, i, crash=i == 0)).resource for i in range(per_app)]
    return out


def measure(fn, reps: int) -> dict[str, float]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(percentile(times, 50), 2), "p99_ms": round(percentile(times, 99), 2),
            "max_ms": round(max(times), 2), "reps": reps}


def main() -> None:
    args = parse_args(NAME, __doc__, [("--objects", {"type": int, "default": 20_000}),
                                      ("--reps", {"type": int, "default": 30})])
    if args.quick:
        args.objects, args.reps = 1_500, 3
    resources = namespace(args.objects)
    state = EnvState("bench", "observe", resources={"kubernetes": {r.id: r for r in resources}})
    sources = {"kubernetes": kubernetes_links.resource_links}
    graph = XrayGraph.of(state, sources)
    links = sum(len(v) for v in graph.out.values())
    graph_reps = max(3, args.reps // 5)
    # as in a fresh process (the CLI), then as in the TUI and the agent, whose heap is settled
    # (tui/core/heap.py: what survived a slow full collection is frozen out of the collector's walk)
    fresh = measure(lambda: XrayGraph.of(state, sources), graph_reps)
    gc.collect()
    gc.freeze()
    results: dict = {"objects": len(resources), "links": links, "graph_fresh_heap": fresh,
                     "graph": measure(lambda: XrayGraph.of(state, sources), graph_reps)}
    targets = {"Deployment": "kubernetes/Deployment/app-1", "Ingress": "kubernetes/Ingress/app-2",
               "Service": "kubernetes/Service/app-3", "Pod": "kubernetes/Pod/app-4-5c8b-00000",
               "ConfigMap": "kubernetes/ConfigMap/app-5-config", "HPA": "kubernetes/HorizontalPodAutoscaler/app-6",
               "Node": "kubernetes/Node/node-7"}
    sizes = {}
    for kind, rid in targets.items():
        tree = xray(state, rid, graph=graph)
        sizes[kind] = (len(graph.neighbours(rid, "depends_on")), len(graph.neighbours(rid, "depended_on_by")),
                       str(tree.rolled))
        results[kind] = {**measure(lambda rid=rid: xray(state, rid, graph=graph), args.reps),
                         "out": sizes[kind][0], "in": sizes[kind][1], "rolled": sizes[kind][2]}
    rows = [["graph of the observation (once), fresh heap", fresh["p50_ms"], fresh["p99_ms"], fresh["max_ms"],
             f"{links} links"],
            ["graph of the observation (once), settled heap", results["graph"]["p50_ms"], results["graph"]["p99_ms"],
             results["graph"]["max_ms"], f"{links} links"]]
    rows += [[f"xray {targets[k]}", results[k]["p50_ms"], results[k]["p99_ms"], results[k]["max_ms"],
              f"{sizes[k][0]} down, {sizes[k][1]} up, {sizes[k][2]}"] for k in targets]
    print_table(f"xray in a {len(resources)}-object namespace, {args.reps} reps", ["what", "p50 ms", "p99 ms",
                                                                                   "max ms", "links"], rows)
    worst = max(results[k]["p99_ms"] for k in targets)
    met = worst < GOAL_MS
    print(f"\ngoal: xray of a resource in a 20k-object namespace < {GOAL_MS:.0f} ms: worst p99 {worst} ms "
          f"-> {'met' if met else 'NOT met'}")
    write_result(args.out, NAME, args.quick, {"objects": args.objects, "reps": args.reps}, results,
                 goals={"xray < 50 ms": {"worst_p99_ms": worst, "met": met}})


if __name__ == "__main__":
    main()
