"""`?` lists the lifecycle keys by the footer's own rule (screens/environment_actions.py
`lifecycle_keys_for`): on a destroying or failed environment Z and W read "(not now)" in help,
as the footer leaves them out; D is offered in both; on a ready one Z is offered and W is not.
Before, help listed `Z env-sleep Sleep env` and `W env-wake Wake env` as active on a destroying
environment. Real lifecycle service, store and engine over the in-memory provisioner world."""

from __future__ import annotations

import pytest

from screens.environment import EnvironmentScreen
from screens.help import HelpScreen, binding_rows
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.test_footer_agrees import footer_actions
from tests.tui.test_lifecycle_tui import (
    SMALL,
    created_and_selected,
    failed_on_overview,
    lifecycle_app,
    state_of,
)

LIFECYCLE = {"env-destroy": "env_destroy", "env-sleep": "env_sleep", "env-wake": "env_wake"}


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


def help_offers(screen) -> dict[str, bool]:
    """Lifecycle action -> listed as active (not "(not now)") in `?` of `screen`."""
    whole: dict[str, str] = {}
    binding_rows(screen, screen.app.palette, whole)
    out = {}
    for key, text in whole.items():
        ident = key.split(":", 1)[0]
        if ident in LIFECYCLE:
            out[LIFECYCLE[ident]] = not text.endswith("(not now)")
    return out


async def help_on(pilot, screen) -> dict[str, bool]:
    """Press `?` on `screen`, read its rows, close it."""
    app = pilot.app
    await pilot.press("question_mark")
    await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
    rows = app.screen._whole
    offers = {LIFECYCLE[k.split(":", 1)[0]]: not t.endswith("(not now)") for k, t in rows.items()
              if k.split(":", 1)[0] in LIFECYCLE}
    await pilot.press("escape")
    await wait_until(pilot, lambda: app.screen is screen, "help closed")
    return offers


def agrees_with_footer(offers: dict[str, bool], footer: set[str]) -> None:
    """Every lifecycle key help lists active the footer offers, and the reverse (80 columns on the
    Steps view have room for them)."""
    assert {a for a, on in offers.items() if on} == footer & set(LIFECYCLE.values()), (offers, footer)


async def steps_of(pilot, env: str) -> EnvironmentScreen:
    app = pilot.app
    app.open_env(env, view="steps")
    await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready
                     and app.screen.env == env and app.screen.active_view == "steps", f"{env}'s steps")
    await settle(pilot)
    return app.screen


async def test_destroying_environment_help_says_sleep_and_wake_not_now(tmp_path, stage, world):
    world.never_gone.update({"assets", "web", "db", "bucket", "app"})  # the destroy goes on
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await created_and_selected(pilot, app)
        overview = app.screen
        offers = await help_on(pilot, overview)
        assert offers == {"env_destroy": True, "env_sleep": True, "env_wake": False}, offers
        agrees_with_footer(offers, footer_actions(overview))
        await app.session.env_destroy("pr-3", wait=False)
        await wait_until(pilot, lambda: state_of(app, "pr-3") == "destroying", "destroying",
                         explain=lambda: state_of(app, "pr-3"))
        await wait_until(pilot, lambda: "env_sleep" not in footer_actions(overview), "Z off the footer")
        offers = await help_on(pilot, overview)
        assert offers == {"env_destroy": True, "env_sleep": False, "env_wake": False}, offers
        agrees_with_footer(offers, footer_actions(overview))
        screen = await steps_of(pilot, "pr-3")
        assert state_of(app, "pr-3") == "destroying"
        offers = await help_on(pilot, screen)
        assert offers == {"env_destroy": True, "env_sleep": False, "env_wake": False}, offers
        agrees_with_footer(offers, footer_actions(screen))
    assert app._exception is None


async def test_failed_environment_help_says_sleep_and_wake_not_now(tmp_path, stage, world):
    world.terminal["assets"] = "name taken"
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = await failed_on_overview(pilot, app, "pr-9")
        await wait_until(pilot, lambda: table.move_to_key("pr-9"), "its row")
        await settle(pilot)
        overview = app.screen
        offers = await help_on(pilot, overview)
        assert offers == {"env_destroy": True, "env_sleep": False, "env_wake": False}, offers
        agrees_with_footer(offers, footer_actions(overview))
        assert help_offers(overview) == offers
        screen = await steps_of(pilot, "pr-9")
        offers = await help_on(pilot, screen)
        assert offers == {"env_destroy": True, "env_sleep": False, "env_wake": False}, offers
        agrees_with_footer(offers, footer_actions(screen))
    assert app._exception is None
