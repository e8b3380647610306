"""Reconciler and store cost: one diff+apply pass over 10,000 resources, audit
write throughput with the production durability settings (WAL +
synchronous=FULL, one commit per row), timeline inserts.

    python -m bench.reconciler_store [--quick] [--resources 10000] [--audits 300]
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from bench.report import parse_args, percentile, print_table, write_result
from bench.synthetic_backend import SyntheticWorld, synthetic_factory
from tui.core.config import parse_config
from tui.core.model import now_utc
from tui.core.policy import Policy
from tui.core.reconciler import Reconciler
from tui.core.store import Store

NAME = "reconciler_store"
CONFIG = """
environments:
  bench:
    repair: observe
    aws: {region: us-east-1, tags: {env: bench}}
defaults: {interval: 1h}
"""


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict[str, float]:
    wall, cpu = _clock()
    return {"wall_ms": round((wall - start[0]) * 1000, 1), "cpu_ms": round((cpu - start[1]) * 1000, 1)}


async def bench_passes(state_dir: Path, n: int, touched: int) -> dict:
    cfg = parse_config(CONFIG)
    store = await Store.open(state_dir)
    world = SyntheticWorld(n)
    rec = Reconciler(cfg, store, Policy(cfg, "bench"), backends_factory=synthetic_factory(world),
                     rng=random.Random(1))
    backend = rec.backends["bench"]["aws"]
    changes = []
    rec.subscribe(changes.append)
    try:
        obs = await backend.observe()
        start = _clock()
        drifts = backend.diff(obs)
        diff_only = _since(start)

        start = _clock()
        assert await rec.pass_once("bench", "aws")
        first = _since(start)  # every resource new: 10k snapshot rows written

        start = _clock()
        assert await rec.pass_once("bench", "aws")
        unchanged = _since(start)  # nothing changed: identity comparison only

        world.touch(touched)
        start = _clock()
        assert await rec.pass_once("bench", "aws")
        steady = _since(start)  # 1% changed
        env = rec.envs["bench"]
        assert len(env.resources["aws"]) == n
        return {"diff_only": diff_only, "first_pass": first, "unchanged_pass": unchanged,
                "steady_pass": steady, "drifts": len(drifts), "touched": touched,
                "published_changes": len(changes)}
    finally:
        await rec.stop()
        await store.close()


async def bench_audit(state_dir: Path, count: int) -> dict:
    store = await Store.open(state_dir)
    try:
        assert await store.journal_mode() == "wal"
        per_pair = []
        start = time.perf_counter()
        for i in range(count):
            t0 = time.perf_counter()
            audit_id = await store.audit_begin(user="bench", env="bench", target=f"aws/app/app-{i:05d}",
                                               action="scale", params={"replicas": 3}, origin="cli")
            await store.audit_finish(audit_id, "succeeded", "scaled to 3")
            per_pair.append(time.perf_counter() - t0)
        wall = time.perf_counter() - start
        return {"pairs": count, "wall_s": round(wall, 3), "pairs_per_s": round(count / wall, 1),
                "pair_p50_ms": round(percentile(per_pair, 50) * 1000, 2),
                "pair_p99_ms": round(percentile(per_pair, 99) * 1000, 2)}
    finally:
        await store.close()


async def bench_timeline(state_dir: Path, singles: int, batches: int, batch_size: int) -> dict:
    store = await Store.open(state_dir)
    try:
        at = now_utc()
        start = time.perf_counter()
        for i in range(singles):
            await store.add_timeline("bench", [(at, f"aws/app/app-{i:05d}", "event", "info", "Scaled", "x", 1)])
        single_wall = time.perf_counter() - start
        start = time.perf_counter()
        for b in range(batches):
            await store.add_timeline("bench", [(at, f"aws/app/app-{i:05d}", "event", "info", "Scaled",
                                                f"batch {b}", 1) for i in range(batch_size)])
        batch_wall = time.perf_counter() - start
        return {"single_rows": singles, "single_rows_per_s": round(singles / single_wall, 1),
                "batched_rows": batches * batch_size, "batch_size": batch_size,
                "batched_rows_per_s": round(batches * batch_size / batch_wall, 1)}
    finally:
        await store.close()


async def main_async(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-") as tmp:
        passes = await bench_passes(Path(tmp) / "passes", args.resources, max(1, args.resources // 100))
        audit = await bench_audit(Path(tmp) / "audit", args.audits)
        timeline = await bench_timeline(Path(tmp) / "timeline", args.audits, max(1, args.audits // 10), 100)
    return {"passes": passes, "audit": audit, "timeline": timeline}


def main() -> None:
    args = parse_args(NAME, __doc__, [
        ("--resources", {"type": int, "default": 10_000}),
        ("--audits", {"type": int, "default": 300}),
    ])
    if args.quick:
        args.resources, args.audits = 200, 10
    results = asyncio.run(main_async(args))
    p = results["passes"]
    print_table(f"reconciler pass over {args.resources} resources ({p['drifts']} drifted)",
                ["step", "wall ms", "cpu ms"],
                [["backend.diff() only", p["diff_only"]["wall_ms"], p["diff_only"]["cpu_ms"]],
                 ["first pass (all new, snapshot written)", p["first_pass"]["wall_ms"], p["first_pass"]["cpu_ms"]],
                 ["pass, nothing changed", p["unchanged_pass"]["wall_ms"], p["unchanged_pass"]["cpu_ms"]],
                 [f"pass, {p['touched']} changed", p["steady_pass"]["wall_ms"], p["steady_pass"]["cpu_ms"]]])
    a, t = results["audit"], results["timeline"]
    print_table("store writes (WAL, synchronous=FULL, ext4)", ["what", "count", "per second", "p50 ms", "p99 ms"],
                [["audit_begin+audit_finish pairs", a["pairs"], a["pairs_per_s"], a["pair_p50_ms"], a["pair_p99_ms"]],
                 ["timeline rows, one per commit", t["single_rows"], t["single_rows_per_s"], None, None],
                 [f"timeline rows, {t['batch_size']} per commit", t["batched_rows"], t["batched_rows_per_s"],
                  None, None]])
    write_result(args.out, NAME, args.quick, {"resources": args.resources, "audits": args.audits}, results)


if __name__ == "__main__":
    main()
