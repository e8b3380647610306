"""Start-up of the `envdeck` process, whole process each time (python start included):

- `envdeck --version` (wall, p50 of N runs) beside the floor `python -c pass`;
- import time (`python -X importtime`) of building the command line and of what the `run`
  verb imports before its first connection, with the modules that cost most (cumulative),
  and what it imports while its connections are made (the session and the store);
- `envdeck status` on a dead endpoint — a TCP server that accepts and never answers, or
  a port nobody listens on — for a Kubernetes, an AWS and an edge backend, with
  `defaults.timeout` T: the process must exit within T + 0.5 s; also each process's CPU,
  the connections the silent server saw, and what the silent endpoint itself costs
  (silent − refused command time: T and no more, whatever the load);
- `envdeck run` on N OpenSSH nodes (bench/sshd_lab.py) against `xargs -P N ssh` with the
  same key exchange (curve25519), runs interleaved so that both see the same load.

    python -m bench.startup [--quick] [--reps 9] [--timeout 2] [--nodes 50] [--run-reps 5]
"""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.report import parse_args, print_table, ratio, write_result

NAME = "startup"
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CLI = [sys.executable, "-m", "tui.cli"]
COMMAND = "cat /proc/loadavg"
CURVE = "curve25519-sha256"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for children and their descendants
    return usage.ru_utime + usage.ru_stime


def wall(argv: list[str], timeout: float = 300, cpu: list[float] | None = None,
         env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Run `argv`; its wall time (and its CPU seconds, user + system, appended to `cpu`)."""
    c0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env or ENV, cwd=ROOT, timeout=timeout)
    took = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(children_cpu() - c0)
    return took, proc


def version(reps: int) -> dict[str, Any]:
    walls, cpus, floor, floor_cpu = [], [], [], []
    for _ in range(reps):  # interleaved with the floor: both see the same load
        floor.append(wall([sys.executable, "-c", "pass"], cpu=floor_cpu)[0])
        took, proc = wall([*CLI, "--version"], cpu=cpus)
        if proc.returncode != 0 or not proc.stdout.startswith("envdeck "):
            raise RuntimeError(f"envdeck --version failed: {proc.stderr[-2000:]}")
        walls.append(took)
    return {"p50_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
            "cpu_p50_s": round(statistics.median(cpus), 3),
            "python_floor_p50_s": round(statistics.median(floor), 3),
            "python_floor_cpu_p50_s": round(statistics.median(floor_cpu), 3), "runs": reps}


def import_times(argv: list[str], top: int = 8) -> dict[str, Any]:
    """`python -X importtime`: the total, and the modules with the largest cumulative time."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, timeout=300)
    rows = []
    total = 0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        self_us, cumulative_us, raw_name = line[len("import time:"):].split("|")
        if self_us.strip().isdigit():
            rows.append((raw_name.strip(), int(self_us), int(cumulative_us)))
            if not raw_name[1:].startswith(" "):  # top level: one space after the bar, no indent
                total += int(cumulative_us)
    heaviest = sorted(rows, key=lambda r: -r[2])[:top]
    return {"total_ms": round(total / 1000, 1), "modules": len(rows),
            "heaviest": [{"module": n.strip(), "cumulative_ms": round(c / 1000, 1), "self_ms": round(s / 1000, 1)}
                         for n, s, c in heaviest]}


# What `envdeck run` imports before its nodes' connections start (tui/cli/fleet.py: the file
# read, its YAML composed, the policy decided on that data, tui/cli/fleet_early.py), and what
# it imports while they are being made (the config models, the edge backend, the session, the
# store, logging: off the critical path).
RUN_BEFORE_CONNECTING = ("tui.cli.fleet, tui.cli.fleet_early, tui.core.config_read, tui.core.durations, "
                         "tui.core.policy, tui.core.identity, tui.core.paths, backends.edge.early")
# ... as `run` imports them: the links (and asyncssh) through fleet_early, without asyncssh's X.509 part
RUN_BEFORE_CONNECTING_CODE = (f"import {RUN_BEFORE_CONNECTING.removesuffix(', backends.edge.early')}\n"
                              "tui.cli.fleet_early._early_links_module()")
RUN_WHILE_CONNECTING = ("tui.core.config, tui.cli.opening, backends.edge.backend, backends.registry, "
                        "tui.core.session, tui.core.logsetup")


def overlapped_imports() -> dict[str, Any]:
    """Import time of what `run` loads while its connections are made, in one process after
    what it loads before (the top-level rows after a marker: their cost on top of the first)."""
    marker = "-- connecting --"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           f"import sys\n{RUN_BEFORE_CONNECTING_CODE}\nprint({marker!r}, file=sys.stderr, "
                           f"flush=True)\nimport {RUN_WHILE_CONNECTING}"],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    after = proc.stderr.split(marker, 1)[-1]
    total = modules = 0
    for line in after.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        self_us, cumulative_us, raw_name = line[len("import time:"):].split("|")
        if self_us.strip().isdigit():
            modules += 1
            if not raw_name[1:].startswith(" "):
                total += int(cumulative_us)
    return {"total_ms": round(total / 1000, 1), "modules": modules, "heaviest": []}


