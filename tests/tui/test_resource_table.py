"""The line-API resource table on its own: many rows, only the visible ones built,
filtering keeps the cursor on its key, keys/clicks post the table's messages,
outside text is sanitised. A bare App hosts the real widget (nothing mocked)."""

from __future__ import annotations

from datetime import UTC, datetime

from textual import on
from textual.app import App, ComposeResult

from tui.core.model import Health, Resource
from tui.widgets.cells import PLAIN
from tui.widgets.metric_history import MetricHistory
from tui.widgets.resource_filter import ResourceFilter
from tui.widgets.resource_table import GROUP_PREFIX, ResourceTable, TableView

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROWS = 5000


def resources(n: int = ROWS) -> list[Resource]:
    return [Resource(id=f"kubernetes/Pod/app-{i:05d}", backend="kubernetes" if i % 2 else "aws", kind="Pod",
                     name=f"app-{i:05d}", health=Health.HEALTHY, status="Running") for i in range(n)]


class CountingTable(ResourceTable):
    def __init__(self) -> None:
        super().__init__(id="resource-table")
        self.built: set[str] = set()
        self.messages: list[object] = []

    def _cells_for(self, r, marked, now, palette, history):
        self.built.add(r.id)
        return super()._cells_for(r, marked, now, palette, history)


class TableApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def compose(self) -> ComposeResult:
        yield CountingTable()

    @on(ResourceTable.RowSelected)
    def _row(self, event: ResourceTable.RowSelected) -> None:
        self.messages.append(("row", event.key))

    @on(ResourceTable.HeaderSelected)
    def _header(self, event: ResourceTable.HeaderSelected) -> None:
        self.messages.append(("header", event.column_key))


async def wait_until(pilot, predicate, what: str, tries: int = 2000) -> None:
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def show(table: ResourceTable, items: list[Resource], view: TableView) -> None:
    table.show(items, view, now=NOW, palette=PLAIN, history=MetricHistory())


async def test_many_rows_build_only_a_sample_and_the_visible_rows():
    app = TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(CountingTable)
        show(table, resources(), TableView())
        await pilot.pause()
        assert table.row_count == ROWS
        # widths from a sample of <= 1000 rows plus the ~30 visible ones, not all 5000
        assert len(table.built) < 1200
        table.focus()
        await pilot.press("end")
        await wait_until(pilot, lambda: table.cursor_key == "kubernetes/Pod/app-04999", "the last row")
        await pilot.pause()
        assert "kubernetes/Pod/app-04999" in table.built


async def test_filter_keeps_the_cursor_on_its_key_and_enter_posts_the_row():
    app = TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(CountingTable)
        items = resources()
        view = TableView()
        show(table, items, view)
        table.focus()
        assert table.move_to_key("kubernetes/Pod/app-00123")
        view.filter = ResourceFilter("app-001")
        show(table, items, view)
        assert table.row_count == 100
        assert all("app-001" in key for key in table.row_keys)
        assert table.cursor_key == "kubernetes/Pod/app-00123"
        following = table.row_keys[table.row_keys.index("kubernetes/Pod/app-00123") + 1]
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.messages, "the row message")
        assert app.messages == [("row", following)]


async def test_header_click_posts_the_column_and_grouping_adds_headers():
    app = TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(CountingTable)
        show(table, resources(10), TableView(group=True))
        await pilot.pause()
        assert table.row_keys[0] == GROUP_PREFIX + "aws"
        assert table.selected_resource_id() is None  # a group header is not a resource
        assert (GROUP_PREFIX + "kubernetes") in table.row_keys
        # click the NAME label: mark (1+2) | BACKEND (7+2) | KIND (4+2) | NAME
        x = sum(w + 2 for w in table._widths[:3]) + 1
        await pilot.click(CountingTable, offset=(x, 0))
        await wait_until(pilot, lambda: app.messages, "the header message")
        assert app.messages == [("header", "name")]


async def test_outside_text_is_cleaned_before_it_is_drawn():
    app = TableApp()
    async with app.run_test(size=(160, 10)) as pilot:
        table = app.query_one(CountingTable)
        hostile = Resource(id="edge/node/x", backend="edge", kind="node", name="evil\x1b[31m[bold]red",
                           status="\x07bell")
        show(table, [hostile], TableView())
        await pilot.pause()
        cells = table.cells_of("edge/node/x")
        assert cells is not None
        shown = " ".join(c.plain for c in cells)
        assert "\x1b" not in shown and "\x07" not in shown
        assert "[bold]red" in shown  # kept as text, not read as markup
        line = "".join(s.text for s in table.render_line(1))
        assert "[bold]red" in line and "\x1b" not in line


async def test_at_80_columns_the_status_is_kept_and_gets_the_rest_of_the_width():
    cause = "CrashLoopBackOff: back-off 5m0s restarting failed container=worker pod=worker-6f4d-oom01"
    items = [Resource(id="kubernetes/Pod/worker-6f4d-oom01-with-a-long-suffix", backend="kubernetes", kind="Pod",
                      name="worker-6f4d-oom01-with-a-long-suffix", health=Health.DEGRADED, status=cause),
             Resource(id="kubernetes/Deployment/worker", backend="kubernetes", kind="Deployment", name="worker",
                      health=Health.PROGRESSING, status="1/2 ready")]
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(CountingTable)
        show(table, items, TableView())
        await pilot.pause()
        assert table.column_keys[-1] == "status" and "age" not in table.column_keys
        lines = ["".join(s.text for s in table.render_line(y)) for y in range(3)]
        assert "STATUS" in lines[0]
        crash = next(line for line in lines if "worker-6f4d" in line)
        assert "CrashLoopBackOff:" in crash and crash.rstrip().endswith("…")
        assert any("1/2 ready" in line for line in lines)
        # no horizontal scrolling: the columns fit the widget
        assert table.virtual_size.width <= table.scrollable_content_region.width
        narrow = table._widths[-1]
        await pilot.resize_terminal(100, 24)
        await wait_until(pilot, lambda: table._widths[-1] > narrow, "the status to take the new width")
        assert table.virtual_size.width <= table.scrollable_content_region.width
