"""Who paused an environment's repairs is visible in an 80-column terminal: the environment screen's
status bar reads `REPAIRS PAUSED by alice` (the title, cut at 80 columns, no longer the only place
that names who paused). And the TUI's `p` on an environment someone else paused in the meantime
(this TUI had not read that pause yet) leaves their pause as it is and says whose it is; the key
then offers Resume. Driven through the real app (Pilot) on the TUI stage; alice pauses staging
through the store, as another envdeck of the team would."""

from __future__ import annotations

from screens.confirm import ConfirmScreen
from tests.tui.pilot import app_ready, dialog_shown, drawn_keys, make_app, settle, wait_until
from tests.tui.stage import FIXED_NOW
from tui.core.env_state import RepairPause
from tui.widgets.status_bar import StatusBar

ALICES = RepairPause("alice", "2026-01-01T00:00:00Z", "INC-42 keep web at 7")


def bar_line(app) -> str:
    """The status bar's line as painted (its width: what the terminal shows of it)."""
    bar = app.screen.query_one(StatusBar)
    return bar.render_line(0).text


async def test_who_paused_shows_in_the_status_bar_at_80_columns(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", user="oscar")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        session = app.session
        assert await session.store.set_pause("staging", user="alice", reason=ALICES.reason, at=FIXED_NOW) is None
        await session.reconciler.load_pause("staging")
        await wait_until(pilot, lambda: "REPAIRS PAUSED by alice" in bar_line(app), "the bar to name alice",
                         explain=lambda: bar_line(app))
        assert len(bar_line(app)) <= 80


async def test_p_on_an_environment_someone_paused_meanwhile_leaves_their_pause(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", user="oscar")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        session = app.session
        # alice's envdeck pauses staging; this TUI has not read the store since
        await session.store.set_pause("staging", user="alice", reason=ALICES.reason, at=FIXED_NOW)
        alices = await session.store.pause("staging")
        assert not session.state("staging").paused

        await pilot.press("p")
        await dialog_shown(pilot, ConfirmScreen, "the pause dialog")
        await pilot.press("left", "enter")  # the dialog focuses Cancel: Pause is on its left

        def notices() -> list[str]:
            return [str(n.message) for n in app._notifications]

        await wait_until(pilot, lambda: any("already paused by alice" in n for n in notices()),
                         "the notice naming alice's pause", explain=notices)
        shown = next(n for n in notices() if "already paused by alice" in n)
        assert f"staging is already paused by alice since {alices.at} (INC-42 keep web at 7); nothing done" in shown
        assert await session.store.pause("staging") == alices  # unchanged: user, time and reason
        assert session.state("staging").paused and session.state("staging").pause == alices
        await settle(pilot)
        await wait_until(pilot, lambda: ("p", "Resume") in [(k.key, k.description)
                                                              for k in drawn_keys(app.screen)],
                         "the footer to offer Resume")
        rows = [(r["user"], r["action"], r["message"]) for r in await session.store.audit_entries("staging", limit=5)
                if r["action"] in ("pause", "resume")]
        assert rows[0] == ("oscar", "pause", f"already paused by alice since {alices.at} "
                                             "(INC-42 keep web at 7); nothing done"), rows
