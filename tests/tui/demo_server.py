"""The demo's servers in a process of their own, for the pilot tests against them
(moto keeps process-wide state: the test process must not share it).

Prints the path of the generated config, then obeys lines on stdin:
`stop-kubernetes` stops the Kubernetes API emulator (listener, watches and log
streams); `pod-start-delay S` keeps new pods ContainerCreating for S seconds (a create
that takes its time, as real pods do); EOF stops everything."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from backends.sim.demo_world import DemoWorld
from tui.cli.demo import write_config


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="envdeck-demo-test-"))
    with DemoWorld(workdir / "servers", log_interval_s=0.5) as world:
        print(write_config(world, workdir), flush=True)
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["stop-kubernetes"]:
                world.call(world.emulator.stop)
                print("stopped", flush=True)
            elif words[:1] == ["pod-start-delay"] and len(words) == 2:
                world.emulator.pod_start_delay_s = float(words[1])
                print("delayed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
