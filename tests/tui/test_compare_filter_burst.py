"""The compare view's `/` filter takes the keys typed in one burst (tmux send-keys, a laggy SSH
link): `/gw-01⏎j` typed at once filters on gw-01, then moves the table's cursor, as on `:versions`;
the same after `:diff staging prod⏎` in the same burst. Before, the box opened empty and the
letters and the `j` went to the table."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from screens.compare import CompareScreen
from tests.compare.test_compare_tui import SIZE, BiggerProdBastion, open_compare
from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.test_command_line_bursts import send_burst


def filtered(app, screen: CompareScreen, needle: str) -> bool:
    return (screen.result is not None and screen.needle == needle and not app.keys.held
            and app._message_queue.empty() and app.focused is screen.query_one(DataTable))


async def test_filter_typed_in_one_burst_on_an_open_comparison(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", aws=BiggerProdBastion)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        table = screen.query_one(DataTable)
        assert table.cursor_row == 0 and len(screen.shown_rows) == 3
        await send_burst(pilot, "/gw-01\rj", "burst")
        await wait_until(pilot, lambda: filtered(app, screen, "gw-01") and table.cursor_row == 1,
                         "gw-01 filtered, then the cursor one row down",
                         explain=lambda: (screen.needle, app.focused, table.cursor_row, app.keys.reasons))
        assert [r.role for r in screen.shown_rows] == ["edge/node/gw-01", "edge/service/gw-01:nginx"]
        assert screen.query_one("#compare-filter", Input).value == "gw-01"
        await send_burst(pilot, "\x1b/bastion\r", "burst")  # Esc clears, a new filter in the same burst
        await wait_until(pilot, lambda: filtered(app, screen, "bastion"), "bastion filtered",
                         explain=lambda: (screen.needle, app.focused, app.keys.reasons))
        assert [r.role for r in screen.shown_rows] == ["aws/ec2-instance/bastion"]
        assert isinstance(app.screen, CompareScreen)
    assert app._exception is None


async def test_filter_in_the_burst_that_opens_the_comparison(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", aws=BiggerProdBastion)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await send_burst(pilot, ":diff staging prod\r/nginx\r", "burst")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and filtered(app, app.screen, "nginx")
                         and len(app.screen.shown_rows) == 1, "the comparison opened, filtered on nginx",
                         explain=lambda: (app.screen, getattr(app.screen, "needle", None), app.focused))
        screen = app.screen
        assert (screen.a_env, screen.b_env) == ("staging", "prod")
        assert screen.shown_rows[0].role == "edge/service/gw-01:nginx"
    assert app._exception is None