# -- envdeck status on a dead endpoint -------------------------------------------------
class SilentServer:
    """Accepts connections and never answers (a hung API server, a black-holed node)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_config(wd: Path, backend: str, port: int, timeout_s: float) -> Path:
    import yaml

    if backend == "kubernetes":
        kubeconfig = wd / f"kubeconfig-{port}"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "dead",
            "clusters": [{"name": "dead", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "dead", "user": {"token": "bench"}}],
            "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}]}))
        section: dict[str, Any] = {"kubeconfig": str(kubeconfig), "namespace": "default"}
    elif backend == "aws":
        section = {"region": "us-east-1", "endpoint_url": f"http://127.0.0.1:{port}", "tags": {"env": "dead"}}
    else:
        known = wd / "known_hosts"
        known.write_text("")
        section = {"known_hosts": str(known), "connect_timeout": f"{timeout_s:g}s",  # the edge's own timeout
                   "nodes": [{"name": "dead-1", "host": "127.0.0.1", "port": port, "user": "nobody"}]}
    path = wd / f"envdeck-{backend}-{port}.yaml"
    path.write_text(yaml.safe_dump({"environments": {"dead": {"repair": "observe", backend: section}},
                                    "defaults": {"timeout": f"{timeout_s:g}s"}}))
    path.chmod(0o600)
    return path


# `envdeck status` with timestamps (epoch) on stderr: after python start and the verb's imports
# (`main`), and when main() returned (`returned`); the bench adds when the process was gone.
STATUS_TIMED = """
import json, sys, time
import tui.cli, tui.cli.commands
main, untimed = time.time(), tui.cli.main

def timed(argv=None):
    rc = untimed(argv)
    print(json.dumps({"main": main, "returned": time.time()}), file=sys.stderr, flush=True)
    return rc

