"""An environment screen composes only its Resources and Logs views and the view it opens at;
every other view's widgets are mounted the first time the view is used, and then it shows what
it would have shown had it been composed with the screen: filled from the session's state (the
metrics loaded), focused, filterable."""

from __future__ import annotations

from screens.environment import EnvironmentScreen
from tests.tui.pilot import app_ready, make_app, wait_until
from tui.widgets.logs_view import LogsView
from tui.widgets.metrics_view import MetricsView, SeriesTable
from tui.widgets.record_views import ComplianceTable, DriftTable, FaultsTable, TimelineTable
from tui.widgets.resource_table import ResourceTable

SIZE = (120, 30)
LATER_VIEWS = {"metrics": MetricsView, "faults": FaultsTable, "timeline": TimelineTable,
               "compliance": ComplianceTable, "drift": DriftTable}


def not_composed(screen: EnvironmentScreen) -> set[str]:
    return {view for view, widget in LATER_VIEWS.items() if not screen.query(widget)}


async def test_views_are_mounted_when_first_shown_and_then_filled_focused_and_filterable(tmp_path, stage):
    app = make_app(tmp_path, stage, env="prod")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        assert isinstance(screen, EnvironmentScreen)
        assert screen.query_one(ResourceTable).row_count > 0
        assert not_composed(screen) == set(LATER_VIEWS)
        assert screen.query(LogsView)  # always composed: follow_logs fills it at once

        await pilot.press("4")  # Faults: mounted now, and shown as a composed one would be
        faults = len(screen.state.all_faults())
        assert faults == 2
        await wait_until(pilot, lambda: screen.query(FaultsTable) and screen.query_one(FaultsTable).row_count == faults,
                         "the faults table filled", explain=lambda: not_composed(screen))
        table = screen.query_one(FaultsTable)
        await wait_until(pilot, lambda: app.focused is table, "the faults table focused")
        assert screen.active_view == "faults" and screen.mounted("faults")
        assert not_composed(screen) == set(LATER_VIEWS) - {"faults"}

        await pilot.press("slash", *"OOM", "enter")  # its own filter works on the mounted table
        await wait_until(pilot, lambda: table.row_count == 1, "one fault left")

        await pilot.press("escape")  # Esc clears the view's filter
        await wait_until(pilot, lambda: table.row_count == faults, "every fault again")
        await pilot.press("escape")  # and then goes back to Resources
        await wait_until(pilot, lambda: screen.active_view == "resources", "the resources view")
        assert not_composed(screen) == set(LATER_VIEWS) - {"faults"}  # views never shown stay unbuilt


async def test_metrics_mounted_when_first_shown_load_their_series(tmp_path, stage):
    """The Metrics view loads its series each time it is shown; the first time, that waits for its
    widgets to be mounted and then happens as on a composed view."""
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        assert "metrics" in not_composed(screen)
        await pilot.press("3")
        await wait_until(pilot, lambda: screen.query(SeriesTable) and screen.query_one(SeriesTable).row_count >= 5,
                         "the metric series", explain=lambda: not_composed(screen))
        assert screen.active_view == "metrics"
        await wait_until(pilot, lambda: app.focused is screen.query_one(SeriesTable), "the series table focused")


async def test_a_screen_opened_at_a_view_composes_that_view_filled(tmp_path, stage):
    app = make_app(tmp_path, stage, env="prod", view="drift")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        assert isinstance(screen, EnvironmentScreen) and screen.active_view == "drift"
        drifts = len(screen.state.all_drifts())
        assert drifts > 0
        await wait_until(pilot, lambda: screen.query_one(DriftTable).row_count == drifts, "the drift table filled")
        assert not_composed(screen) == set(LATER_VIEWS) - {"drift"}
        table = screen.query_one(ResourceTable)  # Resources is always composed (filled when shown)
        await pilot.press("1")
        await wait_until(pilot, lambda: table.row_count == len(screen.state.all_resources()), "the resources")
