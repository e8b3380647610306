"""Kubernetes at scale: the project's emulator with N pods in one namespace.

1. Initial inventory, each client in its own process (wall, peak RSS):
   envdeck's KubernetesBackend.observe() vs `kubectl get pods -o json` vs the raw
   floor (http.client + json.loads of the same list), plus curl (the server's own time).
2. M pod changes (label patches sent at --rate per second) → time until each is
   reflected in the backend's watch() output (p50/p99).

    python -m bench.k8s_scale [--quick] [--pods 20000] [--crds 40] [--changes 1000] [--rate 100] [--reps 3]

   The emulator also serves --crds CustomResourceDefinitions (one object each): with its built-in
   types, discovery finds ~60 resource types, which envdeck lists beside the pods (issue 17).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import time
from typing import Any

from bench.emulator_proc import ROOT, EmulatorProcess
from bench.report import ms, parse_args, percentile, print_table, ratio, run_measured, write_result

NAME = "k8s_scale"
NAMESPACE = "bench"


def client_runs(emu: EmulatorProcess, reps: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": str(emu.kubeconfig)}
    out: dict[str, Any] = {}

    def child(mode: str) -> dict[str, Any]:
        runs = []
        for _ in range(reps):
            r = run_measured([sys.executable, "-m", "bench.k8s_clients", mode, str(emu.kubeconfig), emu.url,
                              NAMESPACE], env=env, cwd=ROOT, keep_stdout=True)
            if r["rc"] != 0:
                raise RuntimeError(f"{mode} client failed: {r['stderr']}")
            inner = json.loads(r["stdout"].strip().splitlines()[-1])
            runs.append({"process_s": r["wall_s"], "rss_mib": r["rss_mib"], "cpu_s": r["cpu_s"],
                         "in_process_s": inner["seconds"], "pods": inner["pods"],
                         **{k: inner[k] for k in ("resources", "requests", "kinds") if k in inner}})
        return aggregate(runs)

    out["floor_http_client"] = child("floor")
    out["envdeck_observe"] = child("envdeck")
    kubectl = shutil.which("kubectl")
    if kubectl:
        runs = []
        for _ in range(reps):
            r = run_measured([kubectl, "get", "pods", "-n", NAMESPACE, "-o", "json"], env=env)
            if r["rc"] != 0:
                raise RuntimeError(f"kubectl failed: {r['stderr']}")
            runs.append({"process_s": r["wall_s"], "rss_mib": r["rss_mib"], "cpu_s": r["cpu_s"]})
        out["kubectl_get_pods_json"] = aggregate(runs)
    curl = shutil.which("curl")
    if curl:
        runs = []
        for _ in range(reps):
            r = run_measured([curl, "-sf", "-o", "/dev/null", f"{emu.url}/api/v1/namespaces/{NAMESPACE}/pods"])
            runs.append({"process_s": r["wall_s"], "rss_mib": r["rss_mib"], "cpu_s": r["cpu_s"]})
        out["curl_server_time"] = aggregate(runs)
    return out


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of every numeric field, and the runs themselves."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    med = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}
    return {**med, "runs": runs}


async def update_latency(emu: EmulatorProcess, pods: int, changes: int, rate: float) -> dict[str, Any]:
    """Patch a label on `changes` random pods at `rate`/s; time until watch() shows each."""
    import aiohttp

    from backends.kubernetes import KubernetesBackend
    from tui.core.config import Defaults, KubernetesConfig

    backend = KubernetesBackend("bench", KubernetesConfig(kubeconfig=str(emu.kubeconfig), namespace=NAMESPACE),
                                Defaults(timeout=120))
    sent: dict[str, tuple[str, float]] = {}  # pod name -> (expected label value, send time)
    latencies: list[float] = []
    observations = 0
    first = asyncio.Event()
    done = asyncio.Event()

    async def consume() -> None:
        nonlocal observations
        async for obs in backend.watch():
            observations += 1
            first.set()
            if not sent:
                continue
            now = time.perf_counter()
            for r in obs.resources:
                if r.kind != "Pod":
                    continue
                pending = sent.get(r.name)
                if pending and (r.attributes.get("labels") or {}).get("bench-seq") == pending[0]:
                    latencies.append(now - pending[1])
                    del sent[r.name]
            if len(latencies) >= changes:
                done.set()

    t0 = time.perf_counter()
    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(first.wait(), timeout=600)
        synced_s = time.perf_counter() - t0
        rng = random.Random(7)
        names = rng.sample([f"pod-{i:05d}" for i in range(pods)], changes)
        async with aiohttp.ClientSession() as http:
            start = time.perf_counter()
            for k, name in enumerate(names):
                target = start + k / rate
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent[name] = (str(k), time.perf_counter())
                async with http.patch(f"{emu.url}/api/v1/namespaces/{NAMESPACE}/pods/{name}",
                                      data=json.dumps({"metadata": {"labels": {"bench-seq": str(k)}}}),
                                      headers={"Content-Type": "application/merge-patch+json"}) as resp:
                    if resp.status >= 400:
                        raise RuntimeError(f"PATCH {name}: HTTP {resp.status} {await resp.text()}")
            send_s = time.perf_counter() - start
        try:
            await asyncio.wait_for(done.wait(), timeout=120)
        except TimeoutError:
            pass
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await backend.close()
    return {"changes": changes, "rate_per_s": rate, "send_s": round(send_s, 3), "reflected": len(latencies),
            "missing": changes - len(latencies), "watch_synced_s": round(synced_s, 3),
            "observations": observations, "p50_ms": ms(percentile(latencies, 50)),
            "p99_ms": ms(percentile(latencies, 99)), "max_ms": ms(max(latencies) if latencies else None),
            "coalesce_s": KubernetesBackend.coalesce_s}


def main() -> None:
    args = parse_args(NAME, __doc__, [("--pods", {"type": int, "default": 20_000}),
                                      ("--changes", {"type": int, "default": 1000}),
                                      ("--rate", {"type": float, "default": 100.0}),
                                      ("--reps", {"type": int, "default": 3}),
                                      ("--crds", {"type": int, "default": 40})])
    if args.quick:
        args.pods, args.changes, args.rate, args.reps = 200, 20, 50.0, 1
    notes: list[str] = []
    with EmulatorProcess(NAMESPACE, args.pods, args.crds) as emu:  # 40 CRDs + the built-ins: ~60 types
        print(f"emulator with {args.pods} pods and {args.crds} CRDs ready in {emu.ready_s:.1f}s at {emu.url}",
              flush=True)
        inventory = client_runs(emu, args.reps)
        if "kubectl_get_pods_json" not in inventory:
            notes.append("kubectl not found: its row is missing")
        updates = asyncio.run(update_latency(emu, args.pods, args.changes, args.rate))
    results = {"inventory": inventory, "updates": updates, "emulator_ready_s": round(emu.ready_s, 1)}
    floor, env = inventory["floor_http_client"], inventory["envdeck_observe"]
    kubectl = inventory.get("kubectl_get_pods_json")
    rows = [[name, r["process_s"], r.get("in_process_s"), r["rss_mib"], r["cpu_s"],
             ratio(r["process_s"], floor["process_s"])] for name, r in inventory.items()]
    print_table(f"first full inventory of {args.pods} pods (medians of {args.reps} runs; each its own process)",
                ["client", "process s", "in-process s", "peak RSS MiB", "cpu s", "x floor (process)"], rows)
    goals = {
        "envdeck / floor <= 1.3 (process)": _goal(ratio(env["process_s"], floor["process_s"]), 1.3, "<="),
        "envdeck / floor <= 1.3 (in-process fetch)": _goal(ratio(env["in_process_s"], floor["in_process_s"]),
                                                          1.3, "<="),
        "kubectl / envdeck >= 3 (process)": _goal(ratio(kubectl["process_s"], env["process_s"]) if kubectl
                                                  else None, 3.0, ">="),
        "envdeck RSS < 500 MiB": _goal(env["rss_mib"], 500, "<"),
        "update p99 < 500 ms": _goal(updates["p99_ms"], 500, "<"),
        "no update missing": _goal(updates["missing"], 0, "<="),
    }
    print_table(f"{updates['changes']} pod changes at {updates['rate_per_s']:.0f}/s → watch() output",
                ["reflected", "missing", "p50 ms", "p99 ms", "max ms", "observations"],
                [[updates["reflected"], updates["missing"], updates["p50_ms"], updates["p99_ms"],
                  updates["max_ms"], updates["observations"]]])
    print_table("goals", ["goal", "value", "met"], [[k, v["value"], v["met"]] for k, v in goals.items()])
    write_result(args.out, NAME, args.quick, {"pods": args.pods, "changes": args.changes, "rate": args.rate,
                                              "reps": args.reps, "crds": args.crds, "namespace": NAMESPACE},
                 results, goals, notes)


def _goal(value: float | None, bound: float, op: str) -> dict[str, Any]:
    met = value is not None and {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[op]
    return {"value": value, "bound": f"{op} {bound}", "met": met}


if __name__ == "__main__":
    main()
