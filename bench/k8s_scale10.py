"""Kubernetes ×10 (issue 19): 100,000 pods in five namespaces, five environments, one TUI.

The project's emulator (its own process) serves N pods in each of K namespaces (default
5 × 20,000) plus --crds CRDs. Two parts, side by side in one run:

1. First full inventory of all K namespaces, each client its own process under GNU time
   (wall, peak RSS, CPU), the clients taking turns in every rep so they share the load:
   - floor: http.client GET of each namespace's pod list + json.loads, one after the other
     (the cheapest client that lists the same pods, as in round one: bench/k8s_clients.py);
   - envdeck: K KubernetesBackends (one per namespace, as the TUI has them) observe() at once
     in one process (every kind of ~60, paginated, converted to Resources, plus metrics);
   - `kubectl get pods -A -o json` (the whole cluster: the K namespaces' pods and a few more).
2. The TUI holding all K environments: the real app (`create_app`, a config with K
   environments, each on its namespace of the one emulator; Textual headless at 200×50) on
   the first environment's resources view. Its RSS once every environment holds its pods, then
   a patcher process sends --changes label patches at --rate/s, spread over the K namespaces.
   A change counts as shown at the first frame composed after
   - the visible environment's table holds the pod with the new label ("table row"), or,
     for the K-1 environments not on screen, the app's state for that environment (what
     its table shows when switched to) holds it ("all K").

    python -m bench.k8s_scale10 [--quick] [--pods 20000] [--namespaces 5] [--changes 10000] [--rate 1000]
                               [--reps 3] [--crds 40] [--connections 8] [--skip-inventory] [--skip-tui]
                               [--same-emulator] [--profile FILE]

The TUI phase gets a fresh emulator process after the inventory phase (--same-emulator: not).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.emulator_proc import ROOT, EmulatorProcess
from bench.k8s_scale import _goal, aggregate
from bench.pod_patcher import LABEL, plan_across
from bench.report import ms, parse_args, percentile, print_table, ratio, run_measured, write_result
from bench.tui import shown_table, wait_for
from tui.core.env_state import ResourcesChanged

NAME = "k8s_scale10"
ENV_CONFIG = "  {ns}:\n    repair: observe\n    kubernetes: {{kubeconfig: {kubeconfig}, namespace: {ns}}}\n"


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def client_runs(emu: EmulatorProcess, reps: int) -> dict[str, Any]:
    """Every client once per rep, in turn (so that they share the machine's load), medians."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": str(emu.kubeconfig)}
    namespaces = ",".join(emu.namespaces)
    runs: dict[str, list[dict[str, Any]]] = {"floor_http_client": [], "envdeck_observe": []}
    kubectl, curl = shutil.which("kubectl"), shutil.which("curl")
    if kubectl:
        runs["kubectl_get_pods_all_json"] = []
    for _ in range(reps):
        for key, mode in (("floor_http_client", "floor"), ("envdeck_observe", "envdeck")):
            load = loadavg()
            r = run_measured([sys.executable, "-m", "bench.k8s_clients", mode, str(emu.kubeconfig), emu.url,
                              namespaces], env=env, cwd=ROOT, keep_stdout=True)
            if r["rc"] != 0:
                raise RuntimeError(f"{mode} client failed: {r['stderr']}")
            inner = json.loads(r["stdout"].strip().splitlines()[-1])
            runs[key].append({"process_s": r["wall_s"], "rss_mib": r["rss_mib"], "cpu_s": r["cpu_s"],
                              "in_process_s": inner["seconds"], "pods": inner["pods"], "load_1m": load,
                              **{k: inner[k] for k in ("resources", "requests", "kinds") if k in inner}})
        if kubectl:
            load = loadavg()
            r = run_measured([kubectl, "get", "pods", "-A", "-o", "json"], env=env)
            if r["rc"] != 0:
                raise RuntimeError(f"kubectl failed: {r['stderr']}")
            runs["kubectl_get_pods_all_json"].append({"process_s": r["wall_s"], "rss_mib": r["rss_mib"],
                                                      "cpu_s": r["cpu_s"], "load_1m": load})
    out = {key: aggregate(value) for key, value in runs.items()}
    # the ratio within each rep (same load, side by side)
    out["per_rep_ratio_process"] = [ratio(e["process_s"], f["process_s"]) for e, f in
                                    zip(runs["envdeck_observe"], runs["floor_http_client"], strict=True)]
    out["per_rep_ratio_cpu"] = [ratio(e["cpu_s"], f["cpu_s"]) for e, f in
                                zip(runs["envdeck_observe"], runs["floor_http_client"], strict=True)]
    if curl:
        r = run_measured([curl, "-sf", "-o", "/dev/null", f"{emu.url}/api/v1/namespaces/{emu.namespace}/pods"])
        out["curl_one_namespace_server_time"] = {"process_s": r["wall_s"], "rss_mib": r["rss_mib"],
                                                 "cpu_s": r["cpu_s"]}
    return out


class _GcWatch:
    """The app process's cyclic-GC passes while it runs: count per generation, CPU and the longest."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.cpu_s = 0.0
        self.longest_ms = 0.0
        self._started = (0.0, 0.0)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = (time.perf_counter(), time.process_time())
            return
        self.passes[info["generation"]] += 1
        self.cpu_s += time.process_time() - self._started[1]
        self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._started[0]) * 1000)

    def start(self) -> _GcWatch:
        gc.callbacks.append(self._on_gc)
        return self

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def summary(self) -> dict[str, Any]:
        return {"passes_by_generation": self.passes, "cpu_s": round(self.cpu_s, 3),
                "longest_ms": round(self.longest_ms, 1)}


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


async def tui_run(emu: EmulatorProcess, pods: int, changes: int, rate: float, connections: int,
                  profile: Path | None = None) -> dict[str, Any]:
    from textual._compositor import CompositorUpdate

    from tui.app import AppOptions, create_app
    from tui.core.config import parse_config
    from tui.widgets.resource_table import ResourceTable

    namespaces = emu.namespaces
    visible = namespaces[0]
    kubeconfig = json.dumps(str(emu.kubeconfig))
    config = parse_config("environments:\n" + "".join(ENV_CONFIG.format(ns=ns, kubeconfig=kubeconfig)
                                                      for ns in namespaces)
                          + "defaults: {interval: 1h, timeout: 120s}\n")
    steps = plan_across(namespaces, pods, changes)
    # (env, resource id) -> (change number, value); a pod changed twice: its last change is the one checked
    expected: dict[tuple[str, str], tuple[int, str]] = {}
    for k, (ns, name, value) in enumerate(steps):
        expected[(ns, f"kubernetes/Pod/{name}")] = (k, value)
    superseded = changes - len(expected)
    expected_by_env: dict[str, dict[str, tuple[int, str]]] = {ns: {} for ns in namespaces}
    for (ns, rid), want in expected.items():
        expected_by_env[ns][rid] = want
    seen_at: dict[int, float] = {}
    frames = [0]
    armed = [False]
    table_ref: list[ResourceTable | None] = [None]

    with tempfile.TemporaryDirectory(prefix="envdeck-bench-k8s10-") as state:
        app = create_app(config, Path(state), options=AppOptions(start_env=visible, testing=True, user="bench"))
        display = app._display

        # What the app published since the last frame: (env, rid) whose pending change it carries. The
        # hook's work follows the changes (a frame checks those only), not the pending ones: checking
        # every pending change at every frame cost 0.36 s of the process's CPU per 10,000 changes at a load
        # of 14 (more on a quiet machine: more frames), counted in app_cpu_*; now ~0.06 s, reported apart.
        arrived: list[tuple[str, str]] = []
        on_table: set[str] = set()  # the visible environment's: in its state, not yet seen in its table
        checked_shown: list[Any] = [None]  # the visible table's row list last checked
        hook_cpu = [0.0]

        def on_change(change: Any) -> None:
            if not armed[0] or not isinstance(change, ResourcesChanged):
                return
            t = time.process_time()
            pending = expected_by_env.get(change.env)
            if pending:
                for r in change.changed:
                    want = pending.get(r.id)
                    if want is not None and (r.attributes.get("labels") or {}).get(LABEL) == want[1]:
                        arrived.append((change.env, r.id))
            hook_cpu[0] += time.process_time() - t

        def seen(env: str, rid: str, now: float) -> None:
            pending = expected_by_env[env]
            if rid in pending:
                seen_at[pending.pop(rid)[0]] = now
                expected.pop((env, rid), None)

        def on_frame(screen, renderable) -> None:
            if isinstance(renderable, CompositorUpdate):  # what a terminal would be sent
                renderable.render_segments(app.console)
            display(screen, renderable)
            frames[0] += 1
            if not armed[0] or not expected:
                return
            t = time.process_time()
            now = time.monotonic()
            for env, rid in arrived:  # the app's state holds them (what a table shows when switched to)
                if env == visible:
                    on_table.add(rid)
                else:
                    seen(env, rid, now)
            arrived.clear()
            table = table_ref[0]
            shown = getattr(table, "shown", None)
            if on_table and table is not None and shown is not checked_shown[0]:  # the table showed a new list
                checked_shown[0] = shown
                pending = expected_by_env[visible]
                for rid in list(on_table):
                    r, want = table.resource(rid), pending.get(rid)
                    if want is None:
                        on_table.discard(rid)
                    elif r is not None and (r.attributes.get("labels") or {}).get(LABEL) == want[1]:
                        on_table.discard(rid)
                        seen(visible, rid, now)
            hook_cpu[0] += time.process_time() - t

        def env_pods(env: str) -> int:
            st = app.session.states().get(env) if app.session is not None else None
            if st is None:
                return 0
            return sum(1 for by_id in st.resources.values() for r in by_id.values() if r.kind == "Pod")

        app._display = on_frame
        t0 = time.monotonic()
        load_start = loadavg()
        async with app.run_test(size=(200, 50)) as pilot:
            async def wait(predicate, timeout: float) -> None:
                await wait_for(pilot, predicate, timeout, interval=0.05)

            def table() -> ResourceTable | None:
                return shown_table(app)

            # each environment's first full observation is published once the store holds it: the
            # update phase starts after those 20,000-row writes (else they fall into its CPU/profile)
            await wait(lambda: app.session is not None, 900)
            app.session.subscribe(on_change)
            stored: set[str] = set()
            app.session.subscribe(lambda c: stored.add(c.env) if isinstance(c, ResourcesChanged)
                                  and len(c.changed) >= pods else None)
            await wait(lambda: (t := table()) is not None and t.total >= pods, 900)
            visible_table_s = time.monotonic() - t0
            await wait(lambda: all(env_pods(ns) >= pods for ns in namespaces), 900)
            try:
                await wait(lambda: stored >= set(namespaces), 120)
            except TimeoutError:  # published before the subscription: nothing left to wait for
                pass
            await pilot.pause()
            all_envs_s = time.monotonic() - t0
            rss_all = rss_mib()
            table_ref[0] = table()
            profiler = None
            if profile is not None:  # the update phase only (pyinstrument, in the bench extra)
                from pyinstrument import Profiler
                profiler = Profiler(async_mode="disabled")
                profiler.start()
            armed[0] = True
            load_updates = loadavg()
            emu_cpu_start, wall_start = emu.cpu_s(), time.time()
            gc_watch = _GcWatch().start()  # the app's own collector passes over the phase
            cpu_start = time.process_time()  # the app's process (the emulator and the patcher have their own)
            patcher = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.pod_patcher", emu.url, ",".join(namespaces), str(pods), str(changes),
                str(rate), str(connections), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=asyncio.subprocess.PIPE)
            out, _ = await patcher.communicate()
            if patcher.returncode != 0:
                raise RuntimeError(f"the patcher failed (exit {patcher.returncode})")
            sent = json.loads(out.decode().strip().splitlines()[-1])["sent"]
            try:
                await wait(lambda: not expected, 120)
            except TimeoutError:
                pass
            cpu_updates = time.process_time() - cpu_start
            gc_watch.stop()
            armed[0] = False
            emu_cpu_end, wall_end = emu.cpu_s(), time.time()
            rss_end = rss_mib()
            if profiler is not None:
                profiler.stop()
                profile.write_text(profiler.output_text(unicode=True, show_all=False))
    checked = changes - superseded
    by_env_k = {k: ns for k, (ns, _name, _value) in enumerate(steps)}
    all_lat = [seen_at[k] - sent[k] for k in seen_at]
    table_lat = [seen_at[k] - sent[k] for k in seen_at if by_env_k[k] == visible]
    table_checked = sum(1 for (ns, _rid) in {(ns, name) for ns, name, _v in steps} if ns == visible)
    return {"namespaces": len(namespaces), "pods_per_namespace": pods, "changes": changes, "rate_per_s": rate,
            "patcher_connections": connections, "load_1m_start": load_start, "load_1m_updates": load_updates,
            "load_1m_end": loadavg(),
            "visible_table_full_s": round(visible_table_s, 3), "all_envs_full_s": round(all_envs_s, 3),
            "checked": checked, "shown": len(all_lat), "missing": checked - len(all_lat),
            "frames": frames[0],
            "send_s": round(max(sent) - min(sent), 3) if sent else None,
            "achieved_rate_per_s": round((len(sent) - 1) / (max(sent) - min(sent)), 1) if len(sent) > 1 else None,
            "all_p50_ms": ms(percentile(all_lat, 50)), "all_p99_ms": ms(percentile(all_lat, 99)),
            "all_max_ms": ms(max(all_lat) if all_lat else None),
            "table_checked": table_checked, "table_shown": len(table_lat),
            "table_p50_ms": ms(percentile(table_lat, 50)), "table_p99_ms": ms(percentile(table_lat, 99)),
            "table_max_ms": ms(max(table_lat) if table_lat else None),
            "app_cpu_s_updates": round(cpu_updates, 2),
            "app_cpu_ms_per_change": round(cpu_updates * 1000 / len(all_lat), 3) if all_lat else None,
            # the bench's own hook (in the process's CPU above): what the app alone used is the difference
            "bench_hook_cpu_s": round(hook_cpu[0], 3),
            "app_cpu_ms_per_change_without_hook": round((cpu_updates - hook_cpu[0]) * 1000 / len(all_lat), 3)
            if all_lat else None,
            "app_gc": gc_watch.summary(),
            # the emulator (its own process) over the same phase: its CPU and its collector's stalls
            "emulator_cpu_s_updates": round(emu_cpu_end - emu_cpu_start, 2)
            if emu_cpu_start is not None and emu_cpu_end is not None else None,
            "emulator_gc_pauses_updates": emu.gc_pauses(wall_start, wall_end),
            "rss_all_envs_mib": round(rss_all, 1), "rss_end_mib": round(rss_end, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    args = parse_args(NAME, __doc__, [("--pods", {"type": int, "default": 20_000, "help": "pods per namespace"}),
                                      ("--namespaces", {"type": int, "default": 5}),
                                      ("--changes", {"type": int, "default": 10_000}),
                                      ("--rate", {"type": float, "default": 1000.0}),
                                      ("--connections", {"type": int, "default": 8}),
                                      ("--reps", {"type": int, "default": 3}),
                                      ("--crds", {"type": int, "default": 40}),
                                      ("--skip-inventory", {"action": "store_true"}),
                                      ("--skip-tui", {"action": "store_true"}),
                                      ("--same-emulator", {"action": "store_true",
                                                           "help": "the TUI phase on the inventory's emulator "
                                                                   "process (default: a fresh one)"}),
                                      ("--profile", {"type": Path, "default": None,
                                                     "help": "write a pyinstrument profile of the update phase"})])
    if args.quick:
        args.pods, args.namespaces, args.changes, args.rate, args.reps, args.crds = 100, 5, 50, 100.0, 1, 2
        args.connections = 2
    namespaces = [f"bench{i}" for i in range(args.namespaces)]
    notes = ["the machine is shared: every number has the 1-min load average next to it",
             "emulator: its own process (bench/emulator_proc.py), one for all namespaces",
             "emulator: its seeded objects are kept out of the cyclic GC (none while seeding, gc.freeze after; "
             "--gc-freeze-survivors after each later full pass): before, each full pass walked ~3 million "
             "objects, a stall of every watch of seconds (14 s and 37 s at loads of 10-21, one at the TUI "
             "phase's start right after the inventory phase); its GC passes of 20 ms or more (wall and CPU) "
             "and its CPU are in emulator_gc_pauses_* and tui.emulator_cpu_s_updates"]
    results: dict[str, Any] = {"load_1m_start": loadavg()}
    emu = EmulatorProcess(namespaces, args.pods, args.crds).start()
    try:
        print(f"emulator with {args.namespaces} x {args.pods} pods and {args.crds} CRDs ready in {emu.ready_s:.1f}s "
              f"at {emu.url} (load {loadavg()})", flush=True)
        results["emulator_ready_s"] = round(emu.ready_s, 1)
        results["emulator_gc_pauses_start"] = emu.gc_pauses(emu.started_at, time.time())
        if not args.skip_inventory:
            inventory_start = time.time()
            results["inventory"] = client_runs(emu, args.reps)
            results["emulator_gc_pauses_inventory"] = emu.gc_pauses(inventory_start, time.time())
            results["emulator_cpu_s_after_inventory"] = emu.cpu_s()
            print("inventory:", json.dumps(results["inventory"]), flush=True)  # kept if the TUI part fails
            if "kubectl_get_pods_all_json" not in results["inventory"]:
                notes.append("kubectl not found: its row is missing")
            if not args.skip_tui and not args.same_emulator:
                # the TUI phase measures the app, not an emulator that just served every client's full lists
                emu.stop()
                emu = EmulatorProcess(namespaces, args.pods, args.crds).start()
                results["tui_emulator"] = "a fresh emulator process (the inventory's one stopped)"
                notes.append("the TUI phase has its own fresh emulator process (--same-emulator: the inventory's)")
        if not args.skip_tui:
            results.setdefault("tui_emulator", "the inventory's emulator process" if not args.skip_inventory
                               else "the only emulator process (no inventory phase)")
            results["tui"] = asyncio.run(tui_run(emu, args.pods, args.changes, args.rate, args.connections,
                                                 args.profile))
    finally:
        emu.stop()
    results["load_1m_end"] = loadavg()
    goals: dict[str, Any] = {}
    total = args.pods * args.namespaces
    inv = results.get("inventory")
    if inv:
        floor, env = inv["floor_http_client"], inv["envdeck_observe"]
        kubectl = inv.get("kubectl_get_pods_all_json")
        rows = [[name, r["process_s"], r.get("in_process_s"), r["rss_mib"], r["cpu_s"],
                 ratio(r["process_s"], floor["process_s"])] for name, r in inv.items() if isinstance(r, dict)]
        print_table(f"first full inventory of {total} pods in {args.namespaces} namespaces (medians of {args.reps}; "
                    f"each client its own process)", ["client", "process s", "in-process s", "peak RSS MiB",
                                                      "cpu s", "x floor (process)"], rows)
        print(f"per rep envdeck/floor: process {inv['per_rep_ratio_process']}, cpu {inv['per_rep_ratio_cpu']}")
        goals["envdeck / floor <= 1.3 (process)"] = _goal(ratio(env["process_s"], floor["process_s"]), 1.3, "<=")
        goals["kubectl -A / envdeck (process)"] = {"value": ratio(kubectl["process_s"], env["process_s"])
                                                   if kubectl else None, "bound": "comparison", "met": True}
    tui = results.get("tui")
    if tui:
        print_table(f"the TUI holding {args.namespaces} environments of {args.pods} pods; {tui['changes']} changes "
                    f"at {tui['rate_per_s']:.0f}/s (achieved {tui['achieved_rate_per_s']}/s)",
                    ["first table s", "all envs s", "RSS all envs MiB", "peak MiB", "shown/checked",
                     "table p50 ms", "table p99 ms", "all p50 ms", "all p99 ms", "all max ms",
                     "app CPU s (ms/change)"],
                    [[tui["visible_table_full_s"], tui["all_envs_full_s"], tui["rss_all_envs_mib"],
                      tui["peak_rss_mib"], f"{tui['shown']}/{tui['checked']}", tui["table_p50_ms"],
                      tui["table_p99_ms"], tui["all_p50_ms"], tui["all_p99_ms"], tui["all_max_ms"],
                      f"{tui['app_cpu_s_updates']} ({tui['app_cpu_ms_per_change']})"]])
        goals["TUI RSS < 1 GB (all environments held)"] = _goal(tui["peak_rss_mib"], 1024, "<")
        goals["table row p99 < 500 ms"] = _goal(tui["table_p99_ms"], 500, "<")
        goals["all environments p99 < 500 ms"] = _goal(tui["all_p99_ms"], 500, "<")
        goals["no change missed"] = _goal(tui["missing"], 0, "<=")
    print_table("goals", ["goal", "value", "met"], [[k, v["value"], v["met"]] for k, v in goals.items()])
    write_result(args.out, NAME, args.quick, {"pods_per_namespace": args.pods, "namespaces": args.namespaces,
                                              "changes": args.changes, "rate": args.rate, "reps": args.reps,
                                              "crds": args.crds, "connections": args.connections,
                                              "terminal": "200x50"}, results, goals, notes)


if __name__ == "__main__":
    main()
