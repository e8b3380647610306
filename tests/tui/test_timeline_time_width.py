"""The Timeline at 80 columns: TIME is as wide as the times shown now (`03:00:00` for today's rows),
also once a row of another day (shown with its date) is filtered out: DataTable keeps a column as
wide as its widest cell ever, so MESSAGE got 6 cells less for good."""

from __future__ import annotations

import sqlite3

from textual.widgets._data_table import ColumnKey

from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tui.core.store import Store
from tui.core.store_sqlite import DB_NAME
from tui.widgets.record_views import TimelineTable


async def test_time_is_as_wide_as_the_times_shown(tmp_path, stage):
    store = await Store.open(tmp_path)
    await store.close()
    with sqlite3.connect(tmp_path / DB_NAME) as db:  # an audit row of another day (FIXED_NOW is 2025-03-14)
        db.execute('INSERT INTO audit (at, "user", env, target, action, params, origin, result, message) VALUES '
                   "('2025-03-12T10:00:00Z', 'alice', 'staging', 'edge/node/gw-01', 'run', '{}', 'cli', "
                   "'succeeded', 'uptime')")
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        screen = app.screen
        await pilot.press("5")
        await wait_until(pilot, lambda: screen.query(TimelineTable)
                         and any("\ta" in k for k in screen.query_one(TimelineTable).row_keys), "the audit row")
        await settle(pilot)
        table = screen.query_one(TimelineTable)
        time_col, message = table.columns[ColumnKey("at")], table.columns[ColumnKey("message")]
        dated = time_col.get_render_width(table)
        assert dated == len("03-12 10:00:00") + 2, dated  # the other day's row keeps its date
        wide_message = message.get_render_width(table)
        await pilot.press("slash", *"!uptime", "enter")  # that row filtered out: today's rows only
        await wait_until(pilot, lambda: not any("\ta" in k for k in table.row_keys) and not app.keys.held,
                         "the audit row filtered out")
        await settle(pilot)
        assert time_col.get_render_width(table) == len("03:00:00") + 2, time_col.get_render_width(table)
        assert message.get_render_width(table) == wide_message + 6, (message.get_render_width(table), wide_message)
    assert app._exception is None
