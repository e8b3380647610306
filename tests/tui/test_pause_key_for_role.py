"""`p` (pause or resume an environment's repairs) is offered in the footer only to a role that may
pause (the PAUSE permission: operator and up, not --read-only), on the environment screen (where a
paused environment's footer leads with `p Resume`) and on the overview alike. A viewer's `p` stays
bound (pressed, it is refused, audited and explained), it is only not offered. The policy decides
alone: no backend is asked. Driven through the real app (Pilot) on the TUI stage; alice (admin)
pauses staging through the store, as another envdeck of the team would."""

from __future__ import annotations

import pytest

from tests.tui.pilot import app_ready, drawn_keys, make_app, settle, wait_until
from tests.tui.stage import FIXED_NOW

CASES = [("vera", False, False), ("oscar", False, True), ("oscar", True, False), ("alice", False, True)]
IDS = ["viewer", "operator", "operator-read-only", "admin"]


def footer_keys(app) -> list[tuple[str, str]]:
    return [(k.key, k.description) for k in drawn_keys(app.screen)]


async def paused_by_alice(app) -> None:
    session = app.session
    await session.store.set_pause("staging", user="alice", reason="incident", at=FIXED_NOW)
    await session.reconciler.load_pause("staging")


@pytest.mark.parametrize(("user", "read_only", "offered"), CASES, ids=IDS)
async def test_p_resume_is_offered_on_the_environment_screen_only_to_who_may_pause(tmp_path, stage, user,
                                                                                  read_only, offered):
    app = make_app(tmp_path, stage, env="staging", user=user, read_only=read_only)
    async with app.run_test(size=(120, 24)) as pilot:
        await app_ready(pilot)
        screen = app.screen
        await paused_by_alice(app)
        # the footer has followed the paused state (its status bar and `_footer_state`) before it is read
        await wait_until(pilot, lambda: getattr(screen, "_footer_state", (None, False))[1] is True,
                         "the footer re-read for the paused state")
        await settle(pilot)
        shown = footer_keys(app)
        assert (("p", "Resume") in shown) is offered, shown
        assert all(key != "p" for key, _ in shown) or offered, shown


@pytest.mark.parametrize(("user", "read_only", "offered"), CASES, ids=IDS)
async def test_p_is_offered_on_the_overview_only_to_who_may_pause(tmp_path, stage, user, read_only, offered):
    app = make_app(tmp_path, stage, user=user, read_only=read_only)
    async with app.run_test(size=(120, 24)) as pilot:
        await app_ready(pilot)
        await wait_until(pilot, lambda: ("q", "Quit") in footer_keys(app), "the overview's footer",
                         explain=lambda: footer_keys(app))
        shown = footer_keys(app)
        assert (("p", "Pause") in shown) is offered, shown
        await paused_by_alice(app)
        app.screen.refresh_bindings()
        await settle(pilot)
        shown = footer_keys(app)
        assert (("p", "Resume") in shown) is offered and (("p", "Pause") not in shown), shown
