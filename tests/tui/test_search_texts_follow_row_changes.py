"""The resources table prepares its rows' search texts in idle time after a fill and keeps them
per Resource object: a row renamed, added or removed between the fill and the filter is found
(or not) by its new text, exactly as a table that never saw the old rows finds it — whether the
filter comes before the idle slices for the new rows finished or after. Asserted on the rows the
table draws (what the user sees). A bare App hosts the real widget (nothing mocked)."""

from __future__ import annotations

import dataclasses

from textual.app import App, ComposeResult

from tests.tui.test_resource_table import resources, show, wait_until
from tui.core.model import Resource
from tui.widgets.resource_filter import ResourceFilter
from tui.widgets.resource_table import ResourceTable, TableView
from tui.widgets.row_selection import PREPARE_SLICE

ROWS = 3 * PREPARE_SLICE + 17  # more rows than one idle slice prepares


class TwoTables(App):
    """`kept`: filled, prepared, then handed the changed rows; `fresh`: only ever sees the changed rows."""

    def compose(self) -> ComposeResult:
        yield ResourceTable(id="kept")
        yield ResourceTable(id="fresh")


def drawn_rows(table: ResourceTable) -> list[str]:
    """The text of every row the table draws (header left out), as on screen."""
    lines = (table.render_line(y).text.rstrip() for y in range(1, table.scrollable_content_region.height))
    return [line for line in lines if line.strip()]


def changed(rows: list[Resource]) -> list[Resource]:
    """Row 7 renamed (a new object, same id), row 9 removed, one row added."""
    out = [dataclasses.replace(r, name="zeta-renamed", status="Pending") if i == 7 else r
           for i, r in enumerate(rows) if i != 9]
    added = dataclasses.replace(rows[0], id="kubernetes/Pod/zeta-added", name="zeta-added")
    return out[:100] + [added] + out[100:]


async def test_renamed_added_and_removed_rows_are_filtered_by_their_new_text():
    app = TwoTables()
    async with app.run_test(size=(160, 40)) as pilot:
        kept, fresh = app.query_one("#kept", ResourceTable), app.query_one("#fresh", ResourceTable)
        first = resources(ROWS)
        show(kept, first, TableView())
        assert not kept.search_ready  # more than one slice: not all prepared at once
        await wait_until(pilot, lambda: kept.search_ready, "the idle slices to prepare every row")
        show(kept, first, TableView(filter=ResourceFilter("app-0000")))  # the old texts are in use
        assert "app-00007" in " ".join(drawn_rows(kept)) and "app-00009" in " ".join(drawn_rows(kept))

        rows = changed(first)
        for wait in (False, True):  # filter at once (slices pending), then with every text prepared
            show(kept, rows, TableView())
            if wait:
                await wait_until(pilot, lambda: kept.search_ready, "the slices for the changed rows")
            for query in ("zeta", "app-0000", "pending", "app-00009", "app-00007", "ZETA-A", "app-001"):
                view = TableView(filter=ResourceFilter(query))
                show(kept, rows, view)
                show(fresh, rows, view)
                await pilot.pause()
                assert kept.row_keys == fresh.row_keys, (wait, query)
                assert drawn_rows(kept) == drawn_rows(fresh), (wait, query)
            show(kept, rows, TableView(filter=ResourceFilter("zeta")))
            await pilot.pause()
            seen = drawn_rows(kept)
            assert len(seen) == 2 and "zeta-added" in seen[0] and "zeta-renamed" in seen[1], seen
            show(kept, rows, TableView(filter=ResourceFilter("app-0000")))
            await pilot.pause()
            seen = " ".join(drawn_rows(kept))
            assert "app-00008" in seen and "app-00007" not in seen and "app-00009" not in seen, seen
