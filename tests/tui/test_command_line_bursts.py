"""Keys typed in one burst (tmux send-keys over a laggy SSH link) with `:` or `/`: they are
queued while the command line or the filter box opens and replayed into it in order; an Enter
in the burst submits, and the keys after it act on what the command opened, never glued into
the submitted text. The screen stack never ends blank: the overview stays at its bottom.

Each burst is sent twice over: all keys handed to the app at once (as the terminal driver does
with the bytes of one read), and with pilot.press in one call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from textual import events
from textual.widgets import Input

from screens.environment import EnvironmentScreen
from screens.jump import CommandLineScreen
from screens.overview import OverviewScreen
from tests.tui.pilot import app_ready, make_app, wait_until
from tui.widgets.resource_table import ResourceTable

NAMED = {":": "colon", "/": "slash", "\r": "enter", " ": "space", "\b": "backspace", "\x1b": "escape"}
CONTROL = "\r\b\x1b"


def keys(text: str) -> list[str]:
    return [NAMED.get(ch, ch) for ch in text]


async def send_burst(pilot, text: str, how: str) -> None:
    app = pilot.app
    if how == "press":
        await pilot.press(*keys(text))
        return
    for ch in text:  # every key in the app's queue before the first is handled
        event = events.Key(NAMED.get(ch, ch), None if ch in CONTROL else ch)
        event.set_sender(app)
        app._driver.send_message(event)


def stack(app) -> list[str]:
    return [type(s).__name__ + (f":{s.env}" if isinstance(getattr(s, "env", None), str) else "")
            for s in app.screen_stack]


def settled(app) -> bool:
    """The burst handled (no key of it still in the app's queue: before its first key is handled the
    starting screen looks settled too), nothing held, the screen ready and focused."""
    screen = app.screen
    return (app._message_queue.empty() and not app.keys.held and getattr(screen, "ready", True)
            and not isinstance(screen, CommandLineScreen) and app.focused is not None)


async def settle_on(pilot, env: str) -> EnvironmentScreen:
    app = pilot.app
    await wait_until(pilot, lambda: settled(app) and getattr(app.screen, "env", None) == env, f"{env} shown",
                     explain=lambda: (stack(app), app.keys.reasons, app.focused))
    await pilot.pause()
    return app.screen


@asynccontextmanager
async def started(tmp_path, stage, env: str | None = None) -> AsyncIterator:
    """The app at 80x24, started on `env` (None: the overview) and ready: its pilot."""
    app = make_app(tmp_path, stage, env=env)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        yield pilot


async def burst_then_settle(pilot, text: str, how: str, env: str) -> EnvironmentScreen:
    """Send `text` as one burst (`how`) and wait until it is handled and `env` shows: its screen."""
    await send_burst(pilot, text, how)
    return await settle_on(pilot, env)


BOTH = pytest.mark.parametrize("how", ["burst", "press"])


@BOTH
@pytest.mark.parametrize("text, last", [(":prod\r:staging\r:prod\r", "prod"), (":prod\r:staging\r", "staging")])
async def test_commands_in_one_burst_run_one_after_the_other(tmp_path, stage, how, text, last):
    # start elsewhere than where the burst ends: started on `last`, the wait below could see the
    # first screen before the burst's first key was handled (fresh-clone CI under load did)
    async with started(tmp_path, stage, "prod" if last == "staging" else "staging") as pilot:
        app = pilot.app
        await burst_then_settle(pilot, text, how, last)
        assert stack(app) == ["Screen", "OverviewScreen", f"EnvironmentScreen:{last}"]
        await pilot.press("escape")  # Esc still leads back to the overview
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview")
        assert stack(app) == ["Screen", "OverviewScreen"]


@BOTH
async def test_keys_after_enter_act_on_the_screen_the_command_opened(tmp_path, stage, how):
    async with started(tmp_path, stage, "prod") as pilot:
        app = pilot.app
        screen = await burst_then_settle(pilot, ":staging\r4", how, "staging")
        assert screen.active_view == "faults", "the 4 after Enter switched staging's view"
        assert stack(app) == ["Screen", "OverviewScreen", "EnvironmentScreen:staging"]

        screen = await burst_then_settle(pilot, ":prod\rjj", how, "prod")
        table = screen.query_one(ResourceTable)
        assert table.cursor_row == 2, "jj moved prod's cursor down two rows"
        assert stack(app) == ["Screen", "OverviewScreen", "EnvironmentScreen:prod"]


@BOTH
async def test_an_unknown_command_leaves_the_user_where_they_were(tmp_path, stage, how):
    async with started(tmp_path, stage, "staging") as pilot:
        app = pilot.app
        await send_burst(pilot, ":nosuch\rj", how)
        # it ends where it started: settled could be seen before the burst's first key arrives (the
        # driver posts keys from its own side), so first the sign that its Enter was handled
        await wait_until(pilot, lambda: any("'nosuch'" in str(n.message) for n in app._notifications),
                         "the unknown command said", explain=lambda: (stack(app), app.keys.reasons))
        screen = await settle_on(pilot, "staging")
        assert stack(app) == ["Screen", "OverviewScreen", "EnvironmentScreen:staging"]
        assert screen.query_one(ResourceTable).cursor_row == 1, "the j after Enter moved staging's cursor"
        toasts = [str(n.message) for n in app._notifications]
        assert any("'nosuch'" in t for t in toasts) and not any("nosuchj" in t for t in toasts), toasts


async def test_the_overview_at_the_bottom_is_never_popped(tmp_path, stage):
    async with started(tmp_path, stage) as pilot:
        app = pilot.app
        assert stack(app) == ["Screen", "OverviewScreen"]
        await app.pop_screen()
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert stack(app) == ["Screen", "OverviewScreen"]


@BOTH
@pytest.mark.parametrize("text, box_text", [("/web", "web"), ("/\bweb", "web"), ("/x\b\bweb", "web")])
async def test_keys_after_slash_go_into_the_filter_box(tmp_path, stage, how, text, box_text):
    async with started(tmp_path, stage, "staging") as pilot:
        app = pilot.app
        await send_burst(pilot, text, how)
        screen = app.screen
        box = screen.query_one("#filter", Input)
        await wait_until(pilot, lambda: not app.keys.held and box.value == box_text, f"{box_text!r} in the box",
                         explain=lambda: (box.value, app.focused, app.keys.reasons))
        await pilot.pause()
        assert box.value == box_text and box.has_focus
        assert stack(app) == ["Screen", "OverviewScreen", "EnvironmentScreen:staging"]


@BOTH
async def test_keys_after_enter_in_the_filter_box_act_on_the_view(tmp_path, stage, how):
    async with started(tmp_path, stage, "staging") as pilot:
        await send_burst(pilot, "/web\r4", how)
        # it ends where it started: first the sign that the burst's last key was handled
        screen = pilot.app.screen
        await wait_until(pilot, lambda: screen.active_view == "faults", "the 4 after Enter acted",
                         explain=lambda: (screen.active_view, pilot.app.keys.reasons))
        screen = await settle_on(pilot, "staging")
        assert screen.query_one("#filter", Input).value == "web", "the 4 after Enter was not typed into the box"
        assert screen.active_view == "faults"
