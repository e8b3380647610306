"""What one retention batch costs (tui/core/retention.py): a SQLite store with N metric
samples (half older than the retention) and M timeline rows (half older), pruned by
`Retention.prune_round`; per batch: wall and CPU time, the longest store wait a UI read sees.

    python -m bench.retention_batches [--quick] [--samples 500000] [--timeline 20000]
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.report import parse_args, write_result

NAME = "retention_batches"


async def run(samples: int, timeline: int) -> dict[str, Any]:
    from tui.core import retention
    from tui.core.model import TimelineEntry, now_utc
    from tui.core.store import Store

    with tempfile.TemporaryDirectory(prefix="envdeck-bench-retention-") as state:
        store = await Store.open(Path(state))
        now = now_utc()
        for half, at in ((0, now - timedelta(hours=30)), (1, now - timedelta(hours=1))):
            rows = [(f"kubernetes/Pod/p-{i % 5000:05d}", "cpu", random.random()) for i in range(samples // 2)]
            for i in range(0, len(rows), 50_000):
                await store.add_samples("e", rows[i:i + 50_000], at + timedelta(seconds=half))
            old = now - timedelta(days=40 if half == 0 else 1)
            await store.add_timeline("e", [TimelineEntry(old, "kubernetes/Pod/p", "event", "info", "Pulled", "x")]
                                     * (timeline // 2))
        batches: list[tuple[float, float]] = []
        real = store.prune_samples_batch

        async def timed(*args, **kwargs):
            w, c = time.perf_counter(), time.process_time()
            n = await real(*args, **kwargs)
            batches.append((time.perf_counter() - w, time.process_time() - c))
            return n

        store.prune_samples_batch = timed  # type: ignore[method-assign]

        lease = await store.acquire_lease("e", "bench", 600.0)
        assert lease is not None

        class Lead:  # the one process of a single user: it leads its environment (each batch fenced)
            member = False

            def leads(self, env: str) -> bool:
                return True

            def epoch(self, env: str) -> int | None:
                return lease.epoch

        class Rec:
            envs = {"e": None}
            leadership = Lead()
            clock = staticmethod(now_utc)

        Rec.store = store  # type: ignore[attr-defined]
        r = retention.Retention(Rec(), type("C", (), {"samples": 86400.0, "timeline": 30 * 86400.0,
                                                        "gone_samples": 600.0})())
        w0, c0 = time.perf_counter(), time.process_time()
        counts = await r.prune_round(pause_s=0)
        total_wall, total_cpu = time.perf_counter() - w0, time.process_time() - c0
        left = (await store._db.fetchone("SELECT count(*) AS n FROM metric_samples"))["n"]
        await store.close()
    walls = sorted(b[0] for b in batches)
    return {"deleted_samples": counts.samples, "deleted_timeline": counts.timeline, "samples_left": left,
            "batches": len(batches), "batch_wall_ms_median": round(walls[len(walls) // 2] * 1000, 1),
            "batch_wall_ms_max": round(walls[-1] * 1000, 1),
            "batch_cpu_ms_mean": round(sum(b[1] for b in batches) / len(batches) * 1000, 1),
            "round_wall_s": round(total_wall, 2), "round_cpu_s": round(total_cpu, 2)}


def main() -> None:
    args = parse_args(NAME, __doc__.splitlines()[0], [("--samples", {"type": int, "default": 500_000}),
                                                      ("--timeline", {"type": int, "default": 20_000})])
    samples, timeline = (20_000, 2_000) if args.quick else (args.samples, args.timeline)
    results = asyncio.run(run(samples, timeline))
    for k, v in results.items():
        print(f"{k:>24}: {v}")
    write_result(args.out, NAME, args.quick, {"samples": samples, "timeline": timeline}, results)


if __name__ == "__main__":
    main()
