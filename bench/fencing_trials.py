"""Fencing trials (issue 16): two `envdeck agent` processes on one store lead one environment on
the Kubernetes API emulator; each trial SIGSTOPs the leader past its lease, lets the other take
over and repair a drift, then makes a drift and SIGCONTs the old leader at once. Its writes must
be refused (its lease lapsed on its own clock, the store refuses its stale epoch): every drift is
repaired by exactly one write, counted on the emulator (its request log of PATCH/PUT/POST to the
Deployment), not in envdeck. A "double" is any write beyond one per drift.

The machinery of tests/leadership/test_two_agents.py (the SIGSTOP test that runs three trials
in CI), for the ≥ 50 trials the issue asks for:

    python -m bench.fencing_trials --trials 50 [--engine postgres]

`--quick`: two trials (tests/bench/test_fencing_trials_quick.py).
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from backends.sim.k8s_emulator import Emulator, EmulatorThread
from bench.report import load, parse_args, percentile, print_table, write_result
from bench.team_agents import (
    CONFIG,
    TTL_S,
    agent_env,
    held,
    pg_store,
    replicas,
    start_agents,
    stop_agents,
    wait,
)

NAME = "fencing_trials"
SETTLE_S = 2.5   # more than two passes of each agent (interval 1 s): a second repair would land here


def _writes(emu: Emulator) -> int:
    path = "/apis/apps/v1/namespaces/staging/deployments/web"
    return sum(1 for m, p in list(emu.request_log)
               if m in ("PATCH", "PUT", "POST") and p.split("?")[0] in (path, path + "/scale"))


def _drift(emu: Emulator) -> None:
    emu.patch("deployments", "staging", "web", {"spec": {"replicas": 1}})
    wait(lambda: replicas(emu) == 3, 60, "the repair")


def trial(emu: Emulator, agents: list, n: int) -> dict[str, Any]:
    leader = wait(lambda: _one_leader(agents), 60, "exactly one leader")
    other = next(a for a in agents if a is not leader)
    emu.request_log.clear()
    leader.proc.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    wait(lambda: held(other), 60, "the takeover")
    takeover_s = time.monotonic() - stopped
    _drift(emu)                   # repaired by the new leader alone
    time.sleep(SETTLE_S)
    first = _writes(emu)
    seen = len(leader.lines)
    emu.patch("deployments", "staging", "web", {"spec": {"replicas": 1}})
    leader.proc.send_signal(signal.SIGCONT)   # it meets the drift as soon as it runs again
    wait(lambda: replicas(emu) == 3, 60, "the repair")
    time.sleep(SETTLE_S)
    second = _writes(emu) - first
    after = leader.records()[seen:]
    return {"trial": n, "takeover_s": round(takeover_s, 2), "writes_first": first, "writes_second": second,
            "doubles": max(first - 1, 0) + max(second - 1, 0),
            "old_leader_repairs": sum(1 for r in after if r["msg"].startswith("repair")),
            "old_leader_said": next((r.get("note", "") for r in after
                                     if r["msg"].startswith("leader") and r.get("note")), "")}


def _one_leader(agents: list):
    leading = [a for a in agents if held(a)]
    return leading[0] if len(leading) == 1 else None


def main() -> None:
    args = parse_args(NAME, __doc__, [("--trials", {"type": int, "default": 50}),
                                      ("--engine", {"choices": ["sqlite", "postgres"], "default": "sqlite"})])
    trials = 2 if args.quick else args.trials
    load_start = load()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-fencing-") as tmp, pg_store(args.engine, Path(tmp)) as url:
        workdir = Path(tmp)
        thread = EmulatorThread(Emulator())
        thread.start()
        agents: list = []
        try:
            emu = thread.emu
            emu.add_namespace("staging")
            emu.create_deployment("staging", "web", replicas=3)
            kubeconfig = emu.write_kubeconfig(workdir / "kubeconfig", namespace="staging", context="emulator")
            config = workdir / "envdeck.yaml"
            config.write_text(CONFIG.format(kubeconfig=kubeconfig))
            agents = start_agents(config, workdir / "state", 2, agent_env(url))
            for n in range(1, trials + 1):
                rows.append(trial(emu, agents, n))
                last = rows[-1]
                print(f"trial {n}/{trials}: takeover {last['takeover_s']} s, writes {last['writes_first']}+"
                      f"{last['writes_second']}, doubles {last['doubles']}", flush=True)
        finally:
            stop_agents(agents)
            thread.stop()
    doubles = sum(r["doubles"] for r in rows)
    takeovers = [r["takeover_s"] for r in rows]
    results = {"trials": len(rows), "doubles": doubles,
               "old_leader_repairs": sum(r["old_leader_repairs"] for r in rows),
               "old_leader_said_why": sum(1 for r in rows if r["old_leader_said"]),
               "takeover_p50_s": percentile(takeovers, 50), "takeover_max_s": max(takeovers, default=None),
               "rows": rows}
    print_table(f"fencing trials ({args.engine}, lease ttl {TTL_S} s)",
                ["trials", "doubles", "old leader repairs", "old leader said why", "takeover p50 s", "max s"],
                [[len(rows), doubles, results["old_leader_repairs"], results["old_leader_said_why"],
                  results["takeover_p50_s"], results["takeover_max_s"]]])
    print(f"load average: {load_start} at start, {load()} at end")
    write_result(args.out, NAME, args.quick, {"trials": trials, "engine": args.engine, "lease_ttl_s": TTL_S},
                 results, goals={"zero double repairs": {"doubles": doubles, "met": doubles == 0}},
                 notes=[f"load average at start {load_start}", "writes counted on the emulator's request log"])
    if doubles:
        raise SystemExit(f"{doubles} double repair(s) in {len(rows)} trials")


if __name__ == "__main__":
    main()
