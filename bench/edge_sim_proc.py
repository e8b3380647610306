"""The edge simulator (backends/sim/edge) serving N nodes in a process of its own, for
bench/edge_scale.py (the warm command and the TUI phase against simulated nodes): its nodes
answer every command in Python and never fork, so the client is measured without the local
sshd nodes' process storm. Several of these processes can share a fleet: START names the
first node (sim-START .. sim-START+N-1); host and client keys derive from the seed and the
node name, so the shards' known_hosts lines can be concatenated.

    python -m bench.edge_sim_proc N CONFIG_OUT.json [START]    # serves until stdin closes
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

from backends.sim.edge.simulator import EdgeSimulator


async def main(n: int, out: str, start: int = 0) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sim = EdgeSimulator([f"sim-{i:04d}" for i in range(start, start + n)], seed=19, scenario="clean", services=("app",))
    await sim.start()
    try:
        with open(out, "w") as fh:
            json.dump(sim.edge_config_dict(), fh)
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the driver closes our stdin
    finally:
        await sim.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
