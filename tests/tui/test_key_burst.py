"""Keys that arrive in one burst with `:` (over SSH, `tmux send-keys ':' 'prod' Enter`) reach the
command line's input instead of being lost while it is still being mounted and focused."""

from __future__ import annotations

from textual import events

from screens.environment import EnvironmentScreen
from tests.tui.pilot import app_ready, make_app, wait_until


def burst(app, text: str) -> None:
    """Post every key at once, without waiting between them (as a terminal delivers a burst)."""
    for ch in text:
        key = {":": "colon", "\r": "enter", " ": "space"}.get(ch, ch)
        app.post_message(events.Key(key, None if ch == "\r" else ch))


async def test_keys_in_the_same_burst_as_colon_reach_the_command_line(tmp_path, stage):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=(100, 30)) as pilot:
        await app_ready(pilot)
        burst(app, ":prod\r")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.env == "prod",
                         "prod opened from one burst", explain=lambda: (app.screen, app.focused))


async def test_colon_typed_into_an_input_or_a_dialog_stays_text(tmp_path, stage):
    from textual.widgets import Input

    from screens.help import HelpScreen
    from screens.jump import CommandLineScreen

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(100, 30)) as pilot:
        await app_ready(pilot)
        await pilot.press("slash", *"a:b")
        box = app.screen.query_one("#filter", Input)
        assert box.value == "a:b" and not isinstance(app.screen, CommandLineScreen)
        await pilot.press("escape", "question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.press("colon")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)  # as before: ':' opens nothing over a dialog
