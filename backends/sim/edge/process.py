"""Simulated edge nodes in a process of their own (the servers of `envdeck demo`).

    python -m backends.sim.edge.process SPEC.json [PARENT_PID]   # serves until its stdin ends

SPEC.json is a list of simulators: `{"key", "nodes", "seed", "scenario", "services", "workdir",
"stopped"}` (`stopped`: services that start stopped on every node, e.g. the preview pool's
nginx). The process prints one JSON line, `{key: edge_config_dict}`, once every node listens,
then serves until its stdin ends (the process that started it ended, or stops it).

Why: in the demo's servers' process the nodes shared one GIL with moto and the Kubernetes
emulator, so a fleet command or an observe pass over hundreds of nodes (an SSH handshake and a
probe each) made the emulator answer kubectl in seconds, and moto's work made the nodes miss
their SSH deadline. `EdgeProcess` is the parent's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from backends.sim.child import end_child

STOP_S = 10.0


def _die_with_parent(parent: int) -> None:
    """Killed with the process that started us (the demo kills its servers' process at once on a
    signal while starting): left running, we would finish starting and write keys into the demo's
    directory after it was removed. Linux's PR_SET_PDEATHSIG; elsewhere stdin's end stops us."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _raise_open_files_limit() -> None:
    """Every node listens on a socket of its own and each connection is another: hundreds of them."""
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _serve(specs: list[dict[str, Any]]) -> None:
    from backends.sim.edge.simulator import EdgeSimulator

    sims: dict[str, EdgeSimulator] = {}
    for spec in specs:
        sim = EdgeSimulator(nodes=spec["nodes"], seed=spec["seed"], scenario=spec["scenario"],
                            services=tuple(spec["services"]), workdir=Path(spec["workdir"]))
        for node in sim.nodes.values():
            for service in spec.get("stopped", ()):
                node.services[service] = False
        await sim.start()
        sims[spec["key"]] = sim
    sys.stdout.write(json.dumps({key: sim.edge_config_dict() for key, sim in sims.items()}) + "\n")
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # the terminal's interrupts and hang-ups are the demo's to handle (same process group)
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    if len(args) > 1:
        _die_with_parent(int(args[1]))
    _raise_open_files_limit()
    specs = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    asyncio.new_event_loop().run_until_complete(_serve(specs))
    # stdin ended: the nodes keep nothing worth a goodbye (state in memory, files in the demo's
    # directory): end at once rather than closing hundreds of servers one by one
    sys.stderr.flush()
    os._exit(0)


class EdgeProcess:
    """One `python -m backends.sim.edge.process` (the parent's side): `start`, `ready`, `stop`."""

    def __init__(self, specs: list[dict[str, Any]], spec_path: Path, log_path: Path) -> None:
        self.specs = specs
        self.spec_path = spec_path
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None

    @property
    def nodes(self) -> int:
        return sum(len(spec["nodes"]) for spec in self.specs)

    def start(self) -> EdgeProcess:
        self.spec_path.write_text(json.dumps(self.specs), encoding="utf-8")
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "backends.sim.edge.process", str(self.spec_path),
                                          str(os.getpid())],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                         close_fds=True)
        return self

    def ready(self, timeout_s: float) -> dict[str, dict[str, Any]]:
        """Each simulator's `edge:` config block, once every node listens; raises RuntimeError
        (naming the log) when the process ended or was not ready within `timeout_s`."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if sel.select(timeout=left):
                    line = self.proc.stdout.readline()
                    if line:
                        return json.loads(line)
                    break
        code = self.proc.poll()
        how = f"exit {code}" if code is not None else f"not ready within {timeout_s:.0f}s"
        tail = " | ".join(self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:])
        raise RuntimeError(f"{self.nodes} simulated nodes ({how}){': ' + tail if tail else ''}")

    def stop(self, timeout_s: float = STOP_S) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        end_child(proc, timeout_s)


if __name__ == "__main__":
    sys.exit(main())
