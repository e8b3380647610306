"""What a dialog's field shows is what it holds (on-call findings, tmux 80×24): the destroy and
delete field's greyed placeholder was the name itself, so after a dropped type-ahead the field
looked filled while a deliberate Enter said "type pr-2 exactly to confirm". The `n` form keeps
a name typed in the burst that opened it (`n pr-7`), keeps the name's text when coming back from
the plan (the cursor at its end, nothing selected: typing adds to it), and says that an Enter
typed while the plan is on its way is ignored (it never creates).

Bursts are posted as the terminal driver delivers them (test_dialog_typeahead's `burst`)."""

from __future__ import annotations

import asyncio

from textual import events
from textual.widgets import Input

from screens.confirm import ConfirmScreen
from screens.new_environment import NewEnvironmentScreen
from screens.port_choice import PortChoiceScreen
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, dialog_shown, make_app, settle, wait_until
from tests.tui.test_dialog_dropped_keys import POD
from tests.tui.test_dialog_typeahead import burst, hint
from tests.tui.test_lifecycle_tui import SMALL, lifecycle_app, type_into
from tui.widgets.resource_table import ResourceTable


async def test_the_type_the_name_field_shows_no_name_it_does_not_hold(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key(POD), "the pod's row")
        await settle(pilot)
        await pilot.press("ctrl+d")
        dialog = await dialog_shown(pilot, ConfirmScreen)
        field = dialog.query_one("#type-to-confirm", Input)
        assert field.value == "" and field.placeholder == ""  # nothing greyed that looks typed
        assert "Type web-7d9f-abcde to confirm:" in str(dialog.query_one("#type-hint").render())
        await pilot.press("enter")
        await wait_until(pilot, lambda: "nothing typed: type web-7d9f-abcde exactly to confirm" in hint(app),
                         "the empty field said", explain=lambda: hint(app))
        assert app.screen is dialog and stage.performed == []
        await pilot.press(*"web-7d9f", "enter")
        await wait_until(pilot, lambda: "'web-7d9f' is not web-7d9f-abcde" in hint(app), "the wrong name said",
                         explain=lambda: hint(app))
        assert stage.performed == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.screen.is_modal, "the delete cancelled")
        # the port dialog's remote port: a greyed example, not a bare number that looks typed
        app.push_screen(PortChoiceScreen("Pod/web-1", []))
        port = await dialog_shown(pilot, PortChoiceScreen)
        assert port.query_one("#pf-remote", Input).placeholder == "e.g. 8080"
        burst(app, "\r", "4")  # the 4 typed after the Enter is not typed into the refused field
        await wait_until(pilot, lambda: '"4" ignored: typed after the enter' in hint(app, "#pf-error"),
                         "the 4 named", explain=lambda: hint(app, "#pf-error"))
        assert "remote port: a port number 1-65535, not ''" in hint(app, "#pf-error")
        assert port.query_one("#pf-remote", Input).value == ""
        await pilot.press("escape")


async def test_the_new_environment_form_keeps_the_name_typed_ahead_and_after_the_plan(tmp_path, stage):
    world = MemoryWorld()
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        burst(app, "n", *"pr-7")  # the name typed in the burst that opens the form: kept, not lost
        await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen)
                         and app.screen.query("#input-name") and app.screen.query_one("#input-name", Input).value
                         == "pr-7", "pr-7 in the name field",
                         explain=lambda: [i.value for i in app.screen.query(Input)])
        screen = app.screen
        assert screen.query_one("#input-ttl", Input).placeholder == ""  # blank: the hint under it says 4h
        await type_into(pilot, "p0", "feature-x")

        # an Enter while the plan is on its way: said, and it creates nothing once the plan shows
        gate = asyncio.Event()
        plan = app.session.env_plan

        async def slow_plan(*args, **kwargs):
            await gate.wait()
            return await plan(*args, **kwargs)

        app.session.env_plan = slow_plan
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: "planning…" in hint(app, "#new-env-error"), "planning")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "planning… (enter ignored)" in hint(app, "#new-env-error"),
                         "the Enter said ignored", explain=lambda: hint(app, "#new-env-error"))
        gate.set()
        await wait_until(pilot, lambda: screen.plan is not None, "the plan")
        await dialog_shown(pilot, NewEnvironmentScreen, "the plan past its guard")
        assert await app.session.env_list() == [] and world.creates == {}

        await pilot.press("enter")  # Cancel is focused: back to the form
        await wait_until(pilot, lambda: screen.plan is None, "the form again")
        name = screen.query_one("#input-name", Input)
        await wait_until(pilot, lambda: app.focused is name, "the name focused")
        assert name.selected_text == "" and name.cursor_position == len("pr-7")
        await pilot.press("x")
        assert name.value == "pr-7x"
        await pilot.press("escape")


async def test_an_enter_moving_between_fields_of_the_new_environment_form_holds_the_keys_after_it(tmp_path, stage):
    """`n pr-8⏎2h⏎feat-1⏎3⏎` typed in one burst (as the terminal delivers it): each Enter moves to
    the next field and the keys after it wait for that move, so each value lands in its own field
    (none glued to the field before, none lost) and the last Enter plans what was typed."""
    from tests.tui.test_overview_enter_burst import send_burst

    world = MemoryWorld()
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await send_burst(pilot, "npr-8\r2h\rfeat-1\r3\r", "burst")

        def values() -> dict[str, str]:
            return {i.id: i.value for i in app.screen.query(Input)} if isinstance(app.screen, NewEnvironmentScreen) \
                else {}

        await wait_until(pilot, lambda: getattr(app.screen, "plan", None) is not None, "the plan of the burst",
                         explain=lambda: (values(), hint(app, "#new-env-error")))
        assert values() == {"input-name": "pr-8", "input-ttl": "2h", "input-p0": "feat-1", "input-p1": "3"}, values()
        assert app.screen.plan.env == "pr-8" and not app.keys.held
        assert await app.session.env_list() == [] and world.creates == {}  # the plan only: Cancel focused
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, NewEnvironmentScreen), "the form closed")

        # Tab moves on the same way (found in tmux: `n pr-9⇥1h⇥foo` typed all into the name)
        for ch in "npr-9\t1h\tfoo":
            event = events.Key("tab" if ch == "\t" else ch, None if ch == "\t" else ch)
            event.set_sender(app)
            app._driver.send_message(event)
        await wait_until(pilot, lambda: values().get("input-p0") == "foo" and not app.keys.held, "foo as the branch",
                         explain=values)
        assert values() == {"input-name": "pr-9", "input-ttl": "1h", "input-p0": "foo", "input-p1": "1"}, values()
