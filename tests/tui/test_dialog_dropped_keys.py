"""Keys typed in the same burst as the key that opens a dialog are dropped, and the dialog says
so: the Textual app gives them to the screen below before the dialog is pushed, where they
come back up unused (before: lost without a word). In a type-the-name confirmation the name
typed ahead is dropped too (it is typed once the dialog, what it destroys, has been read).
The line fits an 80×24 dialog with its buttons in view. Bursts are posted as the terminal
driver delivers them (tests/tui/test_dialog_typeahead.py's `burst`); the stage counts actions."""

from __future__ import annotations

from textual.widgets import Button, Input

from screens.confirm import ConfirmScreen
from tests.tui.pilot import app_ready, dialog_shown, make_app, settle, wait_until
from tests.tui.test_dialog_typeahead import burst, hint
from tests.tui.test_lifecycle_tui import SMALL
from tui.widgets.resource_table import ResourceTable

POD = "kubernetes/Pod/web-7d9f-abcde"


async def test_keys_of_the_burst_that_opened_a_dialog_are_named_not_silently_lost(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        env_screen = app.screen
        table = env_screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key(POD), "the pod's row")
        await settle(pilot)

        burst(app, "ctrl+d", *"web-7d9f-abcde")  # the pod's name typed ahead of its delete confirmation
        await wait_until(pilot, lambda: '"web-7d9f-abcde" ignored' in hint(app),
                         "the dropped keys named", explain=lambda: hint(app))
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        line = hint(app)
        assert line.endswith("ignored: typed before this dialog was shown"), line
        assert dialog.query_one("#type-to-confirm", Input).value == ""
        assert not env_screen.view.group and stage.performed == []  # `b` of the burst grouped nothing
        # the line fits the 80×24 dialog: one row, the buttons below it still on screen
        error = dialog.query_one("#dialog-error")
        assert error.size.height == 1 and error.region.width >= len(line), (error.region, line)
        assert dialog.query_one("#ok", Button).region.bottom <= SMALL[1]

        await dialog_shown(pilot, ConfirmScreen)  # seen: the name typed now is typed
        await pilot.press(*"web-7d9f-abcde")
        assert dialog.query_one("#type-to-confirm", Input).value == "web-7d9f-abcde"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is env_screen, "the delete cancelled")

        # a count typed ahead of the scale dialog (S 5 Enter in one burst): named, nothing scaled
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Deployment/web"), "Deployment/web")
        await settle(pilot)
        burst(app, "S", "5", "\r")
        await wait_until(pilot, lambda: '"5", enter ignored' in hint(app), "the count and Enter named",
                         explain=lambda: hint(app))
        assert app.screen.query_one("#param-replicas", Input).value == "3"  # the default, not the 5
        assert stage.performed == []
        await pilot.press("escape")
