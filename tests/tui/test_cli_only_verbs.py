"""`:extend` and `:promote` on the command line say they are CLI commands and give the command to
type (the environment on screen filled in), instead of "no environment, view or kind 'extend'".
The `n` form's TTL refuses a compound duration (`1h30m`) as every envdeck duration does, and its
error says the form it takes (`90m`). Real lifecycle service and store over the in-memory world."""

from __future__ import annotations

from textual.widgets import Input, Static

from screens.environment import EnvironmentScreen
from screens.new_environment import NewEnvironmentScreen
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.test_command_line_bursts import send_burst
from tests.tui.test_footer_agrees import notes
from tests.tui.test_lifecycle_tui import SMALL, created_and_selected, lifecycle_app
from tui.core.durations import parse_duration


async def said_after(pilot, command: str, wanted: str) -> None:
    app = pilot.app
    app.clear_notifications()
    await send_burst(pilot, f":{command}\r", "burst")
    await wait_until(pilot, lambda: any(wanted in n for n in notes(app)), f":{command} answered", explain=lambda: (notes(app), app.screen_stack, app.keys.reasons, app.focused))
    assert not any("no environment, view or kind" in n for n in notes(app)), notes(app)


async def test_extend_and_promote_point_to_the_cli(tmp_path, stage):
    app = lifecycle_app(tmp_path, stage, MemoryWorld(), live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await created_and_selected(pilot, app)
        await said_after(pilot, "extend", "extend is a CLI command: envdeck env extend NAME 24h")
        await said_after(pilot, "promote staging prod",
                         "promote is a CLI command: envdeck promote staging prod --plan (then --apply)")
        app.open_env("pr-3", view="steps")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready
                         and app.screen.env == "pr-3", "pr-3's screen")
        await settle(pilot)
        screen = app.screen
        await said_after(pilot, "promote prod", "promote is a CLI command: envdeck promote pr-3 prod --plan")
        await said_after(pilot, "extend", "extend is a CLI command: envdeck env extend pr-3 24h")
        await said_after(pilot, "extend 3h", "extend is a CLI command: envdeck env extend pr-3 3h")
        assert app.screen is screen, "nothing opened"
    assert app._exception is None


async def test_new_env_ttl_error_says_the_accepted_form(tmp_path, stage):
    try:
        parse_duration("1h30m")
    except ValueError:
        pass
    else:
        raise AssertionError("compound durations are accepted elsewhere: the form should accept them too")
    app = lifecycle_app(tmp_path, stage, MemoryWorld())
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await send_burst(pilot, "npr-7\r1h30m", "burst")  # Enter: to the TTL
        await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen) and app.screen.query("#input-ttl")
                         and app.screen.query_one("#input-ttl", Input).value == "1h30m", "1h30m in the TTL",
                         explain=lambda: (app.screen, app.focused))
        field = app.screen.query_one("#field-ttl")
        hint = field.query_one(".field-hint", Static)
        await wait_until(pilot, lambda: "90m" in str(hint.render()), "the TTL's error names 90m",
                         explain=lambda: str(hint.render()))
        assert "'1h30m' is not a TTL: one number and a unit, e.g. 90m" in str(hint.render())
        assert field.has_class("invalid")
    assert app._exception is None
