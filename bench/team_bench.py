"""Team mode (issue 16), side by side in one run:

1. Audit write latency on the embedded SQLite store and on a local PostgreSQL (a server of the
   bench's own, tests/postgres_server.py: fsync off, as in the tests): per engine, `--writes`
   rows each of
   - `record`: one complete row (`Store.audit_record`, a denial or a CLI action's row);
   - `repair pair`: a repair's row as the leader writes it: `audit_begin` under the lease's
     epoch (the fencing check and the INSERT in one atomic unit: BEGIN IMMEDIATE / SERIALIZABLE)
     then `audit_finish`.
   Goal: p99 < 20 ms on PostgreSQL.
2. Failover: two `envdeck agent` processes lead one environment on the Kubernetes API emulator;
   `--kills` times the leader is SIGKILLed; measured from the kill until the survivor holds the
   lease (/metrics envdeck_lease_held) and until it has finished one observe pass after that
   (envdeck_reconcile_passes_total grows). A replacement agent is started after each kill. The
   default lease (ttl 15 s, renewed every 5 s): a dead holder of the same host is taken over at the
   survivor's next leadership round (≤ 5 s); one of another host only once its lease expired.

    python -m bench.team_bench [--writes 1000] [--kills 20 (0: audit writes only)] [--failover-engine postgres]
"""

from __future__ import annotations

import asyncio
import random
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from backends.sim.k8s_emulator import Emulator, EmulatorThread
from bench.report import load, ms, parse_args, percentile, print_table, write_result
from bench.team_agents import CONFIG, agent_env, held, pg_store, start_agents, stop_agents, wait

NAME = "team_bench"
GOAL_P99_MS = 20.0
ENV = "staging"
RENEW_S = 5.0               # the default lease's renewal round (ttl 15 s / 3)
AUDIT_ENV = "audit-bench"   # not the agents' environment: its lease is the bench's


# -- audit writes -------------------------------------------------------------------------------
async def audit_latency(engine: str, directory: Path, url: str | None, writes: int) -> dict[str, Any]:
    import os

    from tui.core.store import Store, open_store

    if url:
        os.environ["ENVDECK_STATE_URL"] = url
        store = await open_store(None, directory)
        del os.environ["ENVDECK_STATE_URL"]
    else:
        store = await Store.open(directory)
    try:
        lease = await store.acquire_lease(AUDIT_ENV, "bench@team:1", 3600)
        assert lease is not None
        record: list[float] = []
        pair: list[float] = []
        for n in range(writes):
            started = time.perf_counter()
            await store.audit_record(user="ann", env=AUDIT_ENV, target="bench", action="bench.record",
                                     params={"n": n}, origin="cli", result="succeeded", message="ok")
            record.append(time.perf_counter() - started)
            started = time.perf_counter()
            row = await store.audit_begin(user="envdeck", env=AUDIT_ENV, target="kubernetes/Deployment/web",
                                          action="scale", params={"field": "replicas", "desired": 3},
                                          origin="reconciler", epoch=lease.epoch)
            await store.audit_finish(row, "succeeded", "scaled to 3")
            pair.append(time.perf_counter() - started)
        await store.release_lease(lease)
    finally:
        await store.close()
    return {"engine": engine, "writes": writes,
            **{f"{name}_{q}_ms": ms(percentile(values, p)) for name, values in (("record", record), ("pair", pair))
               for q, p in (("p50", 50), ("p99", 99))},
            "record_max_ms": ms(max(record)), "pair_max_ms": ms(max(pair))}


# -- failover -----------------------------------------------------------------------------------
def _passes(agent) -> float:
    return agent.metric("envdeck_reconcile_passes_total", env=ENV, backend="kubernetes", result="ok") or 0.0


