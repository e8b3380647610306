"""The Timeline's read and show at fleet scale, in CPU time (the machine is shared): a SQLite store
with PASSES passes of NODES flapping edge nodes (a node and its 2 services' HealthChanged rows each
pass) and AUDIT fleet-run audit rows; then

- the read of the Timeline's first visit (`store.timeline` of ENTRIES_READ rows, 200 audit rows, the
  instance scope), and of 300 rows as before session 11, each the median of REPEAT;
- the folding of the rows read (tui/core/timeline_fold.py);
- `TimelineTable.show` of those rows in a bare Textual app, folded and unfolded (fold off), the
  median of REPEAT, alternating (A/B back to back).

    python -m bench.timeline_read [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.report import parse_args, print_table, write_result

NAME = "timeline_read"
REPEAT = 9


async def _fill(state: Path, nodes: int, passes: int, audit: int) -> None:
    from tui.core.model import TimelineEntry
    from tui.core.store import Store

    store = await Store.open(state)
    t0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    try:
        for p in range(passes):
            at = t0 + timedelta(seconds=10 * p)
            change = "Unknown → Healthy" if p % 2 else "Healthy → Unknown"
            rows = []
            for i in range(nodes):
                rows.append(TimelineEntry(at, f"edge/node/gw-{i:02d}", "event", "info", "HealthChanged", change))
                for service in ("nginx", "db"):
                    rows.append(TimelineEntry(at, f"edge/service/gw-{i:02d}:{service}", "event", "info",
                                              "HealthChanged", change))
            await store.add_timeline("staging", rows)
        for i in range(audit):
            await store.audit_record(user="ann", env="staging", target=f"edge/node/gw-{i % nodes:02d}", action="run",
                                     params={"command": "uptime"}, origin="cli", result="succeeded", message="ok")
    finally:
        await store.close()


async def _reads(state: Path) -> tuple[dict[str, float], list, list]:
    from tui.core import audit_scope
    from tui.core.store import Store
    from tui.core.timeline_fold import fold_health
    from tui.widgets.record_views import ENTRIES_READ, MESSAGE_SHOWN

    store = await Store.open(state)
    out: dict[str, list[float]] = {"read_300_ms": [], f"read_{ENTRIES_READ}_ms": [], "fold_ms": []}
    try:
        for _ in range(REPEAT):
            for limit in (300, ENTRIES_READ):
                c0 = time.process_time()
                entries = await store.timeline("staging", limit=limit)
                audit = await store.audit_entries("staging", limit=200, message_max=MESSAGE_SHOWN)
                entries, audit = await audit_scope.of_current_instance(store, "staging", ["staging"], entries, audit)
                out[f"read_{limit}_ms"].append((time.process_time() - c0) * 1000)
            c0 = time.process_time()
            fold_health(entries)
            out["fold_ms"].append((time.process_time() - c0) * 1000)
    finally:
        await store.close()
    return {k: statistics.median(v) for k, v in out.items()}, entries, audit


async def _shows(entries: list, audit: list) -> dict[str, float]:
    from textual.app import App, ComposeResult

    import tui.widgets.record_views as views
    from tui.widgets.cells import Palette

    class Host(App):
        def compose(self) -> ComposeResult:
            yield views.TimelineTable(id="timeline")

    fold = views.fold_health
    times: dict[str, list[float]] = {"show_folded_ms": [], "show_unfolded_ms": []}
    rows: dict[str, int] = {}
    now = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    app = Host()
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(views.TimelineTable)
        for _ in range(REPEAT):
            for name, folder in (("show_folded_ms", fold), ("show_unfolded_ms", lambda e: e)):
                views.fold_health = folder
                table.clear()
                table._cells, table._order, table._full = {}, [], ({}, [])
                c0 = time.process_time()
                table.show(entries, audit, Palette({}), now=now)
                times[name].append((time.process_time() - c0) * 1000)
                rows[name.replace("_ms", "_rows")] = table.row_count
                await pilot.pause()
    views.fold_health = fold
    return {**{k: statistics.median(v) for k, v in times.items()}, **rows}


def main() -> None:
    args = parse_args(NAME, __doc__.splitlines()[0])
    nodes, passes, audit = (10, 20, 100) if args.quick else (90, 400, 3000)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        asyncio.run(_fill(state, nodes, passes, audit))
        results, entries, audit_rows = asyncio.run(_reads(state))
    results.update(asyncio.run(_shows(entries, audit_rows)))
    print_table(f"Timeline read and show, {nodes} nodes x {passes} passes (CPU ms, median of {REPEAT})",
                ["measure", "value"], sorted(results.items()))
    write_result(args.out, NAME, args.quick, {"nodes": nodes, "passes": passes, "audit_rows": audit}, results)


if __name__ == "__main__":
    main()
