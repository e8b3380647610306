"""A filter that changes only the row count (the vertical scrollbar needed before and after) updates
the table's scroll limits and scrollbar without a layout of the screen: scrolled to the bottom, the
table still shows the last rows of the result, the scrollbar's range is the new row count, and a
result that fits the table hides the scrollbar and goes back to the top. A bare App hosts the real
widget (nothing mocked)."""

from __future__ import annotations

from tests.tui.test_resource_table import TableApp, resources, show, wait_until
from tui.widgets.resource_filter import ResourceFilter
from tui.widgets.resource_table import ResourceTable, TableView


def drawn_names(table: ResourceTable) -> list[str]:
    lines = (table.render_line(y).text.split() for y in range(1, table.scrollable_content_region.height))
    return [word for words in lines for word in words if word.startswith("app-")]


async def test_the_scroll_follows_a_filtered_row_count():
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(ResourceTable)
        rows = resources(3000)
        show(table, rows, TableView())
        await wait_until(pilot, lambda: table.show_vertical_scrollbar, "the scrollbar")
        table.focus()
        await pilot.press("G")  # the last row
        await pilot.pause()
        assert table.scroll_y == table.max_scroll_y > 2000
        show(table, rows, TableView(filter=ResourceFilter("app-00[0-4]")))  # 500 rows: scrollbar stays
        await pilot.pause()
        assert table.row_count == 500 and table.show_vertical_scrollbar
        assert table.virtual_size.height == 501 and table.vertical_scrollbar.window_virtual_size == 501
        assert table.scroll_y == table.max_scroll_y < 500
        names = drawn_names(table)
        assert names and names[-1] == table.row_keys[-1].split("/")[-1] == "app-00499", names[-3:]
        show(table, rows, TableView(filter=ResourceFilter("app-0000")))  # 10 rows: fit, no scrollbar
        await pilot.pause()
        assert table.row_count == 10 and not table.show_vertical_scrollbar and table.scroll_y == 0
        assert drawn_names(table) == [key.split("/")[-1] for key in table.row_keys]
        assert sorted(drawn_names(table)) == [f"app-{i:05d}" for i in range(10)]
        show(table, rows, TableView())  # all again: the scrollbar is back, the range the whole inventory
        await pilot.pause()
        assert table.show_vertical_scrollbar and table.vertical_scrollbar.window_virtual_size == 3001
