"""The log source of the logs benchmark, in its own process: the project's
Kubernetes emulator with one pod, whose log gets lines at a fixed rate.

Commands on stdin, one per line, answers on stdout:
    followers N    -> "ok" once N clients follow the pod's log
    produce RATE SECONDS -> "produced COUNT ELAPSED" (lines `seq=00000000 ...`, numbered from 0)
    quit
Run: python -m bench.log_source NAMESPACE  (prints "ready URL KUBECONFIG POD" first)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from backends.sim.k8s_emulator import Emulator

PAYLOAD = "GET /api/v1/items?page=3 200 12ms user-agent=bench " + "x" * 30  # ~100 bytes a line
POD = "logsrc-00000"


async def produce(emu: Emulator, pod: dict, container: str, rate: float, seconds: float) -> tuple[int, float]:
    total = int(rate * seconds)
    sent = 0
    start = time.perf_counter()
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate))
        for seq in range(sent, due):
            emu.logs.append(pod, container, f"seq={seq:08d} {PAYLOAD}")
        sent = max(sent, due)
        await asyncio.sleep(0.005)
    return sent, time.perf_counter() - start


async def main(namespace: str) -> None:
    emu = Emulator(seed=1)
    emu.add_namespace(namespace)
    url = await emu.start("127.0.0.1", 0)
    emu.bulk_create_pods(namespace, 1, prefix="logsrc")
    pod = emu.get("pods", namespace, POD)
    container = pod["spec"]["containers"][0]["name"]
    kubeconfig = emu.write_kubeconfig(Path(tempfile.mkdtemp(prefix="envdeck-bench-logs-")) / "kubeconfig",
                                      namespace=namespace)
    print(f"ready {url} {kubeconfig} {POD}", flush=True)
    loop = asyncio.get_running_loop()
    key = (namespace, POD, container)
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "followers":
                while len(emu.logs.followers.get(key, ())) < int(line[1]):
                    await asyncio.sleep(0.01)
                print("ok", flush=True)
            elif line[0] == "produce":
                count, elapsed = await produce(emu, pod, container, float(line[1]), float(line[2]))
                # wait until the server wrote everything it queued to its followers
                while any(q.qsize() for q in emu.logs.followers.get(key, ())):
                    await asyncio.sleep(0.01)
                print(f"produced {count} {elapsed:.3f}", flush=True)
    finally:
        await emu.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
