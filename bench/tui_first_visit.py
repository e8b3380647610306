"""First visits of environments whose screens are built on the switch (no idle moment built them
ahead), several in one process, timed as bench/tui.py times its one: `App.open_env(env)` → the
first frame composed while the table is filled and the footer shows its keys (checked as that frame
is composed; a frame that draws nothing is not one), wall and this process's CPU. With `--count` the bytecodes Python runs in that window are counted too (sys.settrace with
opcode events: ~20x slower, but the count does not depend on the machine's load), and how many of
them ran before each frame: an A/B of the switch on a shared machine.

With `--view-switches N`, N view switches follow on the last environment visited (`2` Logs and `1`
Resources in turn, each after a typist's pause), each timed from the key to the frame composed once
that view is shown (the tab active, its key hold released), with the same counts: the A/B of a view
switch.

    python -m bench.tui_first_visit [--quick] [--resources 20000] [--visits 4] [--count] [--view-switches N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import parse_args, print_table, write_result
from bench.tui import FrameSeen, GcTime, key_event, shown_table, wait_for, world_factory

NAME = "tui_first_visit"
PAUSE_S = 2.0  # before each visit: the idle collect and the tick run, as after a reader's pause
TRACE_SLOWDOWN = 20


class OpcodeCount:
    """Bytecodes run while inside, and the count at each frame (see `frame`)."""

    def __init__(self, on: bool) -> None:
        self.on, self.ops, self.at_frames = on, 0, []

    def _trace(self, frame, event, _arg):
        if event == "opcode":
            self.ops += 1
        elif event == "call":
            frame.f_trace_opcodes = True
        return self._trace

    def frame(self) -> None:
        if self.on:
            self.at_frames.append(self.ops)

    def __enter__(self) -> OpcodeCount:
        if self.on:
            sys.settrace(self._trace)
        return self

    def __exit__(self, *_exc) -> None:
        if self.on:
            sys.settrace(None)


async def run(n: int, visits: int, count: bool, view_switches: int = 0) -> dict[str, Any]:
    from textual._compositor import CompositorUpdate

    from bench.synthetic_backend import SyntheticWorld
    from tui.app import AppOptions, create_app
    from tui.core.config import parse_config
    from tui.widgets.steady_footer import SteadyFooter

    if count:  # a traced run is ~20x slower: the screen's cap on holding the collector scaled alike
        import screens.environment as environment_screen
        environment_screen.COLLECTOR_HOLD_S *= TRACE_SLOWDOWN
    envs = ["start"] + [f"env{i}" for i in range(visits)]
    config = "environments:\n" + "".join(
        f"  {e}:\n    repair: observe\n    aws: {{region: us-east-1, tags: {{env: {e}}}}}\n" for e in envs
    ) + "defaults: {interval: 1h}\n"
    worlds = {e: SyntheticWorld(n, seed=i + 1) for i, e in enumerate(envs)}
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-first-visit-") as state:
        app = create_app(parse_config(config), Path(state), options=AppOptions(
            backends_factory=world_factory(worlds), start_reconciler=False, start_env="start",
            testing=True, user="bench", build_ahead=False))
        frames: list[float] = []
        frames_cpu: list[float] = []
        counter = OpcodeCount(False)
        display = app._display

        def timed_display(screen, renderable) -> None:
            if isinstance(renderable, CompositorUpdate):  # as bench/tui.py: the terminal bytes too
                renderable.render_segments(app.console)
            display(screen, renderable)
            if renderable is None:
                return  # nothing to draw: not a frame
            frames.append(time.perf_counter())
            frames_cpu.append(time.process_time())
            counter.frame()
            if seen.check is not None and seen.frame is None and seen.check():
                seen.frame = len(frames) - 1

        seen = FrameSeen()

        app._display = timed_display
        async with app.run_test(size=(200, 50)) as pilot:
            def shown(env: str) -> bool:
                table = shown_table(app)
                return getattr(app.screen, "env", None) == env and table is not None and table.row_count == n

            def drawn(env: str) -> bool:
                footer = app.screen.query(SteadyFooter).first(SteadyFooter) if shown(env) else None
                return footer is not None and bool(footer.drawn) and not footer.settling

            await wait_for(pilot, lambda: shown("start"))
            for env in envs[1:]:
                await wait_for(pilot, lambda e=env: app.session is not None and len(
                    app.session.state(e).all_resources()) == n)
                await pilot.pause(PAUSE_S)
                counter = OpcodeCount(count)
                start, start_cpu = time.perf_counter(), time.process_time()
                first = len(frames)
                with GcTime() as collector, counter:
                    seen.check, seen.frame = (lambda e=env: drawn(e)), None
                    app.open_env(env)
                    while seen.frame is None:
                        await asyncio.sleep(0.001)
                    seen.check = None
                at = seen.frame  # the frames after it, until this loop noticed, are not the visit's
                at_frames = counter.at_frames[:at - first + 1]
                gc_cpu, _passes = collector.before(frames_cpu[at])
                results.append({"ms": round((frames[at] - start) * 1000, 1),
                                "cpu_ms": round((frames_cpu[at] - start_cpu) * 1000, 1),
                                "gc_cpu_ms": round(gc_cpu * 1000, 1),
                                "frames": at - first + 1,
                                "kilo_opcodes": round(at_frames[-1] / 1000) if count else None,
                                "kilo_opcodes_at_frames": [round(x / 1000) for x in at_frames]})
                await pilot.pause(0.3)
            views: list[dict[str, Any]] = []
            for i in range(view_switches):
                key, view = ("2", "logs") if i % 2 == 0 else ("1", "resources")
                await pilot.pause(0.05)
                counter = OpcodeCount(count)
                start, start_cpu = time.perf_counter(), time.process_time()
                with GcTime() as collector, counter:
                    app._driver.send_message(key_event(key))
                    await pilot._wait_for_screen()
                    while not (app.screen.active_view == view and app.screen._view_holding is None):
                        await asyncio.sleep(0.001)
                    handled = time.perf_counter()
                    while not (frames and frames[-1] >= handled):
                        await asyncio.sleep(0.001)
                gc_cpu, _passes = collector.before(frames_cpu[-1])
                views.append({"view": view, "ms": round((frames[-1] - start) * 1000, 1),
                              "cpu_ms": round((frames_cpu[-1] - start_cpu) * 1000, 1),
                              "gc_cpu_ms": round(gc_cpu * 1000, 1),
                              "frames": len(counter.at_frames) if count else sum(f >= start for f in frames),
                              "kilo_opcodes": round(counter.ops / 1000) if count else None,
                              "kilo_opcodes_at_frames": [round(x / 1000) for x in counter.at_frames]})
    cpu = [r["cpu_ms"] for r in results]
    return {"resources": n, "visits": results, "cpu_ms_median": statistics.median(cpu), "cpu_ms_min": min(cpu),
            "counted": count, "view_switches": views}


def main() -> None:
    args = parse_args(NAME, __doc__, [("--resources", {"type": int, "default": 20_000}),
                                      ("--visits", {"type": int, "default": 4}),
                                      ("--count", {"action": "store_true",
                                                   "help": "count the bytecodes run in each visit (slow)"}),
                                      ("--view-switches", {"type": int, "default": 0,
                                                           "help": "view switches after the visits (2, 1, ...)"})])
    if args.quick:
        args.resources, args.visits = 300, 1
    r = asyncio.run(run(args.resources, args.visits, args.count, args.view_switches))
    print_table(f"first visits built on the switch, {r['resources']} resources, terminal 200x50",
                ["visit", "ms", "CPU ms", "gc CPU ms", "frames", "k opcodes", "k opcodes at each frame"],
                [[i + 1, v["ms"], v["cpu_ms"], v["gc_cpu_ms"], v["frames"], v["kilo_opcodes"],
                  v["kilo_opcodes_at_frames"]] for i, v in enumerate(r["visits"])])
    if r["view_switches"]:
        print_table("view switches on the last environment visited",
                    ["switch", "view", "ms", "CPU ms", "gc CPU ms", "frames", "k opcodes", "k opcodes at each frame"],
                    [[i + 1, v["view"], v["ms"], v["cpu_ms"], v["gc_cpu_ms"], v["frames"], v["kilo_opcodes"],
                      v["kilo_opcodes_at_frames"]] for i, v in enumerate(r["view_switches"])])
    goals = {"first visit built on the switch < 100 ms CPU (median)": {
        "value": r["cpu_ms_median"], "met": r["cpu_ms_median"] < 100}}
    write_result(args.out, NAME, args.quick, {"resources": args.resources, "visits": args.visits,
                                              "count": args.count, "view_switches": args.view_switches,
                                              "terminal": "200x50"}, r, goals,
                 ["CPU ms from App.open_env to the frame composed after everything it caused was handled",
                  "with --count the times are those of a traced run (not comparable with bench.tui's)"])


if __name__ == "__main__":
    main()
