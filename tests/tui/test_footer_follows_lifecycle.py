"""The footer's lifecycle keys follow the selected environment's state (on-call findings, session
9): after a sleep the row's footer offers `W Wake`, after the wake `Z Sleep` again, without the
cursor moving, on the overview and on the environment's screen; a failed environment is not
offered Z, and Z there says at once why (no confirmation first).

Real collaborators as in test_lifecycle_tui.py: the lifecycle service, store and engine, the
in-memory provisioner world, the config's environments from the in-memory stage."""

from __future__ import annotations

import pytest

from screens.confirm import ConfirmScreen
from screens.environment import EnvironmentScreen
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.test_footer_agrees import footer_actions, notes
from tests.tui.test_lifecycle_tui import (
    SMALL,
    created_and_selected,
    failed_on_overview,
    lifecycle_app,
    state_of,
)


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


async def test_footer_offers_wake_after_sleep_and_sleep_after_wake(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await created_and_selected(pilot, app)
        overview = app.screen
        assert "env_sleep" in footer_actions(overview)
        await app.session.env_sleep("pr-3", wait=False)   # the cursor stays where it is
        await wait_until(pilot, lambda: state_of(app, "pr-3") == "sleeping", "asleep")
        await wait_until(pilot, lambda: "env_wake" in footer_actions(overview), "W offered",
                         explain=lambda: footer_actions(overview))
        assert "env_sleep" not in footer_actions(overview)
        await app.session.env_wake("pr-3", wait=False)
        await wait_until(pilot, lambda: state_of(app, "pr-3") == "ready", "awake")
        await wait_until(pilot, lambda: "env_sleep" in footer_actions(overview), "Z offered again",
                         explain=lambda: footer_actions(overview))
        assert "env_wake" not in footer_actions(overview)
        # the environment's screen alike
        app.open_env("pr-3", view="steps")  # its footer has room for the lifecycle keys at 80 columns
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready
                         and app.screen.active_view == "steps", "pr-3's steps")
        screen = app.screen
        await settle(pilot)
        assert "env_sleep" in footer_actions(screen)
        await app.session.env_sleep("pr-3", wait=False)
        await wait_until(pilot, lambda: state_of(app, "pr-3") == "sleeping", "asleep")
        await wait_until(pilot, lambda: "env_wake" in footer_actions(screen), "W offered on its screen",
                         explain=lambda: footer_actions(screen))
        assert "env_sleep" not in footer_actions(screen)


async def test_failed_environment_is_not_offered_sleep_and_z_says_why(tmp_path, stage, world):
    world.terminal["assets"] = "name taken"
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = await failed_on_overview(pilot, app, "pr-9")
        await wait_until(pilot, lambda: table.move_to_key("pr-9"), "its row")
        await settle(pilot)
        overview = app.screen
        assert "env_destroy" in footer_actions(overview)
        assert not {"env_sleep", "env_wake"} & footer_actions(overview), footer_actions(overview)
        why = "cannot sleep pr-9: it is failed (sleep needs ready)"
        app.clear_notifications()
        await pilot.press("Z")
        await wait_until(pilot, lambda: why in notes(app), "Z says why", explain=lambda: notes(app))
        assert not isinstance(app.screen, ConfirmScreen)
        app.open_env("pr-9", view="steps")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready
                         and app.screen.active_view == "steps", "pr-9's steps")
        await settle(pilot)
        assert not {"env_sleep", "env_wake"} & footer_actions(app.screen), footer_actions(app.screen)
        app.clear_notifications()
        await pilot.press("Z")
        await wait_until(pilot, lambda: why in notes(app), "Z says why there too", explain=lambda: notes(app))
        assert not isinstance(app.screen, ConfirmScreen)
