"""Kubernetes pod changes → the headless TUI's resources table, end to end.

The project's emulator with N pods (its own process); the real app (`create_app`, the
real KubernetesBackend, reconciler and store, Textual headless at 200×50) on the
`resources` view; a patcher process (bench/pod_patcher.py) changes a label on M random
pods at R per second. A change counts as shown at the first frame composed after the
table holds the pod with the new label (emulator → watch → backend → reconciler → store
→ bridge message → table). Also: the time from app start until the table holds all N
pods (the first full table through the whole stack), and the app's RSS.

    python -m bench.k8s_tui [--quick] [--pods 20000] [--changes 1000] [--rate 100]
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.emulator_proc import ROOT, EmulatorProcess
from bench.pod_patcher import LABEL, plan
from bench.report import ms, parse_args, percentile, print_table, write_result
from bench.tui import shown_table, wait_for

NAME = "k8s_tui"
NAMESPACE = "bench"
CONFIG = """
environments:
  bench:
    repair: observe
    kubernetes: {{kubeconfig: {kubeconfig}, namespace: {namespace}}}
defaults: {{interval: 1h, timeout: 120s}}
"""


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


async def run(emu: EmulatorProcess, pods: int, changes: int, rate: float,
              profile: Path | None = None) -> dict[str, Any]:
    from textual._compositor import CompositorUpdate

    from tui.app import AppOptions, create_app
    from tui.core.config import parse_config
    from tui.widgets.resource_table import ResourceTable

    config = parse_config(CONFIG.format(kubeconfig=json.dumps(str(emu.kubeconfig)), namespace=NAMESPACE))
    expected = {f"kubernetes/Pod/{name}": (k, value) for k, (name, value) in enumerate(plan(pods, changes))}
    seen_at: dict[int, float] = {}  # change number -> monotonic time of the first frame showing it
    frames = [0]
    table_ref: list[ResourceTable | None] = [None]

    with tempfile.TemporaryDirectory(prefix="envdeck-bench-k8s-tui-") as state:
        app = create_app(config, Path(state), options=AppOptions(start_env="bench", testing=True, user="bench"))
        display = app._display

        def on_frame(screen, renderable) -> None:
            if isinstance(renderable, CompositorUpdate):  # what a terminal would be sent
                renderable.render_segments(app.console)
            display(screen, renderable)
            frames[0] += 1
            table = table_ref[0]
            if table is None or not expected:
                return
            now = time.monotonic()
            for rid in list(expected):
                r = table.resource(rid)
                k, value = expected[rid]
                if r is not None and (r.attributes.get("labels") or {}).get(LABEL) == value:
                    seen_at[k] = now
                    del expected[rid]

        app._display = on_frame
        t0 = time.monotonic()
        async with app.run_test(size=(200, 50)) as pilot:
            async def wait(predicate, timeout: float) -> None:
                await wait_for(pilot, predicate, timeout, interval=0.01)

            def table() -> ResourceTable | None:
                return shown_table(app)

            await wait(lambda: (t := table()) is not None and t.total >= pods, 600)
            await pilot.pause()
            first_table_s = time.monotonic() - t0
            rss_table = rss_mib()
            table_ref[0] = table()
            profiler = None
            if profile is not None:  # the update phase only (pyinstrument, in the bench extra)
                from pyinstrument import Profiler
                profiler = Profiler(async_mode="disabled")
                profiler.start()
            patcher = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.pod_patcher", emu.url, NAMESPACE, str(pods), str(changes), str(rate),
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.PIPE)
            out, _ = await patcher.communicate()
            if patcher.returncode != 0:
                raise RuntimeError(f"the patcher failed (exit {patcher.returncode})")
            sent = json.loads(out.decode().strip().splitlines()[-1])["sent"]
            try:
                await wait(lambda: not expected, 120)
            except TimeoutError:
                pass
            rss_end = rss_mib()
            if profiler is not None:
                profiler.stop()
                profile.write_text(profiler.output_text(unicode=True, show_all=False))
    latencies = [seen_at[k] - sent[k] for k in seen_at]
    return {"pods": pods, "changes": changes, "rate_per_s": rate, "first_full_table_s": round(first_table_s, 3),
            "shown": len(latencies), "missing": changes - len(latencies), "frames": frames[0],
            "p50_ms": ms(percentile(latencies, 50)), "p99_ms": ms(percentile(latencies, 99)),
            "max_ms": ms(max(latencies) if latencies else None),
            "send_s": round(sent[-1] - sent[0], 3) if sent else None,
            "rss_after_table_mib": round(rss_table, 1), "rss_end_mib": round(rss_end, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    args = parse_args(NAME, __doc__, [("--pods", {"type": int, "default": 20_000}),
                                      ("--changes", {"type": int, "default": 1000}),
                                      ("--rate", {"type": float, "default": 100.0}),
                                      ("--profile", {"type": Path, "default": None,
                                                     "help": "write a pyinstrument profile of the update phase"})])
    if args.quick:
        args.pods, args.changes, args.rate = 200, 20, 50.0
    with EmulatorProcess(NAMESPACE, args.pods) as emu:
        print(f"emulator with {args.pods} pods ready in {emu.ready_s:.1f}s at {emu.url}", flush=True)
        r = asyncio.run(run(emu, args.pods, args.changes, args.rate, args.profile))
    print_table(f"{r['changes']} pod changes at {r['rate_per_s']:.0f}/s → headless TUI table ({r['pods']} pods)",
                ["first full table s", "shown", "missing", "p50 ms", "p99 ms", "max ms", "peak RSS MiB"],
                [[r["first_full_table_s"], r["shown"], r["missing"], r["p50_ms"], r["p99_ms"], r["max_ms"],
                  r["peak_rss_mib"]]])
    goals = {"update p99 < 500 ms": {"value": r["p99_ms"], "met": r["p99_ms"] is not None and r["p99_ms"] < 500},
             "no update missing": {"value": r["missing"], "met": r["missing"] == 0},
             "RSS < 500 MiB": {"value": r["peak_rss_mib"], "met": r["peak_rss_mib"] < 500}}
    print_table("goals", ["goal", "value", "met"], [[k, v["value"], v["met"]] for k, v in goals.items()])
    write_result(args.out, NAME, args.quick, {"pods": args.pods, "changes": args.changes, "rate": args.rate,
                                              "namespace": NAMESPACE, "terminal": "200x50"}, r, goals,
                 ["first_full_table_s runs from app start (python start-up and imports excluded) to the "
                  "table holding every pod: emulator → backend → reconciler → store → table"])


if __name__ == "__main__":
    main()