def failover(directory: Path, url: str | None, kills: int) -> list[dict[str, Any]]:
    thread = EmulatorThread(Emulator())
    thread.start()
    agents: list = []
    rows = []
    try:
        emu = thread.emu
        emu.add_namespace(ENV)
        emu.create_deployment(ENV, "web", replicas=3)
        kubeconfig = emu.write_kubeconfig(directory / "kubeconfig", namespace=ENV, context="emulator")
        config = directory / "envdeck.yaml"
        config.write_text(CONFIG.format(kubeconfig=kubeconfig))
        env = agent_env(url, ttl_s=None)   # the default lease
        agents = start_agents(config, directory / "state", 2, env)
        rng = random.Random(16)
        for n in range(1, kills + 1):
            leader = wait(lambda a=agents: _one_leader(a), 120, "exactly one leader")
            survivor = next(a for a in agents if a is not leader)
            # a seeded point of the survivor's leadership round (every ttl/3 = 5 s; its phase is set by
            # when it started, just before: killing at once would always wait a whole round)
            time.sleep(rng.uniform(0.0, RENEW_S))
            leader.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            leader.proc.wait()
            wait(lambda s=survivor: held(s), 120, "the takeover", interval=0.02)
            led_s = time.monotonic() - killed
            before = _passes(survivor)
            wait(lambda s=survivor, b=before: _passes(s) > b, 120, "a pass of the new leader", interval=0.02)
            passed_s = time.monotonic() - killed
            rows.append({"kill": n, "leads_s": round(led_s, 3), "leads_and_passed_s": round(passed_s, 3)})
            print(f"kill {n}/{kills}: leads after {led_s:.2f} s, one pass done after {passed_s:.2f} s", flush=True)
            leader.stop()
            agents = [survivor, *start_agents(config, directory / "state", 1, env)]
    finally:
        stop_agents(agents)
        thread.stop()
    return rows


def _one_leader(agents: list):
    leading = [a for a in agents if held(a)]
    return leading[0] if len(leading) == 1 else None


def main() -> None:
    args = parse_args(NAME, __doc__, [("--writes", {"type": int, "default": 1000}),
                                      ("--kills", {"type": int, "default": 20}),
                                      ("--failover-engine", {"choices": ["sqlite", "postgres"], "default": "postgres"})])
    writes, kills = (30, 1) if args.quick else (args.writes, args.kills)
    load_start = load()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-team-") as tmp, pg_store("postgres", Path(tmp)) as url:
        workdir = Path(tmp)
        audit = [asyncio.run(audit_latency("sqlite", workdir / "sqlite", None, writes)),
                 asyncio.run(audit_latency("postgres", workdir / "pg", url, writes))]
        results["audit"] = audit
        print_table(f"audit writes ({writes} of each kind per engine)",
                    ["engine", "record p50 ms", "p99 ms", "max ms", "repair pair p50 ms", "p99 ms", "max ms"],
                    [[a["engine"], a["record_p50_ms"], a["record_p99_ms"], a["record_max_ms"], a["pair_p50_ms"],
                      a["pair_p99_ms"], a["pair_max_ms"]] for a in audit])
        rows = failover(workdir / "failover", url if args.failover_engine == "postgres" else None, kills) \
            if kills else []
    if rows:
        _failover_summary(results, rows, args.failover_engine)
    pg = next(a for a in audit if a["engine"] == "postgres")
    met = pg["record_p99_ms"] is not None and max(pg["record_p99_ms"], pg["pair_p99_ms"]) < GOAL_P99_MS
    print(f"load average: {load_start} at start, {load()} at end")
    write_result(args.out, NAME, args.quick, {"writes": writes, "kills": kills,
                                              "failover_engine": args.failover_engine},
                 results, goals={"audit write p99 < 20 ms on PostgreSQL": {
                     "record_p99_ms": pg["record_p99_ms"], "pair_p99_ms": pg["pair_p99_ms"], "met": met}},
                 notes=[f"load average at start {load_start}", "PostgreSQL local, fsync off (the test server)"])


def _failover_summary(results: dict[str, Any], rows: list[dict[str, Any]], engine: str) -> None:
    leads = [r["leads_s"] for r in rows]
    passed = [r["leads_and_passed_s"] for r in rows]
    results["failover"] = {"engine": engine, "kills": len(rows), "rows": rows,
                           "leads_p50_s": percentile(leads, 50), "leads_max_s": max(leads),
                           "passed_p50_s": percentile(passed, 50), "passed_p95_s": percentile(passed, 95),
                           "passed_max_s": max(passed)}
    f = results["failover"]
    print_table(f"failover over {len(rows)} SIGKILLs ({engine}, default lease ttl 15 s)",
                ["leads p50 s", "max s", "leads + one pass p50 s", "p95 s", "max s"],
                [[f["leads_p50_s"], f["leads_max_s"], f["passed_p50_s"], f["passed_p95_s"], f["passed_max_s"]]])


if __name__ == "__main__":
    main()
