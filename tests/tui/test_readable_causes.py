"""What an on-caller reads first must fit an 80×24 terminal: the cause (status, fault
message, event) without scrolling sideways, resources by the names people gave them,
and the resource detail with its faults, events and conditions (issue 13: 6, 7, 8)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.stage import FIXED_NOW, Stage, StageAws
from tui.core.model import Event, Fault, Severity
from tui.widgets.record_views import FaultsTable, TimelineTable

INSTANCE = "aws/ec2-instance/i-0abc123"
CHECK_MESSAGE = "instance status check failed: reachability impaired since 02:55 (ENI eth0 not attached)"


class AwsWithFault(StageAws):
    """The stage's AWS, with a failing instance status check (a fault and its event)."""

    def faults(self) -> list[Fault]:
        return [Fault(INSTANCE, Severity.HIGH, "StatusCheckFailed", CHECK_MESSAGE, FIXED_NOW - timedelta(minutes=5))]

    def events(self) -> list[Event]:
        return [Event(INSTANCE, "StatusCheckFailed", CHECK_MESSAGE, FIXED_NOW - timedelta(minutes=5), "Warning")]


def make(state_dir: Path, stage: Stage, view: str | None):
    return make_app(state_dir, stage, env="staging", view=view, aws=AwsWithFault)


def lines(table) -> list[str]:
    return ["".join(s.text for s in table.render_line(y)) for y in range(table.row_count + 1)]


def fits(table) -> bool:
    return 0 < table.virtual_size.width <= table.scrollable_content_region.width


def shows(table, pattern: str) -> bool:
    """A line as drawn matches: DataTable measures new cells when idle, so a check between
    sync() and that idle sees the header widths (a slow machine catches it there)."""
    return any(re.search(pattern, line) for line in lines(table))


async def test_faults_at_80x24_keep_reason_and_give_the_message_the_rest(tmp_path, stage):
    app = make(tmp_path, stage, "faults")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(FaultsTable)
        await wait_until(pilot, lambda: table.row_count == 3 and fits(table)
                         and shows(table, "CrashLoopBackOff.*back-off 5m0s restart"), "three faults that fit",
                         explain=lambda: (table.row_count, table.virtual_size, lines(table)))
        assert table.column_keys == ["resource", "reason", "message"]
        shown = lines(table)
        crash = next(line for line in shown if "CrashLoopBackOff" in line)  # the reason whole, not "CrashL"
        assert "back-off 5m0s restart" in crash  # and the message readable, not "con"
        assert any("instance status check failed" in line for line in shown), shown
        assert all(line.rstrip().endswith("…") for line in shown[1:])  # cut messages say so
        # the filter still reads whole rows: a dropped column, the cut end of a message
        table.set_filter(lambda text, name: "high" in text)
        assert table.row_count == 3
        table.set_filter(lambda text, name: "memory limit" in text)
        assert [key.split("\t")[1] for key in table.row_keys] == ["OOMKilled"]
        table.set_filter(None)
        assert table.row_count == 3


async def test_timeline_what_and_message_are_readable_at_80_and_120(tmp_path, stage):
    app = make(tmp_path, stage, "timeline")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(TimelineTable)
        await wait_until(pilot, lambda: table.row_count >= 5 and fits(table)
                         and shows(table, r"CrashLoopBackOff +back-off 5m0s"), "timeline rows that fit",
                         explain=lambda: (table.row_count, table.virtual_size, lines(table)))
        assert table.column_keys == ["at", "resource", "reason", "message"]
        shown = lines(table)
        assert any(re.search(r"CrashLoopBackOff +back-off 5m0s", line) for line in shown), shown
        assert any(line.startswith(" 02:50:00 ") for line in shown)
        await pilot.resize_terminal(120, 24)
        await wait_until(pilot, lambda: "level" in table.column_keys and fits(table), "the wide columns")
        message = table.columns[next(k for k in table.columns if k.value == "message")]
        assert message.width >= 35, message.width  # was 14


async def test_aws_resources_are_named_with_their_id_beside(tmp_path, stage):
    app = make(tmp_path, stage, "faults")
    async with app.run_test(size=(160, 30)) as pilot:
        await app_ready(pilot)
        faults = app.screen.query_one(FaultsTable)
        await wait_until(pilot, lambda: faults.row_count == 3, "the faults")
        assert any("staging-bastion (i-0abc123)" in line for line in lines(faults))
        assert not any("ec2-instance/i-0abc123" in line for line in lines(faults))
        await pilot.press("5")
        timeline = app.screen.query_one(TimelineTable)
        await wait_until(pilot, lambda: any("staging-bastion (i-0abc123)" in line for line in lines(timeline)),
                         "the instance's name in the timeline", explain=lambda: lines(timeline))
        # the row still acts on the resource: its key starts with the id
        assert any(key.startswith(INSTANCE + "\t") for key in timeline.row_keys)


async def open_detail(pilot, resource_id: str):
    from screens.resource_detail import ResourceDetailScreen
    from tui.widgets.resource_table import ResourceTable

    table = pilot.app.screen.query_one(ResourceTable)
    await wait_until(pilot, lambda: table.move_to_key(resource_id), resource_id)
    await pilot.press("d")  # describe (Enter on a workload lists its pods)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ResourceDetailScreen), "the detail screen")
    return pilot.app.screen


def text_of(screen, selector: str) -> str:
    from textual.widgets import Static

    return str(screen.query_one(selector, Static).render())


async def test_detail_shows_the_faults_and_events_of_the_resource(tmp_path, stage):
    app = make(tmp_path, stage, None)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        screen = await open_detail(pilot, INSTANCE)
        assert CHECK_MESSAGE in text_of(screen, "#faults")  # the whole message, not "con"
        assert "StatusCheckFailed" in text_of(screen, "#faults")
        await wait_until(pilot, lambda: CHECK_MESSAGE in text_of(screen, "#events"), "the instance's events",
                         explain=lambda: text_of(screen, "#events"))
        await pilot.press("escape")
        screen = await open_detail(pilot, "kubernetes/Pod/api-5c8b-xyz12")
        assert "CrashLoopBackOff" in text_of(screen, "#faults") and "×7" in text_of(screen, "#faults")
        await wait_until(pilot, lambda: "Back-off restarting failed container" in text_of(screen, "#events"),
                         "the pod's events", explain=lambda: text_of(screen, "#events"))
        assert "StatusCheckFailed" not in text_of(screen, "#events")  # only this resource's


async def test_metrics_name_the_instance_with_its_id_beside(tmp_path, stage):
    from tui.widgets.metrics_view import SeriesTable

    app = make(tmp_path, stage, "metrics")
    async with app.run_test(size=(120, 30)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(SeriesTable)
        await wait_until(pilot, lambda: table.row_count >= 3, "the metric series")
        labels = [table.cells_of(key)[0].plain for key in table.row_keys]
        assert "staging-bastion (i-0abc123)" in labels, labels
        assert "ec2-instance/i-0abc123" not in labels
