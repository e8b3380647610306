"""Export docs/screenshot-environment.svg: the environment screen of `envdeck demo`,
rendered by the app itself (`App.save_screenshot`).

    PYTHONPATH=. python docs/make_screenshot.py [--width 160 --height 45]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from backends.sim.demo_world import DemoWorld
from tui.app import AppOptions, create_app
from tui.cli.demo import write_config
from tui.core.config import load_config

OUT = Path(__file__).resolve().parent / "screenshot-environment.svg"


async def shoot(config_path: Path, state: Path, size: tuple[int, int]) -> None:
    app = create_app(load_config(config_path), state, options=AppOptions(start_env="staging", testing=True))
    async with app.run_test(size=size) as pilot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 180
        while loop.time() < deadline:
            await pilot.pause(0.5)
            session = app.session
            if session is None:
                continue
            state_ = session.reconciler.envs["staging"]
            if state_.backends and all(b.reachable for b in state_.backends.values()):
                break
        await pilot.pause(12)  # a few passes: sparklines get some history
        app.screen.query_one("ResourceTable").move_cursor(row=5)
        await pilot.pause(1)
        app.save_screenshot(OUT.name, path=str(OUT.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=45)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, DemoWorld(Path(tmp) / "servers") as world:
        asyncio.run(shoot(write_config(world, Path(tmp)), Path(tmp) / "state", (args.width, args.height)))
    print(OUT)


if __name__ == "__main__":
    main()
