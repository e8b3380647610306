"""The `n` form's Tab and shift+Tab (on-call findings, session 9): a burst `shift+Tab Tab 7 7`
typed in the name goes to the template list and back, and the 77 lands in the name (it was
dropped while the shift+Tab's hold waited for an input that never took the focus); focus by Tab
selects the field's text in every field alike, the name too (after the plan's Esc had left it
unselected), so typing replaces it.

Bursts are posted as the terminal driver delivers them (test_dialog_fields_typed's)."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from screens.new_environment import NewEnvironmentScreen
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.test_dialog_typeahead import burst
from tests.tui.test_lifecycle_tui import SMALL, lifecycle_app


def send(app, *keys: str) -> None:
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_shift_tab_to_the_template_list_and_tab_back_keeps_the_keys_and_selects_the_name(tmp_path, stage):
    app = lifecycle_app(tmp_path, stage, MemoryWorld())
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        burst(app, "n", *"pr-1")
        await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen) and app.screen.query("#input-name")
                         and app.screen.query_one("#input-name", Input).value == "pr-1", "pr-1 in the name")
        screen = app.screen
        name = screen.query_one("#input-name", Input)
        await wait_until(pilot, lambda: app.focused is name and not app.keys.held, "the name focused")
        send(app, "shift+tab", "tab", "7", "7")
        await wait_until(pilot, lambda: name.value == "77" and not app.keys.held, "77 typed over the name",
                         explain=lambda: (name.value, app.focused, app.keys.reasons))
        # slowly: back to the list, Tab back selects the name's text (typing replaces it)
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is not name, "off the name")
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.focused is name, "the name again")
        await settle(pilot)
        assert name.selected_text == "77", name.selected_text
        await pilot.press(*"ab")
        assert name.value == "ab", name.value
        # the TTL selects its text on Tab, as before
        ttl = screen.query_one("#input-ttl", Input)
        await pilot.press("tab", *"3h", "shift+tab", "tab")
        await wait_until(pilot, lambda: app.focused is ttl, "the TTL again")
        await settle(pilot)
        assert ttl.selected_text == "3h", ttl.selected_text
        await pilot.press("escape")
