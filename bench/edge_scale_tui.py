"""The TUI while observe passes run over the edge fleet (part of bench/edge_scale.py).

The real app (`create_app` with the production EdgeBackend, the reconciler running,
Textual headless at 200×50) on an environment of N sshd nodes, observe interval 2 s so
that passes follow each other; `/` filter keystrokes typed at a typist's pace, each
timed from the key event to the first frame composed after everything it caused was
handled (the harness of bench/tui.py: its key_event and wait_for). Each keystroke is
counted as "during observe" when it fell inside a pass (the backend's observe() is
wrapped to record when each pass ran), the others as "between passes".

    python -m bench.edge_scale_tui CONFIG.yaml OUT.json KEYS [INTERVAL]
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.report import percentile
from bench.tui import key_event, rss_mib, wait_for

TYPED = "-00"
PASS_INTERVAL = "2s"


def timed_edge_factory(windows: list[list[float]]):
    """The production edge backend, with each observe() pass's start and end recorded."""
    from backends.edge.backend import EdgeBackend

    class TimedEdgeBackend(EdgeBackend):
        async def observe(self):
            window = [time.perf_counter(), float("inf")]
            windows.append(window)
            try:
                return await super().observe()
            finally:
                window[1] = time.perf_counter()

    def factory(env, env_cfg, cfg):
        return {"edge": TimedEdgeBackend(env, env_cfg.edge, cfg.defaults)}
    return factory


async def run(cfg_text: str, keys: int) -> dict[str, Any]:
    from textual._compositor import CompositorUpdate

    from tui.app import AppOptions, create_app
    from tui.core.config import parse_config
    from tui.widgets.resource_table import ResourceTable

    windows: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-edge-tui-") as state:
        app = create_app(parse_config(cfg_text), Path(state), options=AppOptions(
            backends_factory=timed_edge_factory(windows), start_reconciler=True, start_env="bench",
            testing=True, user="bench"))
        frames: list[float] = []
        display = app._display

        def timed_display(screen, renderable) -> None:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
            display(screen, renderable)
            frames.append(time.perf_counter())

        app._display = timed_display
        t0 = time.perf_counter()
        async with app.run_test(size=(200, 50)) as pilot:
            def rows() -> int:
                try:
                    return app.screen.query_one(ResourceTable).row_count
                except Exception:  # noqa: BLE001 - not mounted yet
                    return 0

            async def timed(act) -> tuple[float, float]:
                start = time.perf_counter()
                act()
                await pilot._wait_for_screen()
                handled = time.perf_counter()
                deadline = handled + 10
                while not (frames and frames[-1] >= handled) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.001)
                return start, (frames[-1] if frames else time.perf_counter()) - start

            await wait_for(pilot, lambda: rows() > 0 and len(windows) >= 1 and windows[0][1] != float("inf"),
                           timeout=600)
            first_table_s = time.perf_counter() - t0
            table_rows = rows()
            await pilot.press("slash")
            await pilot.pause()
            timings: list[tuple[float, float]] = []
            sequence: list[str] = []
            while len(sequence) < keys:
                sequence += list(TYPED) + ["backspace"] * len(TYPED)
            deadline = time.perf_counter() + 600
            during = lambda t: any(a <= t <= b for a, b in windows)  # noqa: E731
            # keep typing until `keys` keystrokes fell inside a pass (and as many outside)
            i = 0
            while time.perf_counter() < deadline:
                inside = sum(during(s) for s, _ in timings)
                if inside >= keys and len(timings) - inside >= min(keys, 10):
                    break
                key = sequence[i % len(sequence)]
                i += 1
                timings.append(await timed(lambda k=key: app._driver.send_message(key_event(k))))
                await pilot.pause(0.05)  # a typist's gap
            rss_end = rss_mib()
    closed = [w for w in windows if w[1] != float("inf")]
    inside = [lat for s, lat in timings if during(s)]
    outside = [lat for s, lat in timings if not during(s)]

    def ms(values: list[float], q: float) -> float | None:
        return round(percentile(values, q) * 1000, 1) if values else None
    return {
        "table_rows": table_rows, "first_table_s": round(first_table_s, 2),
        "passes": len(closed), "pass_wall_s": [round(b - a, 2) for a, b in closed],
        "keystrokes": len(timings), "during_observe": len(inside), "between_passes": len(outside),
        "during_observe_p50_ms": ms(inside, 50), "during_observe_p99_ms": ms(inside, 99),
        "during_observe_max_ms": ms(inside, 100),
        "between_passes_p50_ms": ms(outside, 50), "between_passes_p99_ms": ms(outside, 99),
        "rss_end_mib": round(rss_end, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    cfg_path, out, keys = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    doc = yaml.safe_load(cfg_path.read_text())
    doc.setdefault("defaults", {})["interval"] = sys.argv[4] if len(sys.argv) > 4 else PASS_INTERVAL
    result = asyncio.run(run(yaml.safe_dump(doc), keys))
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
