"""Keys typed ahead never confirm (on-call finding, tmux 80×24 over a laggy link): a burst such
as `tmux send-keys p Enter` reaches envdeck in one read, and its Enter used to confirm the pause
dialog the `p` had just opened. Every dialog that acts ignores a key that would confirm when it
was pressed before the dialog was shown or within its guard after (screens/dialog_guard.py);
Esc and the focus keys still work; once the dialog has been seen, the same key confirms.

Bursts are posted as the terminal driver delivers them: every key event made at once, before
the first is handled. What is checked is the world's side: the stage's performed calls, the
reconciler's pause, the store's audit rows and created environments."""

from __future__ import annotations

import pytest
from textual import events
from textual._time import get_time
from textual.widgets import Input, Static

from screens.confirm import ConfirmScreen
from screens.desired_conflict import SET_DESIRED, DesiredConflictScreen
from screens.environment import EnvironmentScreen
from screens.overview import EnvironmentsTable, OverviewScreen
from screens.port_choice import ForwardRequest, PortChoiceScreen
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, dialog_shown, make_app, settle, wait_until
from tests.tui.stage import LIVE_CONFIG
from tests.tui.test_lifecycle_tui import (
    SMALL,
    created_and_selected,
    lifecycle_app,
    open_new_environment,
    type_into,
)
from tui.core.overrides import Conflict
from tui.core.port_forward import ForwardPort
from tui.widgets.resource_table import ResourceTable

KEY_NAMES = {"\r": "enter", " ": "space"}


def burst(app, *keys: str, age: float = 0.0) -> None:
    """Keys as one read of the terminal delivers them: all made (and time-stamped) at once;
    `age`: read that many seconds ago (typed before a dialog shown since, still in the queue)."""
    for key in keys:
        name = KEY_NAMES.get(key, key)
        event = events.Key(name, key if len(key) == 1 and key not in KEY_NAMES else None)
        event.time -= age
        app.post_message(event)


def hint(app, line: str = "#dialog-error") -> str:
    found = app.screen.query(line).results(Static)  # none while the dialog is being composed
    return "".join(str(w.render()) for w in found)


async def ignored(pilot, cls, key: str = "enter") -> None:
    """The dialog is up and says that `key` was ignored (not confirmed, not closed)."""
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, cls) and f"{key} ignored" in hint(pilot.app),
                     f"{key} ignored by the dialog", explain=lambda: (pilot.app.screen, pilot.app.focused))


async def audit_actions(app, env: str = "staging") -> list[str]:
    return [r["action"] for r in await app.session.store.audit_entries(env, limit=50)]


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


