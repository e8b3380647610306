"""Clicks are guarded like keys (screens/dialog_guard.py): a double-click whose second click
lands on a dialog's action button as the dialog appears must not act. The mouse events are
posted to the app as the terminal driver posts them (Pilot's own click bypasses App.on_event,
where the guard sits), stamped with the time they were read; what is checked is the world's
side: the reconciler's pause and the store's audit rows."""

from __future__ import annotations

from textual import events
from textual.widgets import Button, Static

from screens.confirm import ConfirmScreen
from tests.tui.pilot import app_ready, dialog_shown, make_app, wait_for_audit, wait_until
from tests.tui.stage import LIVE_CONFIG

SIZE = (80, 24)


def post_click(app, widget, at: float | None = None, release_at: float | None = None) -> None:
    """A press and a release on the middle of `widget`, as read from the terminal at `at`
    (default: now) and `release_at` (default: `at`)."""
    region = widget.region
    x, y = region.x + region.width // 2, region.y + region.height // 2
    for cls, when in ((events.MouseDown, at), (events.MouseUp, release_at if release_at is not None else at)):
        event = cls(None, x, y, 0, 0, 1, False, False, False, screen_x=x, screen_y=y)
        if when is not None:
            event.time = when
        app.post_message(event)


def hint(app) -> str:
    return "".join(str(w.render()) for w in app.screen.query("#dialog-error").results(Static))


async def audit_actions(app, env: str = "staging") -> list[str]:
    return [r["action"] for r in await app.session.store.audit_entries(env, limit=50)]


async def painted_dialog(pilot) -> ConfirmScreen:
    """The pause dialog, opened with `p`, once it has been painted (its guard still running)."""
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen)
                     and pilot.app.screen._guard_shown_at is not None, "the pause dialog painted")
    return pilot.app.screen


async def test_clicks_on_the_confirm_button_act_only_once_the_dialog_could_be_seen(tmp_path, stage):
    app = make_app(tmp_path, stage, live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        state = app.session.reconciler.envs["staging"]
        dialog = await painted_dialog(pilot)
        ok = dialog.query_one("#ok", Button)
        shown = dialog._guard_shown_at

        post_click(app, ok, at=shown + 0.05)  # the double-click's second click, as the dialog appears
        await wait_until(pilot, lambda: "click ignored" in hint(app), "the click said ignored")
        post_click(app, ok, at=shown + 0.1, release_at=shown + 1.0)  # pressed early, released late: no click
        await dialog_shown(pilot, ConfirmScreen)
        await pilot.pause(0.1)
        assert app.screen is dialog and not state.paused
        assert "pause" not in await audit_actions(app)
        assert app.focused is dialog.query_one("#cancel", Button)  # the early press moved no focus

        post_click(app, ok)  # a deliberate click, after the guard: it pauses
        await wait_until(pilot, lambda: state.paused, "the pause after a deliberate click")
        assert app.screen is not dialog
        assert len(await wait_for_audit(pilot, "pause")) == 1  # finished, and only one


async def test_cancel_is_clickable_at_once(tmp_path, stage):
    app = make_app(tmp_path, stage, live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        dialog = await painted_dialog(pilot)
        post_click(app, dialog.query_one("#cancel", Button), at=dialog._guard_shown_at)
        await wait_until(pilot, lambda: app.screen is not dialog, "Cancel closing the dialog")
        assert not app.session.reconciler.envs["staging"].paused
        assert "pause" not in await audit_actions(app)
