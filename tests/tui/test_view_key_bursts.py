"""A view key (`1`-`8`) typed in one burst with the keys after it (tmux send-keys, a laggy link):
those keys wait until the view is shown and act there, as if typed one by one (docs/tui.md)."""

from __future__ import annotations

from screens.environment import EnvironmentScreen
from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.test_command_line_bursts import send_burst
from tests.tui.test_overview_enter_burst import settle_on
from tui.widgets.record_views import FaultsTable
from tui.widgets.resource_table import ResourceTable


async def test_keys_after_a_view_key_act_on_the_view_it_shows(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        staging = app.screen
        await pilot.press("5")
        await wait_until(pilot, lambda: staging.active_view == "timeline" and not app.keys.held, "the Timeline")
        await send_burst(pilot, "4/api\r", "burst")
        await wait_until(pilot, lambda: staging.filters["faults"].text == "api" and not app.keys.held
                         and not staging.query_one("#filter").has_focus, "Faults filtered",
                         explain=lambda: (staging.active_view, {v: f.text for v, f in staging.filters.items()}))
        assert staging.active_view == "faults"
        assert staging.filters["timeline"].text == "", "/api landed on the Timeline"
        assert app.focused is staging.query_one(FaultsTable)

        await send_burst(pilot, ":prod\r4j", "burst")
        prod = await settle_on(pilot, "prod")
        assert isinstance(prod, EnvironmentScreen) and prod.active_view == "faults"
        faults = prod.query_one(FaultsTable)
        await wait_until(pilot, lambda: faults.cursor_row == 1, "j moved Faults' cursor",
                         explain=lambda: (faults.cursor_row, faults.row_count))
        assert prod.query_one(ResourceTable).cursor_row == 0, "j moved the Resources cursor"
    assert app._exception is None