async def test_p_enter_in_one_burst_on_the_overview_pauses_nothing(tmp_path, stage):
    app = make_app(tmp_path, stage, live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        state = app.session.reconciler.envs["staging"]
        assert app.screen.query_one(EnvironmentsTable).cursor_key == "staging"
        burst(app, "p", "\r")
        await ignored(pilot, ConfirmScreen)
        await pilot.pause(0.3)  # past the guard: still nothing, the dialog waits for a choice
        assert isinstance(app.screen, ConfirmScreen) and not state.paused
        assert "pause" not in await audit_actions(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the dialog cancelled")
        # Esc is never held back: typed before the dialog was shown, it still cancels
        burst(app, "p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the pause dialog")
        burst(app, "escape", age=1.0)
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the early Esc to cancel")
        # pilot.press in one call: nothing paused, whether the Enter came within the guard or later
        await pilot.press("p", "enter")
        await pilot.pause(0.3)
        assert not state.paused and "pause" not in await audit_actions(app)
        if isinstance(app.screen, ConfirmScreen):
            await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the dialog gone")
        # the focus moved to Pause in the burst (arrows work): the Enter is still too early
        burst(app, "p", "left", "\r")
        await ignored(pilot, ConfirmScreen)
        assert app.focused.id == "ok" and not state.paused
        assert "pause" not in await audit_actions(app)
        # once seen, the same Enter confirms
        await dialog_shown(pilot, ConfirmScreen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: state.paused, "staging paused")
        assert (await audit_actions(app)).count("pause") == 1


async def test_bursts_on_a_deployment_run_no_action(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        env_screen = app.screen
        state = app.session.reconciler.envs["staging"]
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Deployment/web"), "Deployment/web")
        await settle(pilot)
        for keys in (("r", "\r"), ("r", "space"), ("r", "ctrl+y"), ("p", "\r"), ("p", "o", "\r"),
                     ("p", "x", "\r"), ("p", "j", "\r"), ("S", "\r")):
            burst(app, *keys)
            await ignored(pilot, ConfirmScreen, KEY_NAMES.get(keys[-1], keys[-1]))
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is env_screen, f"{keys}: the dialog cancelled")
        assert stage.performed == [] and not state.paused
        assert await audit_actions(app) == []
        # scale's count typed ahead stays in its field (typing is not acting), its Enter waits
        burst(app, "S")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the scale dialog")
        burst(app, "5", "\r", age=1.0)
        await ignored(pilot, ConfirmScreen)
        assert app.screen.query_one("#param-replicas", Input).value == "5"
        assert stage.performed == []
        await dialog_shown(pilot, ConfirmScreen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: stage.performed, "the scale")
        assert stage.performed == [("staging", "kubernetes/Deployment/web", "scale", {"replicas": "5"})]


async def test_destroy_and_sleep_typed_ahead_hand_nothing_over(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await created_and_selected(pilot, app)
        burst(app, "Z", "\r")
        await ignored(pilot, ConfirmScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.screen.is_modal, "the sleep cancelled")
        # the name typed ahead is dropped, not typed (it is typed once the dialog was read), and the
        # dialog says so; the Enter does not destroy
        burst(app, "D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the destroy dialog")
        burst(app, *"pr-3", "\r", age=1.0)
        await ignored(pilot, ConfirmScreen)
        assert app.screen.query_one("#type-to-confirm", Input).value == ""
        assert '"pr-3", enter ignored' in hint(app), hint(app)
        stored = await app.session.env_get("pr-3")
        assert stored.state == "ready" and app.managed["pr-3"].state == "ready"
        assert not [r for r in await app.session.store.audit_entries("pr-3", limit=50)
                    if r["action"].startswith("env-")], "a lifecycle request was audited"
        await dialog_shown(pilot, ConfirmScreen)
        await pilot.press(*"pr-3")  # typed again, once the dialog has been seen
        await pilot.press("enter")
        await wait_until(pilot, lambda: getattr(app.managed.get("pr-3"), "state", "gone") != "ready",
                         "pr-3 handed over for destruction")


async def test_the_plan_of_a_new_environment_is_not_created_by_a_key_typed_ahead(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_new_environment(pilot)
        await type_into(pilot, "name", "pr-42")
        await type_into(pilot, "p0", "feature-x")
        burst(app, "ctrl+y", "ctrl+y")  # plan, and create typed ahead before the plan is shown
        await wait_until(pilot, lambda: screen.plan is not None, "the plan")
        # as the plan appears: stamped at the moment it was painted (a loaded machine may handle the
        # key long after; the stamp, not the handling, decides)
        await wait_until(pilot, lambda: screen._guard_shown_at is not None, "the plan painted")
        burst(app, "ctrl+y", age=get_time() - screen._guard_shown_at)
        await wait_until(pilot, lambda: "ctrl+y ignored" in hint(app, "#new-env-error"),
                         "ctrl+y ignored on the plan")
        assert screen.plan is not None and await app.session.env_list() == [] and world.creates == {}
        await dialog_shown(pilot, type(screen), "the plan past its guard")
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: "pr-42" in app.managed, "the created environment")


async def test_conflict_and_port_dialogs_ignore_keys_typed_ahead(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        results: list[object] = []
        conflict = Conflict("kubernetes/Deployment/web", "replicas", 3, 5)
        app.push_screen(DesiredConflictScreen("Scale web", "staging", [conflict]), results.append)
        burst(app, "d", "h", "\r")
        await ignored(pilot, DesiredConflictScreen)
        assert results == []
        await dialog_shown(pilot, DesiredConflictScreen)
        await pilot.press("d")
        await wait_until(pilot, lambda: results == [SET_DESIRED], "keep as desired chosen")
        assert isinstance(app.screen, EnvironmentScreen)

        app.push_screen(PortChoiceScreen("Pod/web-1", [ForwardPort(8080, "http")]), results.append)
        burst(app, "\r")
        await wait_until(pilot, lambda: isinstance(app.screen, PortChoiceScreen)
                         and "enter ignored" in hint(app, "#pf-error"), "enter ignored")
        assert results == [SET_DESIRED]
        await dialog_shown(pilot, PortChoiceScreen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(results) == 2, "the port chosen")
        assert results[1] == ForwardRequest(8080, None)


async def test_left_then_enter_in_one_burst_confirms_and_right_then_enter_cancels(tmp_path, stage):
    """`left⏎` typed at once in a dialog shown a while ago (a fast typist, a laggy link): the Enter
    waits until `left` moved the focus to the action's button and presses it; its Enter pressed
    Cancel, still focused when it arrived, and nothing was paused. `right⏎` from there cancels."""
    app = make_app(tmp_path, stage)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        env = app.screen.query_one(EnvironmentsTable).cursor_key
        for keys, paused in ((("left", "enter"), True), (("left", "right", "enter"), True),
                             (("left", "enter"), False)):
            await pilot.press("p")
            dialog = await dialog_shown(pilot, ConfirmScreen)
            for key in keys:  # one read of the terminal: every key in the queue before the first is handled
                event = events.Key(key, None)
                event.set_sender(app)
                app._driver.send_message(event)
            await wait_until(pilot, lambda d=dialog: not d.is_attached and not app.keys.held, "the dialog closed")
            await wait_until(pilot, lambda p=paused: app.session.state(env).paused is p, f"paused={paused}",
                             timeout=5)
            await settle(pilot)
        rows = [r["action"] for r in await app.session.store.audit_entries(env, limit=20)]
        assert rows == ["resume", "pause"], rows  # newest first: the `left right⏎` one ran nothing
