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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.emulator_proc import ROOT
from bench.report import (
    parse_args,
    percentile,
    print_table,
    ratio,
    read_time_report,
    timed_argv,
    write_result,
)

NAME = "logs"
NAMESPACE = "bench"
PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


class Source:
    """The log source process (bench/log_source.py) and its stdin/stdout protocol."""

    async def start(self) -> Source:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.log_source", NAMESPACE, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        words = (await self._read()).split()
        assert words[0] == "ready", words
        self.url, self.kubeconfig, self.pod = words[1:4]
        return self

    async def _read(self) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=300)
        if not line:
            raise RuntimeError("the log source exited")
        return line.decode().strip()

    async def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._read()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.ask("quit"), timeout=5)
            except (RuntimeError, TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class OrderCheck:
    def __init__(self) -> None:
        self.received = 0
        self.next_seq = 0
        self.gaps = 0  # times a seq was skipped (lines lost)
        self.repeats = 0  # seq lower than expected (duplicate or reordered)
        self.foreign = 0  # lines that are not the source's

    def see(self, text: str) -> None:
        if not text.startswith("seq="):
            self.foreign += 1
            return
        seq = int(text[4:12])
        self.received += 1
        if seq == self.next_seq:
            self.next_seq += 1
        elif seq > self.next_seq:
            self.gaps += 1
            self.next_seq = seq + 1
        else:
            self.repeats += 1

    def to_json(self, produced: int) -> dict[str, Any]:
        return {"produced": produced, "received": self.received, "dropped": produced - self.received,
                "gaps": self.gaps, "out_of_order_or_repeated": self.repeats, "foreign_lines": self.foreign,
                "order_kept": self.gaps == 0 and self.repeats == 0 and self.received == produced}


async def envdeck_run(rate: float, seconds: float) -> dict[str, Any]:
    from backends.kubernetes import KubernetesBackend
    from tui.config import Defaults, KubernetesConfig

    src = await Source().start()
    backend = KubernetesBackend("bench", KubernetesConfig(kubeconfig=src.kubeconfig, namespace=NAMESPACE),
                                Defaults(timeout=60))
    check = OrderCheck()
    lags: list[float] = []
    rss_peak = [current_rss_mib()]
    rss_start = rss_peak[0]
    last_line_at = [0.0]
    stop = asyncio.Event()

    async def ticker() -> None:
        period = 0.01
        expected = time.perf_counter() + period
        while not stop.is_set():
            await asyncio.sleep(period)
            now = time.perf_counter()
            lags.append(max(0.0, now - expected))
            expected = now + period
            if len(lags) % 10 == 0:
                rss_peak[0] = max(rss_peak[0], current_rss_mib())

    async def consume() -> None:
        async for line in backend.logs(f"kubernetes/Pod/{src.pod}", follow=True, tail=0):
            check.see(line.text)
            last_line_at[0] = time.perf_counter()

    tick = asyncio.create_task(ticker())
    reader = asyncio.create_task(consume())
    try:
        assert await src.ask("followers 1") == "ok"
        lags.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        answer = (await src.ask(f"produce {rate:g} {seconds:g}")).split()
        produced, produce_s = int(answer[1]), float(answer[2])
        source_done = t0 + produce_s
        deadline = time.perf_counter() + 60
        while check.received + check.foreign < produced and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        cpu = time.process_time() - c0
        await asyncio.sleep(0.2)  # anything extra (repeats) would arrive now
        stop.set()
    finally:
        reader.cancel()
        await asyncio.gather(reader, tick, return_exceptions=True)
        await backend.close()
        await src.stop()
    result = check.to_json(produced)
    result.update({
        "produce_s": produce_s, "drain_after_source_s": round(max(0.0, last_line_at[0] - source_done), 3),
        "received_per_s": round(check.received / max(1e-9, last_line_at[0] - t0), 1),
        "client_cpu_s": round(cpu, 3), "client_cpu_us_per_line": round(cpu * 1e6 / max(1, check.received), 1),
        "loop_lag_p50_ms": _ms(percentile(lags, 50)), "loop_lag_p99_ms": _ms(percentile(lags, 99)),
        "loop_lag_max_ms": _ms(max(lags) if lags else None),
        "rss_start_mib": round(rss_start, 1), "rss_peak_mib": round(rss_peak[0], 1),
        "rss_growth_mib": round(rss_peak[0] - rss_start, 1),
        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })
    return result


def fixed_logs_view():
    """LogsView with the change proposed in docs/benchmarks.md (§4), to measure it: whether
    the view is merged and the prefix width are found once per batch, from the last 200
    lines only, instead of copying the whole buffer (`list(self.lines)`) for every line."""
    from itertools import islice

    from tui.sanitize import clean
    from tui.widgets.logs_view import LogsView, render_line

    class ProposedLogsView(LogsView):
        def _recent_sources(self) -> set[str]:
            return {line.source for line in islice(reversed(self.lines), 200)}

        def _merged(self) -> bool:
            return len(self.sources) > 1 or len(self._recent_sources()) > 1

        def _prefix_width(self) -> int:
            names = {clean(s) for s in self.sources} | {clean(s) for s in self._recent_sources()}
            return min(24, max((len(n) for n in names), default=0))

        def _write(self, lines) -> None:
            wrap = self._wrap_width()
            width = self._prefix_width() if self._merged() else 0
            out: list[str] = []
            for line in lines:
                prefix = f"{clean(line.source)[:width]:<{width}} │ " if width else ""
                out.extend(render_line(line, prefix=prefix, timestamps=self.timestamps,
                                       pretty_json=self.pretty_json, wrap=wrap))
            self.log_widget.write_lines(out, scroll_end=self.follow)

    return ProposedLogsView


async def tui_view_run(rate: float, seconds: float, buffer_lines: int = 50_000,
                       proposed_fix: bool = False) -> dict[str, Any]:
    """The same stream into the TUI's log view, headless: the backend's lines go through
    the TUI's own `stream_logs` (batches of up to 500 lines posted as messages) into
    `LogsView` (bounded buffer) in a Textual app; a ticker on the app's loop measures lag."""
    from textual.app import App, ComposeResult

    from backends.kubernetes import KubernetesBackend
    from tui.config import Defaults, KubernetesConfig
    from tui.widgets.log_stream import stream_logs
    from tui.widgets.logs_view import LogsView

    src = await Source().start()
    backend = KubernetesBackend("bench", KubernetesConfig(kubeconfig=src.kubeconfig, namespace=NAMESPACE),
                                Defaults(timeout=60))

    class BackendLogs:
        """The one method of Session that stream_logs uses, straight to the real backend
        (no policy/audit: the access checks are not what is measured here)."""

        async def logs(self, env: str, resource_id: str, *, follow: bool, tail: int):
            async for line in backend.logs(resource_id, follow=follow, tail=tail):
                yield line

    view_class = fixed_logs_view() if proposed_fix else LogsView

    class LogApp(App):
        def compose(self) -> ComposeResult:
            yield view_class(buffer_lines=buffer_lines, id="logs")

    app = LogApp()
    lags: list[float] = []
    rss_start = current_rss_mib()
    rss_peak = [rss_start]
    done_at = [0.0]
    async with app.run_test(size=(200, 50)) as pilot:
        view = app.query_one(LogsView)
        stream_id = view.start([src.pod])
        worker = asyncio.create_task(stream_logs(BackendLogs(), "bench", f"kubernetes/Pod/{src.pod}", src.pod,
                                                 stream_id, view.post_message, tail=0))
        stop = asyncio.Event()

        async def ticker() -> None:
            expected = time.perf_counter() + 0.01
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                lags.append(max(0.0, now - expected))
                expected = now + 0.01
                if len(lags) % 10 == 0:
                    rss_peak[0] = max(rss_peak[0], current_rss_mib())

        tick = asyncio.create_task(ticker())
        try:
            assert await src.ask("followers 1") == "ok"
            lags.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            answer = (await src.ask(f"produce {rate:g} {seconds:g}")).split()
            produced, produce_s = int(answer[1]), float(answer[2])
            deadline = time.perf_counter() + 60
            while view.received < produced and time.perf_counter() < deadline:
                await pilot.pause(0.02)
            done_at[0] = time.perf_counter()
            cpu = time.process_time() - c0
            kept = [int(line.text[4:12]) for line in view.lines if line.text.startswith("seq=")]
        finally:
            stop.set()
            worker.cancel()
            await asyncio.gather(worker, tick, return_exceptions=True)
            await backend.close()
            await src.stop()
    received = view.received
    return {"produced": produced, "received": received, "dropped": produced - received,
            "waited_after_source_s": 60, "order_kept": received == produced and kept == list(range(produced - len(kept), produced)),
            "kept_in_buffer": len(kept), "buffer_lines": buffer_lines, "produce_s": produce_s,
            "drain_after_source_s": round(max(0.0, done_at[0] - t0 - produce_s), 3),
            "received_per_s": round(received / max(1e-9, done_at[0] - t0), 1),
            "client_cpu_s": round(cpu, 3), "loop_lag_p50_ms": _ms(percentile(lags, 50)),
            "loop_lag_p99_ms": _ms(percentile(lags, 99)), "loop_lag_max_ms": _ms(max(lags) if lags else None),
            "rss_start_mib": round(rss_start, 1), "rss_peak_mib": round(rss_peak[0], 1),
            "rss_growth_mib": round(rss_peak[0] - rss_start, 1),
            "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


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
        answer = (await src.ask(f"produce {rate:g} {seconds:g}")).split()
        produced, produce_s = int(answer[1]), float(answer[2])
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
        answer = (await src.ask(f"produce {rate:g} {seconds:g}")).split()
        produced, produce_s = int(answer[1]), float(answer[2])
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


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


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
            results["envdeck_tui_log_view_proposed_fix"] = asyncio.run(
                tui_view_run(args.rate, args.seconds, proposed_fix=True))
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