tui.cli.main = timed
tui.cli.run()  # as the console script: main(), then the exit path
"""


def status_dead(timeout_s: float, backends: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    server = SilentServer()
    env_aws = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    try:
        with tempfile.TemporaryDirectory(prefix="envdeck-bench-startup-") as tmp:
            wd = Path(tmp)
            for backend in backends:
                for kind, port in (("silent", server.port), ("refused", closed_port())):
                    cfg = dead_config(wd, backend, port, timeout_s)
                    conns_before, cpu_before = len(server.conns), children_cpu()
                    t0 = time.time()
                    proc = subprocess.run([sys.executable, "-c", STATUS_TIMED, "status", "--config", str(cfg),
                                           "--state-dir", str(wd / "state"), "--json"], capture_output=True,
                                          text=True, cwd=ROOT, env={**ENV, **env_aws}, timeout=max(120, 20 * timeout_s))
                    took = time.time() - t0
                    cpu = children_cpu() - cpu_before
                    marks = json.loads(proc.stderr.strip().splitlines()[-1])
                    try:
                        reachable = [b["reachable"] for e in json.loads(proc.stdout)["environments"]
                                     for b in e["backends"].values()]
                    except (ValueError, KeyError):
                        reachable = None
                    out[f"{backend}_{kind}"] = {
                        "wall_s": round(took, 3), "exit": proc.returncode, "reachable": reachable,
                        "start_s": round(marks["main"] - t0, 3),  # python start + imports of the status verb
                        "command_s": round(marks["returned"] - marks["main"], 3),  # config, open, observe, close
                        "exit_s": round(t0 + took - marks["returned"], 3),  # main returned → process gone
                        "after_start_s": round(t0 + took - marks["main"], 3),
                        "cpu_s": round(cpu, 3),  # the whole process, python's start included
                        "connections": len(server.conns) - conns_before if kind == "silent" else None}
    finally:
        server.close()
    return out


def dead_endpoint_cost(dead: dict[str, Any]) -> dict[str, float]:
    """What the silent endpoint itself costs each backend: the command's time against it minus
    the same command against a closed port (the command's own work, whatever the load)."""
    backends = {key.rsplit("_", 1)[0] for key in dead}
    return {b: round(dead[f"{b}_silent"]["command_s"] - dead[f"{b}_refused"]["command_s"], 3)
            for b in sorted(backends) if f"{b}_silent" in dead and f"{b}_refused" in dead}


# -- envdeck run against xargs ssh -------------------------------------------------------
def run_vs_xargs(nodes: int, reps: int) -> dict[str, Any]:
    import yaml

    from bench.fleet import edge_config, xargs_ssh  # read-only use of the fleet bench's helpers
    from bench.sshd_lab import SshLab, sshd_available

    if not sshd_available():
        return {"skipped": "OpenSSH sshd/ssh/ssh-keygen not installed"}
    lab = SshLab(nodes).start()
    try:
        wd = lab.workdir / "startup"
        wd.mkdir()
        cfg = wd / "envdeck.yaml"
        cfg.write_text(yaml.safe_dump({"environments": {"bench": {"repair": "observe", "edge": edge_config(lab)}}}))
        cfg.chmod(0o600)
        # --yes: as a script runs it (from a terminal `run` would otherwise ask first)
        argv = [*CLI, "run", "--config", str(cfg), "--state-dir", str(wd / "state"), "--json", "--yes", "bench",
                "--", COMMAND]
        wall(argv)  # the state directory and its store are created once, as on a user's machine
        envdeck, xargs, envdeck_cpu, xargs_cpu, ok = [], [], [], [], 0
        for _ in range(reps):  # interleaved: both see the same load
            took, proc = wall(argv, cpu=envdeck_cpu)
            doc = json.loads(proc.stdout)
            ok += doc["summary"]["ok"]
            envdeck.append(took)
            c0 = children_cpu()
            xargs.append(xargs_ssh(lab, 1, CURVE)["wall_s"])
            xargs_cpu.append(children_cpu() - c0)  # xargs and its 50 ssh (the sshd side is not counted)
        ratios = [e / x for e, x in zip(envdeck, xargs, strict=True)]
        return {"nodes": nodes, "reps": reps, "envdeck_run_p50_s": round(statistics.median(envdeck), 3),
                "xargs_ssh_p50_s": round(statistics.median(xargs), 3), "ok": ok, "total": nodes * reps,
                "ratio_of_medians": ratio(statistics.median(envdeck), statistics.median(xargs)),
                "ratio_p50": round(statistics.median(ratios), 3), "ratio_best": round(min(ratios), 3),
                "envdeck_cpu_p50_s": round(statistics.median(envdeck_cpu), 3),
                "xargs_cpu_p50_s": round(statistics.median(xargs_cpu), 3),
                "envdeck_walls_s": [round(w, 3) for w in envdeck], "xargs_walls_s": [round(w, 3) for w in xargs]}
    finally:
        lab.stop()


def compile_bytecode() -> int:
    """Bring envdeck's bytecode up to date first, as an installed package has it (pip compiles it at
    install time). In a checkout a module changed since its .pyc was written is compiled again by
    every process that imports it when the .pyc cannot be rewritten (PYTHONDONTWRITEBYTECODE=1, set
    on the shared machines): each measured process would pay for that compile. Returns how many
    packages compiled cleanly."""
    import compileall

    return sum(bool(compileall.compile_dir(ROOT / package, quiet=2, workers=1)) for package in ("tui", "backends"))


def main() -> None:
    args = parse_args(NAME, __doc__, [("--reps", {"type": int, "default": 9}),
                                      ("--timeout", {"type": float, "default": 2.0,
                                                     "help": "defaults.timeout of the dead-endpoint configs, s"}),
                                      ("--nodes", {"type": int, "default": 50}),
                                      ("--run-reps", {"type": int, "default": 5}),
                                      ("--skip-run", {"action": "store_true", "help": "no sshd lab"})])
    backends = ["kubernetes", "aws", "edge"]
    compile_bytecode()
    if args.quick:
        args.reps, args.timeout, args.nodes, args.run_reps, backends = 2, 1.0, 2, 1, ["edge"]
    results: dict[str, Any] = {"version": version(args.reps),
                               "imports_parser": import_times(["-m", "tui.cli", "--version"]),
                               "imports_run": import_times(["-c", RUN_BEFORE_CONNECTING_CODE]),
                               "imports_run_overlapped": overlapped_imports(),
                               "status_dead": status_dead(args.timeout, backends)}
    results["dead_endpoint_cost_s"] = dead_endpoint_cost(results["status_dead"])
    if not args.skip_run:
        results["run_vs_xargs"] = run_vs_xargs(args.nodes, args.run_reps)
    v = results["version"]
    print_table("envdeck --version (whole process)", ["p50 s", "min s", "CPU p50 s", "python -c pass p50 s",
                                                       "its CPU p50 s"],
                [[v["p50_s"], v["min_s"], v["cpu_p50_s"], v["python_floor_p50_s"], v["python_floor_cpu_p50_s"]]])
    for key in ("imports_parser", "imports_run"):
        print_table(f"{key}: {results[key]['total_ms']} ms in {results[key]['modules']} modules", ["module", "cumulative ms", "self ms"],
                    [[m["module"], m["cumulative_ms"], m["self_ms"]] for m in results[key]["heaviest"]])
    lap = results["imports_run_overlapped"]
    print(f"run imports while its connections are made (session, store, logging): {lap['total_ms']} ms "
          f"in {lap['modules']} modules more")
    print_table(f"envdeck status on a dead endpoint, defaults.timeout {args.timeout:g} s",
                ["backend/endpoint", "wall s", "start s", "command s", "exit s", "after start s", "CPU s",
                 "connections", "exit code", "reachable"],
                [[k, r["wall_s"], r["start_s"], r["command_s"], r["exit_s"], r["after_start_s"], r["cpu_s"],
                  "" if r["connections"] is None else r["connections"], r["exit"], r["reachable"]]
                 for k, r in results["status_dead"].items()])
    print_table("what the silent endpoint costs (silent − refused command)", ["backend", "s"],
                [[b, c] for b, c in results["dead_endpoint_cost_s"].items()])
    run = results.get("run_vs_xargs") or {}
    if "ratio_p50" in run:
        print_table(f"envdeck run vs xargs -P {run['nodes']} ssh ({CURVE}), {run['reps']} interleaved runs",
                    ["envdeck p50 s", "xargs p50 s", "ratio of medians", "ratio p50", "best", "envdeck CPU s",
                     "xargs+ssh CPU s", "ok"],
                    [[run["envdeck_run_p50_s"], run["xargs_ssh_p50_s"], run["ratio_of_medians"], run["ratio_p50"],
                      run["ratio_best"], run["envdeck_cpu_p50_s"], run["xargs_cpu_p50_s"], f"{run['ok']}/{run['total']}"]])
    limit = args.timeout + 0.5
    slowest = max(r["after_start_s"] for r in results["status_dead"].values())
    goals = {"envdeck --version < 150 ms": {"value": v["p50_s"], "met": v["p50_s"] < 0.15},
             f"status on a dead endpoint, after start-up, <= timeout + 0.5 s ({limit:g} s)": {
                 "value": slowest, "met": slowest <= limit}}
    costliest = max(results["dead_endpoint_cost_s"].values(), default=0.0)
    goals[f"the dead endpoint itself (silent − refused) <= timeout + 0.5 s ({limit:g} s)"] = {
        "value": costliest, "met": costliest <= limit}
    if "ratio_p50" in run:
        goals["envdeck run <= 1.1x xargs ssh"] = {"value": run["ratio_p50"], "met": run["ratio_p50"] <= 1.1}
    print_table("goals", ["goal", "value", "met"], [[k, g["value"], g["met"]] for k, g in goals.items()])
    write_result(args.out, NAME, args.quick,
                 {"reps": args.reps, "timeout_s": args.timeout, "nodes": args.nodes, "run_reps": args.run_reps,
                  "backends": backends}, results, goals,
                 ["whole processes, python start-up included; the machine is shared (load average in `machine`): "
                  "under load the CPU seconds are the steadier figures",
                  "status: start = python start + the verb's imports; after start = config, session, observe, "
                  "close and process exit"])


if __name__ == "__main__":
    main()
