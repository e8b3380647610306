"""The TUI headless (Textual's run_test) with 20,000 resources from the generated
in-memory backend (bench/synthetic_backend.py): time to first paint (app start →
the resources table shows every row), `/` filter keystroke → repaint (p50/p99),
and this process's RSS. A keystroke's latency runs from the key event sent to the
driver to the first frame composed after every message it caused was handled
(the frame is rendered to terminal bytes too, which headless Textual skips).

    python -m bench.tui [--quick] [--resources 20000] [--keys 40]
"""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import parse_args, percentile, print_table, write_result

NAME = "tui"
CONFIG = """
environments:
  bench:
    repair: observe
    aws: {region: us-east-1, tags: {env: bench}}
defaults: {interval: 1h}
"""
TYPED = "app-01"  # then erased: rows go 20,000 → ~1,000 → ... → 200 → back to 20,000


def key_event(key: str):
    """The event Textual's pilot sends for a key, without its wait-for-idle pauses."""
    from textual import events

    char = key if len(key) == 1 else None
    name = {"-": "minus"}.get(key, key)
    event = events.Key(name, char)
    return event


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


async def wait_for(pilot, predicate, timeout: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause(0.005)


async def run(n: int, keys: int) -> dict[str, Any]:
    t_import = time.perf_counter()
    from textual._compositor import CompositorUpdate

    from bench.synthetic_backend import SyntheticWorld, synthetic_factory
    from tui.app import AppOptions, create_app
    from tui.core.config import parse_config
    from tui.widgets.resource_table import ResourceTable
    import_s = time.perf_counter() - t_import

    world = SyntheticWorld(n)
    rss_before = rss_mib()
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-tui-") as state:
        app = create_app(parse_config(CONFIG), Path(state), options=AppOptions(
            backends_factory=synthetic_factory(world), start_reconciler=False, start_env="bench",
            testing=True, user="bench"))
        frames: list[float] = []
        display = app._display

        def timed_display(screen, renderable) -> None:
            # headless Textual skips turning a frame into terminal bytes: do it, as a terminal would need
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
            display(screen, renderable)
            frames.append(time.perf_counter())

        app._display = timed_display
        t0 = time.perf_counter()
        async with app.run_test(size=(200, 50)) as pilot:
            def table() -> ResourceTable | None:
                try:
                    return app.screen.query_one(ResourceTable)
                except Exception:  # noqa: BLE001 - not mounted yet
                    return None

            await wait_for(pilot, lambda: (t := table()) is not None and t.row_count == n)
            await pilot.pause()
            first_paint_s = time.perf_counter() - t0
            rss_painted = rss_mib()

            await pilot.press("slash")
            await pilot.pause()
            latencies: list[float] = []
            counts: list[int] = []
            sequence = []
            while len(sequence) < keys:
                sequence += list(TYPED) + ["backspace"] * len(TYPED)
            for key in sequence[:keys]:
                start = time.perf_counter()
                app._driver.send_message(key_event(key))
                await pilot._wait_for_screen()  # the key, Input.Changed and the table refresh are handled
                handled = time.perf_counter()
                deadline = handled + 10
                while not (frames and frames[-1] >= handled) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.001)
                latencies.append((frames[-1] if frames else time.perf_counter()) - start)
                counts.append(table().row_count)
                await pilot.pause(0.02)  # a typist's gap, so that frames do not merge
            rss_end = rss_mib()
    return {
        "resources": n, "import_s": round(import_s, 3), "first_paint_s": round(first_paint_s, 3),
        "keystrokes": len(latencies), "rows_seen": sorted(set(counts)),
        "keystroke_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "keystroke_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "keystroke_max_ms": round(max(latencies) * 1000, 1),
        "rss_before_app_mib": round(rss_before, 1), "rss_after_paint_mib": round(rss_painted, 1),
        "rss_end_mib": round(rss_end, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    args = parse_args(NAME, __doc__, [("--resources", {"type": int, "default": 20_000}),
                                      ("--keys", {"type": int, "default": 40})])
    if args.quick:
        args.resources, args.keys = 300, 6
    results = asyncio.run(run(args.resources, args.keys))
    r = results
    print_table(f"headless TUI, {r['resources']} resources, terminal 200x50",
                ["first paint s", "key p50 ms", "key p99 ms", "key max ms", "RSS after paint MiB",
                 "peak RSS MiB"],
                [[r["first_paint_s"], r["keystroke_p50_ms"], r["keystroke_p99_ms"], r["keystroke_max_ms"],
                  r["rss_after_paint_mib"], r["peak_rss_mib"]]])
    goals = {"first paint < 1.5 s": {"value": r["first_paint_s"], "met": r["first_paint_s"] < 1.5},
             "keystroke p50 < 50 ms": {"value": r["keystroke_p50_ms"], "met": r["keystroke_p50_ms"] < 50},
             "RSS < 300 MiB": {"value": r["peak_rss_mib"], "met": r["peak_rss_mib"] < 300}}
    print_table("goals", ["goal", "value", "met"], [[k, v["value"], v["met"]] for k, v in goals.items()])
    write_result(args.out, NAME, args.quick, {"resources": args.resources, "keys": args.keys,
                                              "terminal": "200x50"}, results, goals,
                 ["the app's first observe pass and the table fill are inside first paint; python start-up "
                  "and imports are not (import_s is given)"])


if __name__ == "__main__":
    main()
