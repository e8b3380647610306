"""Keys typed in one burst after an Enter on the overview (tmux send-keys, k9s habits): they
wait until the environment screen that Enter opens is up and act on it, in order; the overview
under it is never moved. A hold nothing releases drops its keys with a notice, never replays
them seconds later onto another screen (screens/key_hold.py)."""

from __future__ import annotations

import pytest
from textual import events

from screens.jump import CommandLineScreen
from screens.overview import EnvironmentsTable, OverviewScreen
from tests.tui.pilot import app_ready, make_app, wait_until
from tui.widgets.resource_table import ResourceTable

NAMED = {":": "colon", "/": "slash", "\r": "enter", " ": "space", "\x1b": "escape", "\b": "backspace"}


async def send_burst(pilot, text: str, how: str) -> None:
    """`burst`: every key in the app's queue before the first is handled (one terminal read)."""
    app = pilot.app
    if how == "press":
        await pilot.press(*[NAMED.get(ch, ch) for ch in text])
        return
    for ch in text:
        event = events.Key(NAMED.get(ch, ch), None if ch in "\r\x1b\b" else ch)
        event.set_sender(app)
        app._driver.send_message(event)


def stack(app) -> list[str]:
    return [type(s).__name__ + (f":{s.env}" if isinstance(getattr(s, "env", None), str) else "")
            for s in app.screen_stack]


async def settle_on(pilot, env: str):
    app = pilot.app

    def settled() -> bool:
        screen = app.screen
        return (app._message_queue.empty() and not app.keys.held and getattr(screen, "ready", True)
                and not isinstance(screen, CommandLineScreen) and app.focused is not None
                and getattr(screen, "env", None) == env)

    await wait_until(pilot, settled, f"{env} shown", explain=lambda: (stack(app), app.keys.reasons, app.focused))
    await pilot.pause()
    return app.screen


BOTH = pytest.mark.parametrize("how", ["burst", "press"])


@BOTH
async def test_keys_after_enter_on_the_overview_act_on_the_environment_screen(tmp_path, stage, how):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        first = overview.query_one(EnvironmentsTable).cursor_key
        await send_burst(pilot, "\r4", how)
        screen = await settle_on(pilot, first)
        assert screen.active_view == "faults", "the 4 after Enter switched the opened environment's view"

        await pilot.press("escape", "escape")  # Faults -> Resources -> the overview
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen) and not app.keys.held, "the overview")
        await send_burst(pilot, "\rjj", how)
        screen = await settle_on(pilot, first)
        assert screen.query_one(ResourceTable).cursor_row == 2, "jj moved the environment's cursor down two rows"
        assert overview.query_one(EnvironmentsTable).cursor_row == 0, "the overview under it did not move"


@BOTH
async def test_a_command_typed_after_enter_on_the_overview_runs_on_the_environment_screen(tmp_path, stage, how):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(EnvironmentsTable)
        first, other = table.row_keys[0], table.row_keys[1]
        await send_burst(pilot, f"\r:{other}\r", how)
        await settle_on(pilot, other)
        assert stack(app) == ["Screen", "OverviewScreen", f"EnvironmentScreen:{other}"]
        assert first != other


async def test_a_hold_nothing_releases_drops_its_keys_with_a_notice(tmp_path, stage, monkeypatch):
    import screens.key_hold as key_hold

    monkeypatch.setattr(key_hold, "HOLD_AT_MOST_S", 0.2)
    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        app.keys.hold("never-released")  # what the keys were typed for never opened
        await send_burst(pilot, "p", "burst")
        await wait_until(pilot, lambda: not app.keys.held, "the hold to give up")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen), "the p was not replayed late (no Pause dialog)"
        toasts = [str(n.message) for n in app._notifications]
        assert any("1 key typed while waiting dropped" in t for t in toasts), toasts
