"""In idle time (no key or mouse input for IDLE_S) the app builds the screens of the next
environments ahead, off the screen stack, up to KEEP kept screens: a first visit of such an
environment shows the screen built ahead, and it shows what a screen built on the switch shows."""

from __future__ import annotations

import gc
import time

from screens.environment import EnvironmentScreen
from screens.kept_env_screens import KEEP
from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tests.tui.stage import STAGE_CONFIG
from tui.widgets.resource_table import ResourceTable

SIZE = (120, 36)
EXTRA = "".join(f"""
  {env}:
    repair: observe
    kubernetes:
      namespace: {env}
""" for env in ("qa", "dev", "perf", "uat", "demo"))


def kept_screens(app) -> dict[str, EnvironmentScreen]:
    return {s.env: s for s in app._installed_screens.values() if isinstance(s, EnvironmentScreen)}


def built_ahead(app, env: str) -> bool:
    screen = kept_screens(app).get(env)
    return screen is not None and screen.ready and screen.outer_size == app.size and screen not in app.screen_stack


async def prod_screenshot(tmp_path, stage, *, ahead: bool) -> tuple[str, bool]:
    """What `:prod` shows, from staging, with the prod screen built ahead or on the switch."""
    app = make_app(tmp_path / ("ahead" if ahead else "cold"), stage, env="staging")
    app.options.build_ahead = ahead
    app.options.tick_s = 0.1
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        if ahead:
            await wait_until(pilot, lambda: built_ahead(app, "prod"), "the prod screen built ahead")
        prebuilt = kept_screens(app).get("prod")
        await pilot.press("colon", *"prod", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.env == "prod"
                         and app.screen.ready and app.screen.query_one(ResourceTable).row_count > 0, "prod")
        shown_prebuilt = prebuilt is not None and app.screen is prebuilt
        await settle(pilot)
        # a screen built on the switch holds the collector off until its first frame only
        assert gc.isenabled() and not app.screen._collector_held
        return app.export_screenshot(), shown_prebuilt


async def test_a_screen_built_ahead_is_shown_on_the_first_visit_as_one_built_on_the_switch(tmp_path, stage):
    cold, cold_prebuilt = await prod_screenshot(tmp_path, stage, ahead=False)
    ahead, ahead_prebuilt = await prod_screenshot(tmp_path, stage, ahead=True)
    assert not cold_prebuilt and ahead_prebuilt
    assert ahead == cold


async def test_building_ahead_stops_at_keep_screens_and_never_while_there_is_input(tmp_path, stage, monkeypatch):
    # idle from 4 s without input here (2 s in the app): a key every 0.1 s must never leave a gap
    # that long, even when a loaded machine holds the test process back between two presses
    monkeypatch.setattr("tui.app.IDLE_S", 4.0)
    app = make_app(tmp_path, stage, env="staging", config_text=STAGE_CONFIG + EXTRA)
    app.options.tick_s = 0.1
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        staging = app.screen
        app.options.build_ahead = True
        keys_from = time.monotonic()
        while time.monotonic() - keys_from < 6.0:  # 6 s of keys (longer than IDLE_S), each well within it of
            await pilot.press("down")  # the last: nothing is built ahead (a loaded machine presses fewer)
            await pilot.pause(0.1)
        assert set(kept_screens(app)) == {"staging"}
        # then idle: the next environments in the overview's order, up to KEEP screens in all
        await wait_until(pilot, lambda: len(kept_screens(app)) == KEEP
                         and all(built_ahead(app, env) for env in kept_screens(app) if env != "staging"),
                         "screens built ahead", explain=lambda: sorted(kept_screens(app)))
        await pilot.pause(0.5)
        assert set(kept_screens(app)) == {"staging", "prod", "qa", "dev", "perf"} and app.screen is staging
        assert len(app.screen_stack) == 3  # built off the stack
        # the screen shown keeps the focus and its keys
        table = staging.query_one(ResourceTable)
        assert app.focused is table
        row = table.cursor_row
        await pilot.press("up")
        await wait_until(pilot, lambda: table.cursor_row == row - 1, "the cursor moved up on the screen shown")
