"""A created environment destroyed while envdeck keeps a screen of it (built ahead in idle time,
kept after a visit, or the one on screen under a dialog): nothing reads its state from the session
afterwards (a resize lays the kept screen out again: `KeyError: 'pr-2'` killed the TUI), the kept
screen is dropped, and a screen of it shown again brings the overview back."""

from __future__ import annotations

import pytest

from screens.environment import EnvironmentScreen
from screens.overview import OverviewScreen
from screens.resource_detail import ResourceDetailScreen
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.test_env_screens_built_ahead import built_ahead, kept_screens
from tests.tui.test_lifecycle_tui import SMALL, lifecycle_app
from tests.tui.test_overview_selection import footer_keys
from tui.widgets.resource_table import ResourceTable


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


async def test_a_destroyed_environment_s_screens_survive_a_resize_and_are_dropped(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world, live=True)
    app.options.tick_s = 0.1
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        for name in ("pr-2", "pr-3"):
            await app.session.env_create(name, "preview", {"branch": "fix-1"}, wait=False)
        await wait_until(pilot, lambda: all(getattr(app.managed.get(n), "state", None) == "ready"
                                            for n in ("pr-2", "pr-3")), "pr-2 and pr-3 ready")
        # pr-2's screen built ahead, off the stack (the app idle)
        app.options.build_ahead = True
        await wait_until(pilot, lambda: built_ahead(app, "pr-2"), "pr-2's screen built ahead",
                         explain=lambda: sorted(kept_screens(app)))
        app.options.build_ahead = False
        # pr-3 on screen, with its resource's detail over it: destroyed by someone else (the CLI)
        app.open_env("pr-3")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.env == "pr-3"
                         and app.screen.ready, "pr-3's screen")
        pr3 = app.screen
        await wait_until(pilot, lambda: pr3.query_one(ResourceTable).cursor_key is not None, "pr-3's resources")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen) and app.screen.ready,
                         "pr-3's resource detail")
        for name in ("pr-2", "pr-3"):
            await app.session.env_destroy(name, wait=False)
        await wait_until(pilot, lambda: not ({"pr-2", "pr-3"} & set(app.session.states())), "both destroyed",
                         explain=lambda: sorted(app.session.states()))
        # the terminal resized at once, and again once the app heard of it
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        assert app._exception is None
        app.options.build_ahead = True  # until the app heard of it (at once), or the next step of building ahead
        await wait_until(pilot, lambda: "pr-2" not in kept_screens(app), "pr-2's kept screen dropped",
                         explain=lambda: sorted(kept_screens(app)))
        app.options.build_ahead = False
        await pilot.resize_terminal(*SMALL)
        await settle(pilot)
        assert app._exception is None
        assert "r" not in footer_keys(app.screen)  # no action asked of a destroyed environment
        # back from the detail: pr-3's screen is gone, the overview comes back
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "back on the overview",
                         explain=lambda: app.screen_stack)
        assert pr3 not in app.screen_stack
        await wait_until(pilot, lambda: "pr-3" not in kept_screens(app), "pr-3's kept screen dropped")
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
    assert app._exception is None
