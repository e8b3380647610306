"""Snapshot tests (pytest-textual-snapshot): every screen and view, at 80×24 and
160×48, dark and light. Deterministic: fixed clock, the in-memory stage with fixed
timestamps, one observe pass and no background reconciler, no cursor blink, no
animations, no toasts. Update with `--snapshot-update` only after looking at the
report."""

from __future__ import annotations

import pytest

from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.resource_detail import ResourceDetailScreen
from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tests.tui.stage import HOSTILE_LINES
from tui.widgets.logs_view import LogsView
from tui.widgets.metrics_view import SeriesTable
from tui.widgets.record_views import TimelineTable
from tui.widgets.resource_table import ResourceTable

SMALL, LARGE = (80, 24), (160, 48)
# (size, theme): both sizes in both themes for the main screens, two combinations for the rest.
ALL_FOUR = [pytest.param(SMALL, "dark", id="80x24-dark"), pytest.param(SMALL, "light", id="80x24-light"),
            pytest.param(LARGE, "dark", id="160x48-dark"), pytest.param(LARGE, "light", id="160x48-light")]
TWO = [pytest.param(SMALL, "dark", id="80x24-dark"), pytest.param(LARGE, "light", id="160x48-light")]


def select(resource_id: str):
    async def run(pilot) -> None:
        await app_ready(pilot)
        table = pilot.app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key(resource_id), f"row {resource_id}")
        await settle(pilot)
    return run


@pytest.mark.parametrize(("size", "theme"), ALL_FOUR)
def test_overview(snap_compare, tmp_path, stage, size, theme):
    assert snap_compare(make_app(tmp_path, stage, theme=theme), terminal_size=size, run_before=app_ready)


@pytest.mark.parametrize(("size", "theme"), ALL_FOUR)
def test_environment_resources(snap_compare, tmp_path, stage, size, theme):
    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging"), terminal_size=size,
                        run_before=app_ready)


@pytest.mark.parametrize("view", ["faults", "compliance", "drift"])
@pytest.mark.parametrize(("size", "theme"), TWO)
def test_environment_record_views(snap_compare, tmp_path, stage, size, theme, view):
    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging", view=view), terminal_size=size,
                        run_before=app_ready)


@pytest.mark.parametrize(("size", "theme"), TWO)
def test_environment_timeline(snap_compare, tmp_path, stage, size, theme):
    async def run(pilot):
        await app_ready(pilot)
        table = pilot.app.screen.query_one(TimelineTable)
        await wait_until(pilot, lambda: table.row_count >= 4, "timeline rows")

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging", view="timeline"),
                        terminal_size=size, run_before=run)


@pytest.mark.parametrize(("size", "theme"), TWO)
def test_environment_metrics(snap_compare, tmp_path, stage, size, theme):
    async def run(pilot):
        await app_ready(pilot)
        table = pilot.app.screen.query_one(SeriesTable)
        await wait_until(pilot, lambda: table.row_count >= 5, "metric series")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging", view="metrics"),
                        terminal_size=size, run_before=run)


@pytest.mark.parametrize(("size", "theme"), ALL_FOUR)
def test_logs_with_hostile_text(snap_compare, tmp_path, stage, size, theme):
    """Markup, ANSI CSI, OSC 52, OSC 0, C1 and bidi in log lines: shown literally, escaped."""
    async def run(pilot):
        await select("kubernetes/Pod/api-5c8b-xyz12")(pilot)
        await pilot.press("l")
        logs = pilot.app.screen.query_one(LogsView)
        await wait_until(pilot, lambda: len(logs.lines) == len(HOSTILE_LINES) and logs.ended, "the log lines")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging"), terminal_size=size, run_before=run)


@pytest.mark.parametrize(("size", "theme"), TWO)
def test_hostile_resource_names(snap_compare, tmp_path, stage, size, theme):
    stage.hostile = True

    async def run(pilot):
        await select("kubernetes/Pod/hostile")(pilot)

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging"), terminal_size=size, run_before=run)


@pytest.mark.parametrize(("size", "theme"), ALL_FOUR)
def test_resource_detail(snap_compare, tmp_path, stage, size, theme):
    async def run(pilot):
        await select("kubernetes/Deployment/api")(pilot)
        await pilot.press("i")  # details (Enter on a Deployment lists its pods)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ResourceDetailScreen), "the detail screen")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging"), terminal_size=size, run_before=run)


@pytest.mark.parametrize("tab", ["yaml", "drift"])
@pytest.mark.parametrize(("size", "theme"), TWO)
def test_resource_detail_tabs(snap_compare, tmp_path, stage, size, theme, tab):
    async def run(pilot):
        await select("kubernetes/Deployment/api")(pilot)
        await pilot.press("y" if tab == "yaml" else "d")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ResourceDetailScreen), "the detail screen")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging"), terminal_size=size, run_before=run)


@pytest.mark.parametrize(("size", "theme"), TWO)
def test_confirmation_modal(snap_compare, tmp_path, stage, size, theme):
    async def run(pilot):
        await select("kubernetes/Deployment/web")(pilot)
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the confirmation")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging"), terminal_size=size, run_before=run)


@pytest.mark.parametrize(("size", "theme"), TWO)
def test_destructive_confirmation_modal(snap_compare, tmp_path, stage, size, theme):
    async def run(pilot):
        await select("kubernetes/Pod/worker-6f4d-oom01")(pilot)
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the confirmation")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging"), terminal_size=size, run_before=run)


@pytest.mark.parametrize(("size", "theme"), TWO)
def test_help(snap_compare, tmp_path, stage, size, theme):
    async def run(pilot):
        await app_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help screen")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path, stage, theme=theme, env="staging"), terminal_size=size, run_before=run)


def test_high_contrast_theme(snap_compare, tmp_path, stage):
    assert snap_compare(make_app(tmp_path, stage, theme="high-contrast", env="staging"), terminal_size=SMALL,
                        run_before=app_ready)
