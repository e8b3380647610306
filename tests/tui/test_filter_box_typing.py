"""The `/` filter box repaints itself as it is typed into (no layout of the whole screen per
keystroke) and still scrolls like Textual's Input: a query longer than the box (pasted) keeps its
end and the cursor in view, Home brings its start back, and the table filters on every change."""

from __future__ import annotations

from textual import events

from tests.tui.pilot import app_ready, drawn_keys, make_app, wait_until
from tui.widgets.filter_input import FilterInput
from tui.widgets.resource_table import ResourceTable

LONG = "web" + " " * 3 + "x" * 80 + "END"  # wider than the 80-column box


def box_text(box: FilterInput) -> str:
    return box.render_line(0).text


async def test_a_long_query_scrolls_the_box_and_filters_the_table(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        everything = table.row_count
        await pilot.press("slash")
        box = app.screen.query_one("#filter", FilterInput)
        await wait_until(pilot, lambda: box.has_focus, "the filter box")
        await pilot.press(*"web")
        await wait_until(pilot, lambda: 0 < table.row_count < everything, "the web rows")
        assert all("web" in key or "web" in " ".join(c.plain for c in table.cells_of(key)).lower()
                   for key in table.row_keys)
        assert "web" in box_text(box)
        box.post_message(events.Paste(LONG[3:]))  # the same path as typing: one change of the value
        await wait_until(pilot, lambda: table.row_count == 0, "no row matches the long query")
        await pilot.pause()
        assert box.value == LONG
        assert box.virtual_size.width > box.content_region.width  # the query is wider than the box
        assert box.scroll_x > 0 and "END" in box_text(box) and "web" not in box_text(box)
        await pilot.press("home")
        await pilot.pause()
        assert box.scroll_x == 0 and "web" in box_text(box) and "END" not in box_text(box)
        await pilot.press("end", "backspace", "backspace", "backspace")
        await wait_until(pilot, lambda: box.value == LONG[:-3], "END erased")
        await pilot.pause()
        assert box.scroll_x > 0 and box_text(box).rstrip().endswith("x") and table.row_count == 0


async def test_the_open_box_is_seen_and_hides_neither_footer_nor_status(tmp_path, stage):
    """80×24: the box open on the overview and on the environment screen is drawn where it can be
    read (it lay under the docked footer: what was typed could not be seen), and the status bar
    and the footer, with `esc Back`, stay in view; the overview's line under the table too."""
    from textual.widgets import Footer

    from screens.environment import EnvironmentScreen
    from tests.tui.pilot import settle
    from tui.widgets.status_bar import StatusBar

    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        for where in ("overview", "environment"):
            screen = app.screen
            await pilot.press("slash", *"web")
            box = screen.query_one("#filter", FilterInput)
            await wait_until(pilot, lambda box=box: box.value == "web", f"web typed into the {where}'s box")
            await settle(pilot)
            shown = [screen.query_one(StatusBar), screen.query_one(Footer), box]
            if where == "overview":
                shown.append(screen.query_one("#env-description"))
            rows = [w.region.y for w in shown]
            assert len(set(rows)) == len(rows) and all(0 <= y < 24 for y in rows), (where, shown, rows)
            for widget in shown:  # each the one drawn on its row: nothing lies over it
                assert screen.get_widget_at(widget.region.x + 1, widget.region.y)[0] in (widget, *widget.children), \
                    (where, widget)
            assert "web" in box_text(box)
            assert ("escape", "Back") in [(k.key, k.description) for k in drawn_keys(screen)], where
            await pilot.press("enter")
            if where == "overview":
                await pilot.press("escape")  # the filter cleared: staging's row back, then open it
                await wait_until(pilot, lambda s=screen: not s.filter.active, "the filter cleared")
                await pilot.press("enter")
                await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready,
                                 "the environment screen")
                await settle(pilot)
