"""How soon a frozen Kubernetes API server is noticed by a watching KubernetesBackend (default
settings), and what the liveness probe costs: `python -m bench.k8s_frozen_api [on|off|cost]`.

- on / off: the emulator (in-process) is frozen 12 s into a steady watch of a namespace with one
  Deployment; prints how long after the freeze the answer was reported overdue and watch() ended
  unreachable, with the probe (`on`) or without it (`off`: `liveness_interval_s` out of reach);
- cost: client CPU time (`time.process_time`) of 500 probes against the emulator in its own process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time

from backends.kubernetes import KubernetesBackend
from backends.kubernetes.api import KubeApi
from backends.kubernetes.connection import load_connection
from backends.kubernetes.liveness import ApiLiveness
from backends.sim.k8s_emulator import Emulator
from tui.core.config import Defaults, KubernetesConfig


async def noticed(probe: bool) -> None:
    emu = Emulator()
    await emu.start("127.0.0.1", 0)
    emu.add_namespace("staging")
    emu.create_deployment("staging", "web", replicas=1)
    kubeconfig = emu.write_kubeconfig(f"{tempfile.mkdtemp()}/kubeconfig", namespace="staging", context="emulator")
    backend = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(kubeconfig), context="emulator",
                                                      namespace="staging"), Defaults())
    if not probe:
        backend.liveness_interval_s = 1e9
    reported: list[float] = []
    backend.report_answer_due = lambda due: reported.append(time.monotonic()) if due is not None else None
    stream = backend.watch()
    await anext(stream)
    await asyncio.sleep(12)  # a steady state: watches and probes running
    frozen = time.monotonic()
    emu.freeze()
    try:
        while True:
            await anext(stream)
    except Exception as exc:  # noqa: BLE001 - what ended the watch is the result
        ended = time.monotonic()
        first = f"{reported[0] - frozen:.1f}s" if reported else "never"
        print(f"probe {'on' if probe else 'off'}: overdue reported after {first}, "
              f"unreachable after {ended - frozen:.1f}s: {exc}")
    emu.thaw()
    await backend.close()
    await emu.stop()


async def cost(n: int = 500) -> None:
    directory = tempfile.mkdtemp()
    kubeconfig = f"{directory}/kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "backends.sim.k8s_emulator", "--namespace", "staging",
                             "--kubeconfig", kubeconfig], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(kubeconfig) and os.path.getsize(kubeconfig):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        api = KubeApi(load_connection(KubernetesConfig(kubeconfig=kubeconfig, namespace="staging")), 10.0)
        liveness = ApiLiveness(api)
        for _ in range(20):  # the connection opened, the code warm
            assert await liveness._probe()
        started = time.process_time()
        for _ in range(n):
            assert await liveness._probe()
        cpu = time.process_time() - started
        print(f"{n} probes: client CPU {cpu * 1000:.0f} ms, {cpu / n * 1000:.2f} ms a probe")
        await api.close()
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "on"
    asyncio.run(cost() if mode == "cost" else noticed(mode == "on"))
