"""One command on N SSH nodes (OpenSSH sshd on loopback ports), side by side:

- envdeck in-process, cold (new EdgeBackend: connect + run) and warm (the same
  backend's pooled connections: run_fleet a second time);
- `envdeck run` as a whole process (python start-up + config + connect + run);
- `xargs -P N ssh` (OpenSSH's default key exchange, and curve25519 like asyncssh);
- a sequential `ssh` loop;
- `ansible all -m raw -f N`, cold (no ControlPersist) and warm (ControlPersist);
- N service restarts through the command templates: envdeck warm vs `xargs -P N ssh`.

    python -m bench.fleet [--quick] [--nodes 50] [--reps 3]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import parse_args, percentile, print_table, ratio, write_result
from bench.sshd_lab import SshLab, sshd_available

NAME = "fleet"
COMMAND = "cat /proc/loadavg"
CURVE = "curve25519-sha256"
ROOT = Path(__file__).resolve().parents[1]


def edge_config(lab: SshLab) -> dict[str, Any]:
    s = str(lab.script)
    return {
        "known_hosts": str(lab.known_hosts), "ssh_config": str(lab.workdir / "ssh_config"),
        "concurrency": max(50, lab.n), "connect_timeout": "20s", "command_timeout": "60s",
        "commands": {"status": f"{s} status {{service}}", "start": f"{s} start {{service}}",
                     "stop": f"{s} stop {{service}}", "restart": f"{s} restart {{service}}"},
        "nodes": [{"name": f"node-{i:03d}", "host": "127.0.0.1", "port": port, "user": lab.user,
                   "identity_file": str(lab.client_key), "services": ["app"]}
                  for i, port in enumerate(lab.ports)],
    }


def summary(walls: list[float], per_node: list[float], ok: int, total: int) -> dict[str, Any]:
    return {"wall_s": round(statistics.median(walls), 3), "walls_s": [round(w, 3) for w in walls],
            "node_p50_s": _r(percentile(per_node, 50)), "node_p99_s": _r(percentile(per_node, 99)),
            "ok": ok, "total": total}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- envdeck ----------------------------------------------------------------------
async def envdeck_inprocess(lab: SshLab, reps: int) -> dict[str, Any]:
    from backends.edge.backend import EdgeBackend
    from tui.core.config import Defaults, EdgeConfig

    cfg = EdgeConfig(**edge_config(lab))
    cold_w, cold_n, warm_w, warm_n, restart_w, restart_n = [], [], [], [], [], []
    ok = {"cold": 0, "warm": 0, "restart": 0}
    for _ in range(reps):
        backend = EdgeBackend("bench", cfg, Defaults())
        try:
            t0 = time.perf_counter()
            results = await backend.run_fleet(COMMAND)
            cold_w.append(time.perf_counter() - t0)
            cold_n += [r.duration_s for r in results]
            ok["cold"] += sum(r.ok for r in results)
            for _ in range(3):  # warm: the connections are open
                t0 = time.perf_counter()
                results = await backend.run_fleet(COMMAND)
                warm_w.append(time.perf_counter() - t0)
                warm_n += [r.duration_s for r in results]
                ok["warm"] += sum(r.ok for r in results)
            targets = [f"edge/service/{n.name}:app" for n in cfg.nodes]
            t0 = time.perf_counter()
            results = await backend.run_fleet_action("restart", targets)
            restart_w.append(time.perf_counter() - t0)
            restart_n += [r.duration_s for r in results]
            ok["restart"] += sum(r.ok for r in results)
        finally:
            await backend.close()
    n = lab.n
    return {"cold": summary(cold_w, cold_n, ok["cold"], n * reps),
            "warm": summary(warm_w, warm_n, ok["warm"], n * reps * 3),
            "restart_warm": summary(restart_w, restart_n, ok["restart"], n * reps)}


def envdeck_cli(lab: SshLab, reps: int) -> dict[str, Any]:
    import yaml

    wd = Path(tempfile.mkdtemp(prefix="envdeck-bench-cli-"))
    cfg_path = wd / "envdeck.yaml"
    cfg_path.write_text(yaml.safe_dump({"environments": {"bench": {"repair": "observe",
                                                                   "edge": edge_config(lab)}}}))
    cfg_path.chmod(0o600)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    walls, per_node, ok = [], [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "tui.cli", "run", "--config", str(cfg_path),
                               "--state-dir", str(wd / "state"), "--json", "bench", "--", COMMAND],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        walls.append(time.perf_counter() - t0)
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            raise RuntimeError(f"envdeck run failed ({proc.returncode}): {proc.stderr[-2000:]}") from None
        per_node += [r["duration_s"] for r in doc["results"]]
        ok += doc["summary"]["ok"]
    return summary(walls, per_node, ok, lab.n * reps)


# -- OpenSSH and Ansible ----------------------------------------------------------
def timed_script(lab: SshLab, kex: str | None, command: str) -> Path:
    """A wrapper that runs ssh to port $1 and prints: port rc microseconds."""
    argv = " ".join(lab.ssh_argv(0, kex=kex)).replace("-p 0", '-p "$1"')
    path = lab.workdir / f"timed_{kex or 'default'}_{abs(hash(command))}.sh"
    path.write_text(f"""#!/bin/sh
