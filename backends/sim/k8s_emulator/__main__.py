"""Run the emulator by hand or for the benchmarks.

    python -m backends.sim.k8s_emulator --port 8001 --namespace staging --seed demo \
        --kubeconfig /tmp/emulator.kubeconfig
    KUBECONFIG=/tmp/emulator.kubeconfig kubectl get pods
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .demo_seed import seed_demo
from .emulator import Emulator


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m backends.sim.k8s_emulator",
                                description="A stateful Kubernetes API emulator (for tests, benchmarks, the demo).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one, printed on start)")
    p.add_argument("--namespace", action="append", default=None,
                   help="namespace to create (repeatable; default: staging and prod with --seed demo)")
    p.add_argument("--seed", choices=("demo", "none"), default="none", help="initial content")
    p.add_argument("--scale", type=int, default=1, help="demo size multiplier")
    p.add_argument("--pods", type=int, default=0, help="also create this many standalone pods (benchmarks)")
    p.add_argument("--pods-in-every-namespace", action="store_true",
                   help="create the --pods pods in every --namespace, not only the first (benchmarks)")
    p.add_argument("--crds", type=int, default=0,
                   help="also create this many namespaced CustomResourceDefinitions, one object each (benchmarks)")
    p.add_argument("--kubeconfig", help="write a kubeconfig for the server here")
    p.add_argument("--log-interval", type=float, default=1.0, help="demo log line interval, seconds (0: off)")
    return p


async def _serve(args: argparse.Namespace) -> None:
    emu = Emulator(seed=42)
    namespaces = tuple(args.namespace or (("staging", "prod") if args.seed == "demo" else ("default",)))
    for ns in namespaces:
        emu.add_namespace(ns)
    url = await emu.start(args.host, args.port)
    if args.seed == "demo":
        seed_demo(emu, namespaces=namespaces, scale=args.scale)
        if args.log_interval > 0:
            emu.start_log_generators(interval_s=args.log_interval)
    if args.pods:
        for ns in namespaces if args.pods_in_every_namespace else namespaces[:1]:
            emu.bulk_create_pods(ns, args.pods)
    for i in range(args.crds):
        group, kind = f"g{i}.bench.example.com", f"Thing{i}"
        emu.create("apiextensions.k8s.io/customresourcedefinitions", {
            "metadata": {"name": f"things.{group}"},
            "spec": {"group": group, "scope": "Namespaced", "names": {"plural": "things", "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True}]}})
        emu.create(f"{group}/things", {"apiVersion": f"{group}/v1", "kind": kind,
                                       "metadata": {"name": "one", "namespace": namespaces[0]}})
    if args.kubeconfig:
        emu.write_kubeconfig(args.kubeconfig, namespace=namespaces[0])
    print(f"emulator listening on {url}" + (f" (kubeconfig: {args.kubeconfig})" if args.kubeconfig else ""),
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await emu.stop()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(_serve(_parser().parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
