"""Run the emulator by hand or for the benchmarks.

    python -m backends.sim.k8s_emulator --port 8001 --namespace staging --seed demo \
        --kubeconfig /tmp/emulator.kubeconfig
    KUBECONFIG=/tmp/emulator.kubeconfig kubectl get pods
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
import time

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
    p.add_argument("--log-gc-pauses", type=float, default=0.0, metavar="MS",
                   help="write each cyclic-GC pass of at least MS milliseconds to stderr (benchmarks: "
                        "'gc pause <unix time> gen<N> <wall ms> <CPU ms>'; 0: off)")
    p.add_argument("--gc-freeze-survivors", action="store_true",
                   help="after each full collection, freeze what survived it (benchmarks: a full pass then walks "
                        "only what came since, not the whole watch history; cyclic garbage of objects alive at "
                        "that moment is never collected)")
    return p


def _freeze_survivors() -> None:
    """After each full collection, keep what survived it out of the next ones (gc.freeze): at 1,000
    changes/s the watch history (10,000 events per type, each a new object and the one it replaced)
    grows by tens of objects per change, and every full pass walked all of it (0.35-2.1 s each at a
    load of 14-18 in a benchmark's update phase), a stall of every watch growing with the history.
    At the end of a full pass every survivor sits in the oldest generation and the young ones are
    empty: the freeze takes exactly the survivors. The stored objects are trees without cycles, so
    those replaced later are still freed by their reference counts."""

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(on_gc)


def _log_gc_pauses(min_ms: float) -> None:
    """The emulator's own stalls, for a benchmark to tell them from its client's."""
    started = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = time.perf_counter(), time.process_time()
            return
        took_ms = (time.perf_counter() - started[0]) * 1000
        if took_ms >= min_ms:  # wall and CPU: on a loaded machine a pass also waits for a core
            cpu_ms = (time.process_time() - started[1]) * 1000
            print(f"gc pause {time.time():.3f} gen{info['generation']} {took_ms:.1f} {cpu_ms:.1f}",
                  file=sys.stderr, flush=True)

    gc.callbacks.append(on_gc)


def _seed(emu: Emulator, args: argparse.Namespace, namespaces: tuple[str, ...]) -> None:
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


async def _serve(args: argparse.Namespace) -> None:
    if args.log_gc_pauses > 0:
        _log_gc_pauses(args.log_gc_pauses)
    if args.gc_freeze_survivors:
        _freeze_survivors()
    emu = Emulator(seed=42)
    namespaces = tuple(args.namespace or (("staging", "prod") if args.seed == "demo" else ("default",)))
    for ns in namespaces:
        emu.add_namespace(ns)
    url = await emu.start(args.host, args.port)
    # The seeded objects (100,000 pods are ~3 million dicts and lists) live as long as the server.
    # Left to the cyclic collector, every full collection walks them all: 16 of them while seeding
    # 5 x 20,000 pods (most of the start-up), and a later one stalls every watch for seconds (at a
    # load of 10 the last took 14 s). So no collection while seeding, then the seed is frozen out
    # of the collector's sight (gc.freeze): a full collection walks only what was made after it.
    gc.disable()
    try:
        _seed(emu, args, namespaces)
    finally:
        gc.freeze()
        gc.enable()
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
