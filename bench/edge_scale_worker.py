"""The envdeck process of the edge scale bench (bench/edge_scale.py): one EdgeBackend
holding a connection to every node, driven one step at a time over stdin/stdout so
that the driver can alternate it with xargs ssh and Ansible in the same run.

    python -m bench.edge_scale_worker SPEC.json      # then one command per stdin line

Commands (one JSON line answers each): `connect` (a cold run_fleet: connect + command),
`warm` (run_fleet over the open connections), `warm_all` (the same with every node at
once: concurrency = nodes), `floor` (the same command as bare asyncssh
sessions on the same connections, all at once: what any asyncssh client needs), `observe` (one observe pass: status +
services + metrics), `block` / `unblock` (black-hole the namespaced node, if any),
`quit`. Every answer carries wall and CPU seconds of this process and its RSS.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from typing import Any


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident set of this process, MiB."""
    cur = peak = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return round(cur, 1), round(peak, 1)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


class Worker:
    def __init__(self, spec: dict[str, Any]):
        from backends.edge.backend import EdgeBackend
        from tui.core.config import Defaults, EdgeConfig

        self.spec = spec
        self.command = spec["command"]
        self.backend = EdgeBackend("bench", EdgeConfig(**spec["edge"]), Defaults())
        self.black_hole = spec.get("black_hole")  # {"ns": ..., "host_addr": ..., "node": name}

    async def fleet(self, concurrency: int | None = None) -> dict[str, Any]:
        t0, c0 = time.perf_counter(), time.process_time()
        results = await self.backend.run_fleet(self.command, concurrency=concurrency)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        durations = [r.duration_s for r in results]
        failed = [r.node for r in results if not r.ok]
        return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "ok": len(results) - len(failed),
                "total": len(results), "failed": failed[:5], "node_p50_s": _r(percentile(durations, 50)),
                "node_p99_s": _r(percentile(durations, 99)), "node_max_s": _r(max(durations, default=None))}

    async def floor(self) -> dict[str, Any]:
        import asyncssh

        class Collect(asyncssh.SSHClientSession):
            def __init__(self) -> None:
                self.status: int | None = None
                self.done = asyncio.get_running_loop().create_future()

            def exit_status_received(self, status: int) -> None:
                self.status = status

            def connection_lost(self, exc: Exception | None) -> None:
                if not self.done.done():
                    self.done.set_result(None)

        async def one(conn) -> int | None:
            chan, session = await conn.create_session(Collect, self.command, encoding="utf-8", errors="replace")
            chan.write_eof()
            await session.done
            return session.status

        conns = [link._conn for link in self.backend.links.values() if link.connected]

        async def all_at_once() -> list:
            return await asyncio.gather(*(one(c) for c in conns), return_exceptions=True)

        # the connections live on the backend's own loop (backends/edge/loop_thread.py): run there,
        # handing the result back the way the backend's own methods do
        t0, c0 = time.perf_counter(), time.process_time()
        statuses = await self.backend.remote.call(all_at_once())
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "ok": statuses.count(0), "total": len(conns)}

    async def observe(self) -> dict[str, Any]:
        lags: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:  # how long the event loop stood still during the pass
            while not done.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t - 0.01)

        tick = asyncio.create_task(ticker())
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            obs = await self.backend.observe()
        finally:
            done.set()
            await tick
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        fresh = sum(st.fresh for st in self.backend._state.values())
        return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "resources": len(obs.resources),
                "samples": len(obs.samples), "fresh_nodes": fresh, "nodes": len(self.backend._state),
                "loop_lag_p50_ms": _ms(percentile(lags, 50)), "loop_lag_p99_ms": _ms(percentile(lags, 99)),
                "loop_lag_max_ms": _ms(max(lags, default=None))}

    def route(self, verb: str) -> dict[str, Any]:
        import subprocess

        if not self.black_hole:
            return {"skipped": "no black-hole node"}
        bh = self.black_hole
        proc = subprocess.run(["ip", "-n", bh["ns"], "route", verb, "blackhole", f"{bh['host_addr']}/32"],
                              capture_output=True, text=True)
        return {"rc": proc.returncode, "stderr": proc.stderr.strip()}

    async def handle(self, verb: str) -> dict[str, Any]:
        if verb in ("connect", "warm"):
            out = await self.fleet()
        elif verb == "warm_all":  # every node at once (concurrency = nodes), the floor's shape
            out = await self.fleet(concurrency=len(self.backend.links))
        elif verb == "floor":
            out = await self.floor()
        elif verb == "observe":
            out = await self.observe()
        elif verb == "block":
            out = self.route("add")
        elif verb == "unblock":
            out = self.route("del")
        else:
            raise ValueError(f"unknown command {verb!r}")
        cur, peak = rss_mib()
        out.update(rss_mib=cur, peak_rss_mib=peak, loadavg=round(os.getloadavg()[0], 2),
                   open_connections=sum(link.connected for link in self.backend.links.values()))
        return out


async def main(spec_path: str) -> None:
    with open(spec_path) as fh:
        spec = json.load(fh)
    # a thousand sockets: raise the soft limit of open files to the hard one
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    worker = Worker(spec)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True, "rss_mib": rss_mib()[0]}), flush=True)
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "quit":
                break
            try:
                answer = await worker.handle(line)
            except Exception as exc:  # noqa: BLE001 - the driver reports it
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps({"command": line, **answer}), flush=True)
    finally:
        await worker.backend.close()


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
