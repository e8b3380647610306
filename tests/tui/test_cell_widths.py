"""The resource table measures column widths from plain strings (ResourceTable.cell_widths)
instead of building every sampled row's Text cells: the widths must be exactly those of the
cells it draws, for every row the stage shows (hostile names and statuses, duplicated names,
metrics with sparklines, drift, groups), in the wide and the compact layout."""

from __future__ import annotations

import pytest

from tests.tui.pilot import app_ready, make_app, wait_until
from tui.widgets.resource_table import ResourceTable


@pytest.mark.parametrize("size", [(200, 50), (80, 24)], ids=["wide", "compact"])
async def test_plain_widths_are_the_drawn_cells_widths(tmp_path, stage, size):
    stage.hostile = True
    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=size) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.row_count > 10, "the rows")
        assert table.compact is (size == (80, 24))
        for grouped in (False, True):
            keys = table.row_keys
            assert keys
            for key in keys:
                assert list(table.cell_widths(key)) == [cell.cell_len for cell in table.cells_for(key)], key
            if not grouped:
                await pilot.press("b")  # grouped by backend: group header rows too
                await wait_until(pilot, lambda n=len(keys): table.row_count > n, "the group rows")
