"""An environment screen removed while it is still being built (its widgets composed and mounted
over several turns of the event loop) goes away quietly: Textual mounts nothing into a widget
being removed, so the screen's tabs then have no tab to make active, no tab to hide, and its
views no widget to focus. Two ways it happens: the app quits (`q`, Ctrl+C, the terminal closed)
while `:prod⏎` is building prod's screen, and `:prod⏎` typed while prod's screen is being built
ahead in idle time (the half-built screen is dropped and a new one built). Either raised
`No Tab with id '--content-tab-resources'` from the tabs' mount, a traceback on exit or a crash."""

from __future__ import annotations

import asyncio

import pytest

from screens.environment import EnvironmentScreen
from tests.tui.pilot import app_ready, make_app, wait_until
from tui.widgets.resource_table import ResourceTable

SIZE = (100, 30)


def env_screens(app) -> list[EnvironmentScreen]:
    return [s for s in app._installed_screens.values() if isinstance(s, EnvironmentScreen)]


def kept(app, env: str) -> EnvironmentScreen | None:
    return next((s for s in env_screens(app) if s.env == env), None)


@pytest.mark.parametrize("how", ["exit", "closed"])
async def test_quitting_while_an_environment_screen_is_being_built_raises_nothing(tmp_path, stage, how):
    """`exit`: the app's quit (q, :q, Ctrl+C); `closed`: the app closed from outside (run_test's end)."""
    app = make_app(tmp_path, stage)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        app.open_env("prod")
        screen = app.screen
        assert isinstance(screen, EnvironmentScreen) and not screen.is_mounted  # pushed, not composed yet
        if how == "exit":
            app.exit()
        # leaving run_test closes the app now, while the screen's widgets are being mounted;
        # an exception any of them raised is raised here
    assert app._exception is None
    assert screen.ready  # its build ended before the app closed


async def test_opening_an_environment_whose_screen_is_being_built_ahead_shows_a_working_screen(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        staging = app.screen
        app._build_env_screen_ahead()  # one idle step: prod's screen is being mounted off the stack
        ahead = kept(app, "prod")
        assert not ahead.is_mounted and ahead not in app.screen_stack
        app.open_env("prod", view="faults")  # before it is ready: dropped, and prod's screen built anew
        shown = app.screen
        assert isinstance(shown, EnvironmentScreen) and shown.env == "prod" and shown is not ahead
        await wait_until(pilot, lambda: shown.ready, "prod's screen", explain=lambda: (app.screen, app._exception))
        assert app._exception is None
        assert shown.active_view == "faults"
        await pilot.press("1")
        await wait_until(pilot, lambda: shown.active_view == "resources"
                         and shown.query_one(ResourceTable).row_count > 0, "prod's resources")
        assert ahead not in env_screens(app) and not ahead.is_attached  # the half-built one is gone
        assert staging in env_screens(app)
    assert app._exception is None


async def test_a_screen_built_ahead_dropped_at_any_point_of_its_build_raises_nothing(tmp_path, stage):
    """Not timed: the drop comes after 0, 3, 6... turns of the event loop, until the screen was
    built whole before it; each turn mounts a little more of it (its tab bar without tabs yet, say)."""
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        staging = app.screen
        turns = 0
        while True:
            app._build_env_screen_ahead()  # the next environment after staging not kept: prod
            ahead = kept(app, "prod")
            assert ahead is not None and not ahead.ready
            for _ in range(turns):
                await asyncio.sleep(0)
            if ahead.ready:
                break  # built whole before the drop: every point before it was tried
            app._kept_env_screens.drop("prod")  # as open_env drops a kept screen not ready yet
            assert kept(app, "prod") is None
            await wait_until(pilot, lambda dropped=ahead: not dropped.is_attached or app._exception is not None,
                             "the dropped screen removed")
            assert app._exception is None, f"dropped after {turns} turns: {app._exception!r}"
            turns += 3  # every third point: the whole build takes ~40 turns, each drop costs a build
        assert turns > 10  # the build takes many turns: the drops above hit it at many points
        assert app.screen is staging and app._exception is None
    assert app._exception is None


async def test_a_resource_detail_popped_at_any_point_of_its_build_raises_nothing(tmp_path, stage):
    """Escape right after opening a resource's detail (`i` then Esc in one burst over a slow link):
    the detail screen is popped while its tabs are still being mounted, after 0, 15, 30… turns of the
    event loop until it was built whole first; the environment screen under it works on."""
    from screens.resource_detail import ResourceDetailScreen
    from tests.tui.test_overview_enter_burst import send_burst

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        env_screen = app.screen
        table = env_screen.query_one(ResourceTable)
        rid = table.cursor_key
        assert rid is not None
        loop = asyncio.get_running_loop()

        async def removed(screen) -> None:  # polled often: each build is short (pilot.pause idles 50 ms+)
            deadline = loop.time() + 30
            while screen.is_attached and app._exception is None:
                assert loop.time() < deadline, "the popped detail was never removed"
                await asyncio.sleep(0.005)

        turns, mid_build = 0, 0
        while True:
            detail = ResourceDetailScreen("staging", rid)
            app.push_screen(detail)
            for _ in range(turns):
                await asyncio.sleep(0)
            if detail.ready:
                break  # built whole before the pop: every point before it was tried
            mid_build += not detail.is_mounted
            detail.action_back()  # what its Esc runs
            assert app.screen is env_screen  # off the stack at once: the keys after Esc go below
            await removed(detail)
            assert app._exception is None, f"popped after {turns} turns: {app._exception!r}"
            turns += 15
        assert mid_build >= 2, mid_build  # the build takes many turns: the pops above hit it at several points
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is env_screen, "back on the environment")
        # `i` and Esc in one burst, as a terminal delivers them: the same, through the app's keys
        await send_burst(pilot, "i\x1b", "burst")
        await wait_until(pilot, lambda: app.screen is env_screen and not app.keys.held
                         and not any(isinstance(s, ResourceDetailScreen) for s in app.screen_stack),
                         "the detail opened and closed", explain=lambda: app.screen_stack)
        await pilot.press("j")
        await wait_until(pilot, lambda: table.cursor_key != rid, "the table still moves")
    assert app._exception is None