s=$(date +%s%N)
{argv} '{command}' >/dev/null 2>&1
rc=$?
e=$(date +%s%N)
echo "$1 $rc $(( (e - s) / 1000 ))"
""")
    path.chmod(0o755)
    return path


def _parse_timed(out: str) -> tuple[list[float], int]:
    durations, ok = [], 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            durations.append(int(parts[2]) / 1e6)
            ok += parts[1] == "0"
    return durations, ok


def xargs_ssh(lab: SshLab, reps: int, kex: str | None, command: str = COMMAND) -> dict[str, Any]:
    script = timed_script(lab, kex, command)
    ports = "\n".join(map(str, lab.ports)) + "\n"
    walls, per_node, ok = [], [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        proc = subprocess.run(["xargs", "-P", str(lab.n), "-n", "1", "sh", str(script)], input=ports,
                              capture_output=True, text=True, timeout=300)
        walls.append(time.perf_counter() - t0)
        durations, good = _parse_timed(proc.stdout)
        per_node += durations
        ok += good
    return summary(walls, per_node, ok, lab.n * reps)


def sequential_ssh(lab: SshLab, kex: str | None) -> dict[str, Any]:
    script = timed_script(lab, kex, COMMAND)
    t0 = time.perf_counter()
    out = []
    for port in lab.ports:
        out.append(subprocess.run(["sh", str(script), str(port)], capture_output=True, text=True,
                                  timeout=120).stdout)
    wall = time.perf_counter() - t0
    durations, ok = _parse_timed("".join(out))
    return summary([wall], durations, ok, lab.n)


def ansible_available() -> str | None:
    from shutil import which

    return which("ansible")


def ansible_run(lab: SshLab, reps: int, warm: bool) -> dict[str, Any]:
    wd = lab.workdir
    inventory = wd / "inventory.ini"
    inventory.write_text("[nodes]\n" + "".join(
        f"node-{i:03d} ansible_host=127.0.0.1 ansible_port={port}\n" for i, port in enumerate(lab.ports)) +
        f"\n[nodes:vars]\nansible_user={lab.user}\nansible_ssh_private_key_file={lab.client_key}\n"
        f"ansible_python_interpreter=/usr/bin/python3\n")
    common = (f"-o UserKnownHostsFile={lab.known_hosts} -o GlobalKnownHostsFile=/dev/null "
              "-o StrictHostKeyChecking=yes -F /dev/null")
    control = (f"-o ControlMaster=auto -o ControlPersist=120s -o ControlPath={wd}/cp-%C" if warm
               else "-o ControlMaster=no")
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_SSH_ARGS": f"{control} {common}",
           "ANSIBLE_LOCAL_TEMP": str(wd / "ansible-tmp"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORKS": str(lab.n), "ANSIBLE_PIPELINING": "True"}
    argv = ["ansible", "all", "-i", str(inventory), "-m", "raw", "-a", COMMAND, "-f", str(lab.n), "-o"]
    if warm:  # open the master connections first: that is what ControlPersist buys
        subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    walls, ok = [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        walls.append(time.perf_counter() - t0)
        ok += proc.stdout.count("| CHANGED") + proc.stdout.count("| SUCCESS")
    if warm:
        for port in lab.ports:  # close the masters
            subprocess.run(["ssh", "-O", "exit", "-o", f"ControlPath={wd}/cp-%C", "-p", str(port),
                            f"{lab.user}@127.0.0.1"], capture_output=True, timeout=30)
    return summary(walls, [], ok, lab.n * reps)


# -- main -------------------------------------------------------------------------
def main() -> None:
    args = parse_args(NAME, __doc__, [("--nodes", {"type": int, "default": 50}),
                                      ("--reps", {"type": int, "default": 3})])
    if args.quick:
        args.nodes, args.reps = 3, 1
    notes: list[str] = []
    results: dict[str, Any] = {}
    if not sshd_available():
        notes.append("skipped: OpenSSH sshd/ssh/ssh-keygen not installed (apt-get install openssh-server)")
        print(notes[-1])
        write_result(args.out, NAME, args.quick, vars_of(args), results, notes=notes)
        return
    lab = SshLab(args.nodes).start()
    notes.append(f"login {lab.user} with /bin/sh and no rc files; host key ed25519, verified from known_hosts")
    try:
        results["envdeck_cold"] = None
        inproc = asyncio.run(envdeck_inprocess(lab, args.reps))
        results["envdeck_cold"], results["envdeck_warm"] = inproc["cold"], inproc["warm"]
        results["envdeck_restart_warm"] = inproc["restart_warm"]
        results["envdeck_run_cli"] = envdeck_cli(lab, args.reps)
        results["xargs_ssh_default_kex"] = xargs_ssh(lab, args.reps, None)
        results["xargs_ssh_curve25519"] = xargs_ssh(lab, args.reps, CURVE)
        results["xargs_ssh_restart"] = xargs_ssh(lab, args.reps, CURVE, f"{lab.script} restart app")
        results["sequential_ssh_curve25519"] = sequential_ssh(lab, CURVE)
        if ansible_available():
            results["ansible_cold"] = ansible_run(lab, max(1, args.reps - 1), warm=False)
            results["ansible_warm_controlpersist"] = ansible_run(lab, max(1, args.reps - 1), warm=True)
        else:
            notes.append("ansible skipped: not installed (pip install ansible-core, the `bench` extra)")
            print(notes[-1])
    finally:
        lab.stop()
    goals = evaluate(results)
    rows = [[k, v["wall_s"], v["node_p50_s"], v["node_p99_s"], f"{v['ok']}/{v['total']}",
             ratio(v["wall_s"], results["envdeck_warm"]["wall_s"])] for k, v in results.items() if v]
    print_table(f"`{COMMAND}` on {args.nodes} nodes (median of {args.reps} runs)",
                ["method", "wall s", "node p50 s", "node p99 s", "ok", "x envdeck warm"], rows)
    print_table("goals", ["goal", "value", "met"], [[k, v["value"], v["met"]] for k, v in goals.items()])
    write_result(args.out, NAME, args.quick, vars_of(args), results, goals, notes)


def vars_of(args) -> dict[str, Any]:
    return {"nodes": args.nodes, "reps": args.reps, "command": COMMAND}


def evaluate(results: dict[str, Any]) -> dict[str, Any]:
    def wall(key: str) -> float | None:
        return (results.get(key) or {}).get("wall_s")

    goals: dict[str, Any] = {}
    warm = wall("envdeck_warm")
    goals["warm <= 0.25 s"] = {"value": warm, "met": warm is not None and warm <= 0.25}
    cp = wall("ansible_warm_controlpersist")
    r = ratio(cp, warm)
    goals["ansible ControlPersist / envdeck warm >= 20"] = {"value": r, "met": r is not None and r >= 20}
    for key in ("xargs_ssh_curve25519", "xargs_ssh_default_kex"):
        r = ratio(wall("envdeck_cold"), wall(key))
        goals[f"envdeck cold / {key} <= 1.2"] = {"value": r, "met": r is not None and r <= 1.2}
    r = ratio(wall("envdeck_run_cli"), wall("xargs_ssh_curve25519"))
    goals["envdeck run (whole process) / xargs_ssh_curve25519 <= 1.2"] = {"value": r,
                                                                           "met": r is not None and r <= 1.2}
    return goals


if __name__ == "__main__":
    main()
