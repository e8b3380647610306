"""What an on-call engineer meets in `envdeck demo` at 80×24 and 120×40: dialogs centred
and whole, one-line toasts, causes readable to the end (a preview line under each record
table), saved logs as the lines were, not as wrapped on screen."""

from __future__ import annotations

from pathlib import Path

from screens.desired_conflict import DesiredConflictScreen
from tests.tui.conftest import app_ready, make_app, settle, wait_until
from tui.cli.demo import START_TOAST_WIDTH, start_toast
from tui.core.overrides import Conflict

INSTANCE = "aws/ec2-instance/i-0abc123"


def conflict_screen() -> DesiredConflictScreen:
    return DesiredConflictScreen("Stop staging-bastion", "staging",
                                 [Conflict(INSTANCE, "state", "running", "stopped")],
                                 names={INSTANCE: "staging-bastion"})


async def test_conflict_dialog_is_centred_over_the_screen_and_names_the_resource(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        app.push_screen(conflict_screen())
        await wait_until(pilot, lambda: isinstance(app.screen, DesiredConflictScreen), "the conflict dialog")
        await settle(pilot)
        dialog = app.screen.query_one("#dialog")
        region = dialog.region
        assert region.x > 0 and region.y > 0, region  # was drawn at the top-left
        assert region.right < 80 and region.bottom < 24, region
        text = " ".join(str(s.render()) for s in app.screen.query(".detail"))
        assert "staging-bastion (i-0abc123) state: desired 'running'" in text, text
        buttons = [b.region for b in app.screen.query("Button")]
        assert all(b.bottom <= region.bottom for b in buttons), (buttons, region)


def test_conflict_dialog_snapshot_80x24(snap_compare, tmp_path, stage):
    async def run(pilot):
        await app_ready(pilot)
        pilot.app.push_screen(conflict_screen())
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DesiredConflictScreen), "the conflict dialog")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path, stage, env="staging"), terminal_size=(80, 24), run_before=run)


def test_demo_start_toast_is_one_line_naming_demo_env():
    env_file = Path("/tmp/envdeck-demo-_fmztfon/demo.env")
    line = start_toast(env_file)
    assert "\n" not in line and len(line) <= START_TOAST_WIDTH, line
    assert str(env_file) in line
    long = Path("/very/long/temporary/directory/of/a/user/with/a/deep/home/envdeck-demo-abcdefgh/demo.env")
    line = start_toast(long)
    assert len(line) <= START_TOAST_WIDTH and line.endswith("demo.env"), line
