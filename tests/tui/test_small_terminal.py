"""What an on-call engineer meets in `envdeck demo` at 80×24 and 120×40: dialogs centred
and whole, one-line toasts, causes readable to the end (a preview line under each record
table), saved logs as the lines were, not as wrapped on screen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets.data_table import ColumnKey

from screens.desired_conflict import DesiredConflictScreen
from tests.tui.pilot import app_ready, dialog_shown, drawn_keys, make_app, settle, wait_until
from tests.tui.stage import FIXED_NOW, Stage, StageAws
from tui.cli.demo import START_TOAST_WIDTH, start_toast
from tui.core.model import Event, Fault, Finding, Resource, Severity
from tui.core.overrides import Conflict
from tui.widgets.record_views import ComplianceTable, FaultsTable, RecordPreview, TimelineTable

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


# -- the cause, readable at 80×24 and 120×40 ----------------------------------------------
LONG_FINDING = ("container 'log-shipper' allows privilege escalation (securityContext.allowPrivilegeEscalation "
                "is not set to false)")
LONG_FAULT = "alarm staging-web-1-cpu-high: CPU utilisation 95% above the 80% threshold for 3 datapoints"
LONG_EVENT = "Error creating: pods \"worker-\" is forbidden: exceeded quota: compute, requested: cpu=500m"


class LongTextAws(StageAws):
    """The stage's AWS with the demo's long texts: a finding, a fault and its event."""

    def build(self) -> list[Resource]:
        out = super().build()
        out[0].findings = [Finding("k8s-privilege-escalation-not-blocked", Severity.HIGH, LONG_FINDING, INSTANCE)]
        return out

    def faults(self) -> list[Fault]:
        return [Fault(INSTANCE, Severity.HIGH, "AlarmFiringForTooLong", LONG_FAULT, FIXED_NOW - timedelta(minutes=5))]

    def events(self) -> list[Event]:
        return [Event(INSTANCE, "FailedCreateBecauseOfQuota", LONG_EVENT, FIXED_NOW - timedelta(minutes=4),
                      "Warning")]


def long_text_app(state_dir: Path, stage: Stage, view: str):
    return make_app(state_dir, stage, env="staging", view=view, aws=LongTextAws)


def fits(table) -> bool:
    return 0 < table.virtual_size.width <= table.scrollable_content_region.width


def message_cells(table) -> list[tuple[str, str]]:
    """(shown, whole) message of every row."""
    fill = table.column_keys.index(table.FILL)
    whole = [k for k, _ in table.COLUMNS].index(table.FILL)
    return [(table.get_row(key)[fill].plain, table._full[0][key][whole].plain) for key in table.row_keys]


VIEWS = [("compliance", ComplianceTable, LONG_FINDING), ("faults", FaultsTable, LONG_FAULT),
         ("timeline", TimelineTable, LONG_EVENT)]


VIEW_KEYS = {"faults": "4", "timeline": "5", "compliance": "6"}


async def check_the_message_and_its_preview(pilot, cls, long: str, least: int) -> None:
    table = pilot.app.screen.query_one(cls)
    await wait_until(pilot, lambda: any(w == long for _, w in message_cells(table)) and fits(table),
                     "the long message, in a table that fits",
                     explain=lambda: (message_cells(table), table.virtual_size, table.scrollable_content_region))
    await settle(pilot)
    assert fits(table), (table.virtual_size, table.scrollable_content_region)
    width = table.columns[ColumnKey(table.FILL)].width
    assert width >= least, (width, table.column_keys)
    for shown, whole in message_cells(table):  # whole, or cut with "…"
        assert shown == whole or (shown.endswith("…") and whole.startswith(shown[:-1])), (shown, whole)
        assert len(shown) <= width
    assert table.move_to_key(next(k for k in table.row_keys if table._full[0][k][-1].plain == long))
    await settle(pilot)
    preview = table.preview
    assert isinstance(preview, RecordPreview)
    size = pilot.app.size
    assert preview.region.y >= table.region.bottom and preview.region.height * size.width > len(long)
    assert " ".join(str(preview.render()).split()) == long, preview.render()


@pytest.mark.parametrize(("size", "least"), [((80, 24), 26), ((120, 40), 38)], ids=["80x24", "120x40"])
async def test_the_message_gets_the_width_left_and_the_preview_shows_it_whole(tmp_path, stage, size, least):
    """Each record view in turn (its key, as a user switches), in one app per size: every
    view is checked even when another fails, and the failures are reported by view."""
    app = long_text_app(tmp_path, stage, VIEWS[0][0])
    failures: dict[str, AssertionError] = {}
    async with app.run_test(size=size) as pilot:
        await app_ready(pilot)
        screen = app.screen
        for view, cls, long in VIEWS:
            try:
                if screen.active_view != view:
                    await pilot.press(VIEW_KEYS[view])
                    await wait_until(pilot, lambda v=view: screen.active_view == v, f"the {view} view")
                await check_the_message_and_its_preview(pilot, cls, long, least)
            except AssertionError as exc:
                failures[view] = exc
    assert not failures, failures


# -- the bulk delete dialog at 80×24 ------------------------------------------------------
async def test_bulk_delete_dialog_keeps_its_input_and_buttons_and_says_a_wrong_name(tmp_path, stage):
    from textual.widgets import Button, Input, Static

    from screens.confirm import ConfirmScreen
    from tui.messages import ConfirmRequest

    pods = [f"kubernetes/Pod/worker-h224j7m5fl-{i:05d}" for i in range(14)]
    app = make_app(tmp_path, stage, env="staging")
    chosen: list[object] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        app.push_screen(ConfirmScreen(ConfirmRequest(title=f"Delete pod: {len(pods)} resources in prod?",
                                                     details=pods, type_to_confirm="prod", destructive=True,
                                                     confirm_label="Delete pod")), chosen.append)
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await settle(pilot)
        dialog = app.screen.query_one("#dialog").region
        details = [str(s.render()) for s in app.screen.query(".detail")]
        assert details[-1].startswith("… and ") and details[-1].endswith(" more"), details
        assert len(details) - 1 + int(details[-1].split()[2]) == len(pods)
        for widget in [app.screen.query_one("#type-to-confirm", Input), *app.screen.query(Button)]:
            region = widget.region
            assert region.height > 0 and dialog.y <= region.y and region.bottom <= dialog.bottom <= 24, \
                (widget, region, dialog)
        await pilot.press(*"staging", "enter")
        await settle(pilot)
        error = app.screen.query_one("#dialog-error", Static)
        assert "'staging' is not prod" in str(error.render())
        assert error.region.height > 0 and error.region.bottom <= app.screen.query_one("#dialog").region.bottom
        assert isinstance(app.screen, ConfirmScreen) and chosen == []
        await pilot.press("ctrl+u", *"prod", "enter")
        await wait_until(pilot, lambda: chosen == [{}], "confirmed with the right name")


# -- the footer at 80 columns -------------------------------------------------------------
def footer_keys(app) -> dict[str, object]:

    return {key.description: key for key in drawn_keys(app.screen)}


async def test_the_footer_offers_only_the_actions_the_selected_item_has_and_fills_the_last_column(tmp_path, stage):
    from tui.widgets.resource_table import ResourceTable

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Deployment/web"), "the Deployment")
        await wait_until(pilot, lambda: "Restart" in footer_keys(app), "r Restart on a Deployment",
                         explain=lambda: list(footer_keys(app)))
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Pod/api-5c8b-xyz12"), "the Pod")
        await wait_until(pilot, lambda: "Restart" not in footer_keys(app), "no r Restart on a Pod",
                         explain=lambda: list(footer_keys(app)))
        app.clear_notifications()
        await pilot.press("r")
        await settle(pilot)
        # the key is off; pressed, it says why in one line (the stage's pods name no owner)
        assert [n.message for n in app._notifications] == [
            "Pods cannot be restarted; restart the workload that runs them"]
        await pilot.press("ctrl+a")  # marked: a Deployment among them can restart
        await wait_until(pilot, lambda: "Restart" in footer_keys(app), "r Restart with the Deployment marked",
                         explain=lambda: list(footer_keys(app)))
        palette = footer_keys(app)["Palette"]
        assert palette.region.right == 80, palette.region  # no stray character after it


# -- the overview's REPAIR column at 80 columns ---------------------------------------------
async def test_overview_says_paused_whole_at_80_columns(tmp_path, stage):
    from screens.confirm import ConfirmScreen
    from screens.overview import EnvironmentsTable

    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: table.row_count >= 1, "the environments")
        await pilot.press("p")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press("left", "enter")

        def rows() -> list[str]:
            return ["".join(s.text for s in table.render_line(y)) for y in range(1, table.row_count + 1)]

        await wait_until(pilot, lambda: any(line.rstrip().endswith("PAUSED") for line in rows()),
                         "PAUSED whole in the REPAIR column", explain=rows)
        assert table.virtual_size.width <= table.scrollable_content_region.width


# -- help at 80 columns -------------------------------------------------------------------
async def test_help_shows_the_selected_keys_whole_text_under_the_table(tmp_path, stage):
    from textual.widgets import Static

    from screens.help import HelpScreen
    from tui.widgets.keyed_table import KeyedTable

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        table = app.screen.query_one(KeyedTable)
        key = next(k for k in table.row_keys if k.startswith("command-line:"))
        whole = table.cells_of(key)[2].plain
        assert whole.startswith("Command — :staging, :pods, :drift, :overview")
        assert table.move_to_key(key)
        await settle(pilot)
        preview = app.screen.query_one("#help-preview", Static)
        assert " ".join(str(preview.render()).split()).endswith(" ".join(whole.split()))
        assert preview.region.height >= 2 and preview.region.bottom <= 24


# -- toasts at 80 columns -----------------------------------------------------------------
async def test_a_cut_toast_keeps_what_became_of_the_action(tmp_path, stage):
    from tui.messages import ActionFinished

    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        app.post_message(ActionFinished("staging", "Stop staging-bastion", True,
                                        "instance i-0abc123 is stopping; it was running for 40 days on t3.micro "
                                        "(kept as desired)"))
        await wait_until(pilot, lambda: any("staging-bastion" in n.message for n in app._notifications), "the toast",
                         explain=lambda: [n.message for n in app._notifications])
        (toast,) = [n.message for n in app._notifications if "staging-bastion" in n.message]
        assert "\n" not in toast and len(toast) <= 80 * 9 // 10 - 6, toast
        assert toast.endswith("… (kept as desired)"), toast


async def test_the_detail_footer_offers_only_the_actions_its_resource_has(tmp_path, stage):
    """The resource detail's footer, like the table's: no `r Restart` on a Pod, and `r` there only says why."""
    from screens.resource_detail import ResourceDetailScreen
    from tui.widgets.resource_table import ResourceTable

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Pod/api-5c8b-xyz12"), "the Pod")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the Pod's detail")
        await wait_until(pilot, lambda: "Logs" in footer_keys(app) and "Restart" not in footer_keys(app),
                         "no r Restart on a Pod's detail", explain=lambda: list(footer_keys(app)))
        app.clear_notifications()
        await pilot.press("r")
        await settle(pilot)
        # the key is off; pressed, it says why in one line, as on the table (nothing restarted)
        assert [n.message for n in app._notifications] == [
            "Pods cannot be restarted; restart the workload that runs them"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Deployment/web"), "the Deployment")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen)
                         and "Restart" in footer_keys(app), "r Restart on a Deployment's detail",
                         explain=lambda: list(footer_keys(app)))
