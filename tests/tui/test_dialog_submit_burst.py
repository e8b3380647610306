"""A dialog's field takes nothing typed after the Enter that submits it (on-call finding, tmux
80×24): `S`, then `2 Enter 1` in one burst scaled web to 21 — the `1`, meant for the Resources
view, was typed into the count before the dialog read it. The keys after the submitting Enter
now wait and go to the screen below once the dialog is gone, in order; when the dialog refuses
the value they are dropped and named under its error. A count is a whole number, 0 or more,
checked in the dialog for every kind that scales. A key refused within the guard window after
the dialog painted says "too soon", not "typed before this dialog was shown".

Bursts are posted as the terminal driver delivers them (test_dialog_typeahead's `burst`); the
stage counts the actions performed."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from screens.confirm import ConfirmScreen
from screens.env_views import VIEWS
from tests.tui.pilot import app_ready, dialog_shown, make_app, settle, wait_until
from tests.tui.test_dialog_typeahead import burst, hint
from tests.tui.test_lifecycle_tui import SMALL
from tui.widgets.resource_table import ResourceTable

WEB = "kubernetes/Deployment/web"
ECS = "aws/ecs-service/main/api"


async def open_scale(pilot, env_screen, resource: str) -> ConfirmScreen:
    table = env_screen.query_one(ResourceTable)
    await wait_until(pilot, lambda: table.move_to_key(resource), resource)
    await settle(pilot)
    await pilot.press("S")
    return await dialog_shown(pilot, ConfirmScreen, "the scale dialog past its guard")


async def test_keys_after_the_submitting_enter_go_to_the_screen_below_not_into_the_count(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        env_screen = app.screen
        assert env_screen.active_view == VIEWS[0] != VIEWS[3]
        await open_scale(pilot, env_screen, WEB)
        burst(app, "2", "\r", "4")  # the count (replacing the current 3), Enter, then `4`: Faults below
        await wait_until(pilot, lambda: stage.performed, "the scale")
        assert stage.performed == [("staging", WEB, "scale", {"replicas": "2"})]
        await wait_until(pilot, lambda: app.screen is env_screen and env_screen.active_view == VIEWS[3],
                         "the 4 typed after Enter acting on the environment screen",
                         explain=lambda: (app.screen, env_screen.active_view))

        # a value the dialog refuses: the keys typed after its Enter are dropped and named, not typed
        await pilot.press("1")
        await wait_until(pilot, lambda: env_screen.active_view == VIEWS[0], "back on Resources")
        dialog = await open_scale(pilot, env_screen, WEB)
        burst(app, "x", "\r", "1", "4")
        await wait_until(pilot, lambda: '"14" ignored: typed after the enter' in hint(app), "the keys named",
                         explain=lambda: hint(app))
        assert "replicas must be a whole number, 0 or more; got 'x'" in hint(app)
        assert dialog.query_one("#param-replicas", Input).value == "x"
        assert app.screen is dialog and env_screen.active_view == VIEWS[0]
        assert len(stage.performed) == 1
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is env_screen, "the scale cancelled")


async def test_a_count_is_a_whole_number_checked_in_the_dialog_for_every_kind_that_scales(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        env_screen = app.screen
        for resource, name in ((WEB, "replicas"), (ECS, "desired_count")):
            dialog = await open_scale(pilot, env_screen, resource)
            field = dialog.query_one(f"#param-{name}", Input)
            for typed in ("5d", "-1", "2.5", " "):
                field.value = typed
                expected = (f"{name} is required" if not typed.strip() else
                            f"{name} must be a whole number, 0 or more; got {typed!r}")
                await pilot.press("enter")
                await wait_until(pilot, lambda e=expected: e in hint(app), expected, explain=lambda: hint(app))
                assert app.screen is dialog and stage.performed == []
            field.value = "07"
            await pilot.press("enter")
            await wait_until(pilot, lambda: stage.performed, f"{resource} scaled")
            assert stage.performed == [("staging", resource, "scale", {name: "7"})]
            stage.performed.clear()
            await wait_until(pilot, lambda: app.screen is env_screen, "the dialog gone")


async def test_a_key_refused_after_the_dialog_painted_says_too_soon_not_typed_before(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        env_screen = app.screen
        table = env_screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key(WEB), WEB)
        await settle(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen)
                         and app.screen._guard_shown_at is not None, "the restart dialog painted")
        dialog = app.screen
        painted = dialog._guard_shown_at
        for name in ("left", "enter"):  # stamped 100 ms after the paint: within the 250 ms guard
            event = events.Key(name, None)
            event.time = painted + 0.1
            app.post_message(event)
        await wait_until(pilot, lambda: "enter ignored" in hint(app), "the Enter refused", explain=lambda: hint(app))
        line = hint(app)
        assert line == "enter ignored: too soon after it opened — press again", line
        error = dialog.query_one("#dialog-error")
        assert error.size.height == 1 and error.region.width >= len(line), (error.region, line)
        assert app.focused.id == "ok" and stage.performed == []  # the Left moved the focus; nothing restarted
        # a key stamped before the paint is still said to be typed before the dialog was shown
        event = events.Key("enter", None)
        event.time = painted - 0.01
        app.post_message(event)
        await wait_until(pilot, lambda: "typed before this dialog was shown" in hint(app), "the early Enter",
                         explain=lambda: hint(app))
        assert stage.performed == []
        await dialog_shown(pilot, ConfirmScreen)
        await pilot.press("enter")  # deliberate, once seen: it acts
        await wait_until(pilot, lambda: stage.performed, "the restart")
        assert [p[2] for p in stage.performed] == ["restart"]
