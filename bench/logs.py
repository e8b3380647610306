"""Log throughput: a source producing 50,000 lines/s for 10 s (quick: 1 s) into a
pod's log in the project's Kubernetes emulator (its own process), followed by:

- envdeck: KubernetesBackend.logs(follow=True) in this process, with an event-loop
  ticker (10 ms) measuring lag, and this process's RSS sampled;
- envdeck's TUI: the same backend stream through the TUI's stream_logs into its
  LogsView (bounded buffer), headless, with a ticker on the app's loop;
- the floor: aiohttp reading the same stream and splitting lines (a second run);
- `kubectl logs -f` on the same kind of stream (a third run).
Counts lines received vs produced, checks order (every `seq=` in sequence, none
missing, none repeated), drain time after the source stopped, peak memory.

    python -m bench.logs [--quick] [--rate 50000] [--seconds 10]
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.log_harness import NAMESPACE, LoopLag, OrderCheck, Source
from bench.logs_tui import tui_view_run
from bench.report import (
    parse_args,
    print_table,
    ratio,
    read_time_report,
    timed_argv,
    write_result,
)

NAME = "logs"


async def envdeck_run(rate: float, seconds: float) -> dict[str, Any]:
    from backends.kubernetes import KubernetesBackend
    from tui.core.config import Defaults, KubernetesConfig

    src = await Source().start()
    backend = KubernetesBackend("bench", KubernetesConfig(kubeconfig=src.kubeconfig, namespace=NAMESPACE),
                                Defaults(timeout=60))
    check = OrderCheck()
    lag = LoopLag()
    last_line_at = [0.0]

    async def consume() -> None:
        async for line in backend.logs(f"kubernetes/Pod/{src.pod}", follow=True, tail=0):
            check.see(line.text)
            last_line_at[0] = time.perf_counter()

    lag.start()
    reader = asyncio.create_task(consume())
    try:
        assert await src.ask("followers 1") == "ok"
        lag.lags.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        produced, produce_s = await src.produce(rate, seconds)
        source_done = t0 + produce_s
        deadline = time.perf_counter() + 60
        while check.received + check.foreign < produced and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        cpu = time.process_time() - c0
        await asyncio.sleep(0.2)  # anything extra (repeats) would arrive now
    finally:
        await lag.stop()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await backend.close()
        await src.stop()
    result = check.to_json(produced)
    result.update({
        "produce_s": produce_s, "drain_after_source_s": round(max(0.0, last_line_at[0] - source_done), 3),
        "received_per_s": round(check.received / max(1e-9, last_line_at[0] - t0), 1),
        "client_cpu_s": round(cpu, 3), "client_cpu_us_per_line": round(cpu * 1e6 / max(1, check.received), 1),
        **lag.to_json(),
        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })
    return result


async def raw_floor_run(rate: float, seconds: float) -> dict[str, Any]:
    """The floor: aiohttp reading the same follow stream, splitting lines, nothing else."""
    import aiohttp

    src = await Source().start()
    check = OrderCheck()
    last_line_at = [0.0]

    async def consume() -> None:
        url = f"{src.url}/api/v1/namespaces/{NAMESPACE}/pods/{src.pod}/log"
        async with aiohttp.ClientSession() as http, http.get(url, params={"follow": "true", "tailLines": "0"},
                                                              timeout=aiohttp.ClientTimeout(total=None)) as resp:
            pending = b""
            async for chunk in resp.content.iter_any():
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    check.see(line.decode())
                last_line_at[0] = time.perf_counter()

    reader = asyncio.create_task(consume())
    try:
        assert await src.ask("followers 1") == "ok"
        t0, c0 = time.perf_counter(), time.process_time()
        produced, produce_s = await src.produce(rate, seconds)
        deadline = time.perf_counter() + 60
        while check.received + check.foreign < produced and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        cpu = time.process_time() - c0
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await src.stop()
    result = check.to_json(produced)
    result.update({"produce_s": produce_s,
                   "drain_after_source_s": round(max(0.0, last_line_at[0] - t0 - produce_s), 3),
                   "received_per_s": round(check.received / max(1e-9, last_line_at[0] - t0), 1),
                   "client_cpu_s": round(cpu, 3),
                   "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
    return result


async def kubectl_run(rate: float, seconds: float) -> dict[str, Any] | None:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None
    src = await Source().start()
    tmp = Path(tempfile.mkdtemp(prefix="envdeck-bench-kubectl-"))
    out_path, report = tmp / "out.log", tmp / "time"
    try:
        with out_path.open("wb") as out:
            proc = subprocess.Popen(timed_argv([kubectl, "logs", "-f", "--tail=0", "-n", NAMESPACE, src.pod], report),
                                    env={**os.environ, "KUBECONFIG": src.kubeconfig}, stdout=out,
                                    stderr=subprocess.DEVNULL)
        assert await src.ask("followers 1") == "ok"
        t0 = time.perf_counter()
        produced, produce_s = await src.produce(rate, seconds)
        source_done = t0 + produce_s
        deadline = time.perf_counter() + 60
        size, last_change = -1, time.perf_counter()
        while time.perf_counter() < deadline:
            new = out_path.stat().st_size
            if new != size:
                size, last_change = new, time.perf_counter()
                with out_path.open("rb") as fh:
                    if sum(1 for _ in fh) >= produced:
                        break
            elif time.perf_counter() - last_change > 5:
                break
            await asyncio.sleep(0.05)
        done_at = last_change
        await src.stop()  # ends the stream: kubectl exits and GNU time reports
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        check = OrderCheck()
        with out_path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                check.see(line.rstrip("\n"))
        usage = read_time_report(report)
        result = check.to_json(produced)
        result.update({"produce_s": produce_s, "drain_after_source_s": round(max(0.0, done_at - source_done), 3),
                       "received_per_s": round(check.received / max(1e-9, done_at - t0), 1),
                       "process_peak_rss_mib": usage["rss_mib"], "cpu_s": usage["cpu_s"]})
        return result
    finally:
        await src.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    args = parse_args(NAME, __doc__, [("--rate", {"type": float, "default": 50_000.0}),
                                      ("--seconds", {"type": float, "default": 10.0}),
                                      ("--no-tui", {"action": "store_true", "help": "skip the TUI log view run"})])
    if args.quick:
        args.seconds = 1.0
    notes: list[str] = []
    results: dict[str, Any] = {"envdeck_backend_logs": asyncio.run(envdeck_run(args.rate, args.seconds))}
    results["raw_aiohttp_floor"] = asyncio.run(raw_floor_run(args.rate, args.seconds))
    if args.no_tui:
        notes.append("the TUI log view run was skipped (--no-tui)")
    else:
        try:
            results["envdeck_tui_log_view"] = asyncio.run(tui_view_run(args.rate, args.seconds))
        except ImportError as exc:
            notes.append(f"the TUI log view is not available: {exc}")
    kubectl = asyncio.run(kubectl_run(args.rate, args.seconds))
    if kubectl is None:
        notes.append("kubectl not found: no comparison row")
    else:
        results["kubectl_logs_f"] = kubectl
    rows = [[k, r["produced"], r["received"], r["dropped"], r["order_kept"], r["drain_after_source_s"],
             r["received_per_s"], r.get("loop_lag_p99_ms"), r.get("client_cpu_s", r.get("cpu_s")), r["process_peak_rss_mib"]] for k, r in results.items()]
    print_table(f"{args.rate:.0f} lines/s for {args.seconds:g} s",
                ["client", "produced", "received", "dropped", "order kept", "drain s", "lines/s",
                 "loop lag p99 ms", "client cpu s", "peak RSS MiB"], rows)
    env = results["envdeck_backend_logs"]
    goals = {"0 dropped, order kept": {"value": env["dropped"], "met": env["order_kept"]},
             "drain after source <= kubectl's": {
                 "value": ratio(env["drain_after_source_s"], (kubectl or {}).get("drain_after_source_s")),
                 "met": kubectl is not None and env["drain_after_source_s"] <= kubectl["drain_after_source_s"] + 0.05}}
    print_table("goals", ["goal", "value", "met"], [[k, v["value"], v["met"]] for k, v in goals.items()])
    write_result(args.out, NAME, args.quick, {"rate": args.rate, "seconds": args.seconds}, results, goals, notes)


if __name__ == "__main__":
    main()
