"""The search texts the first filter keystroke needs are prepared ahead: in idle time after the
table is filled (before any `/`), and whatever is left when the filter box opens; every query then
finds what filtering from scratch finds, also after the inventory changed."""

from __future__ import annotations

from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.test_row_selection import QUERIES, from_scratch, inventory, select
from tui.widgets.resource_table import ResourceTable
from tui.widgets.row_selection import RowSelection


def test_prepared_search_texts_give_the_same_answers_as_lazily_lowered_ones():
    resources = inventory()
    sel = RowSelection()
    assert select(sel, resources, "", "") == from_scratch(resources, "", "")
    sel.prepare_search()
    assert sel._lowered is not None and len(sel._lowered) == len(resources)
    for kind in ("", "Pod"):
        for text in QUERIES:
            assert select(sel, resources, kind, text) == from_scratch(resources, kind, text), (kind, text)
    changed = inventory(tag="x")  # new objects: sorted again, the prepared texts dropped and made again
    assert select(sel, changed, "", "") == from_scratch(changed, "", "")
    assert sel._lowered is None
    sel.prepare_search()
    assert select(sel, changed, "", "3 readyx") == from_scratch(changed, "", "3 readyx")
    assert select(sel, changed, "", "app-01x") == from_scratch(changed, "", "app-01x")


async def test_the_search_is_prepared_in_idle_time_before_the_filter_box_opens(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(120, 30)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        # no `/` pressed: the idle slices after the fill prepare every shown row's text
        await wait_until(pilot, lambda: table.search_ready, "the search texts prepared in idle time")
        assert table._selection._lowered is not None and len(table._selection._lowered) == table.row_count
        await pilot.press("slash")
        await wait_until(pilot, lambda: app.screen.query_one("#filter").has_focus, "the filter box")
        assert table._selection._lowered is not None and len(table._selection._lowered) == table.row_count
        await pilot.press(*"web")
        await wait_until(pilot, lambda: 0 < table.row_count < len(table._selection._lowered), "the web rows")
        assert all("web" in " ".join(c.plain for c in table.cells_of(key)).lower() or "web" in key
                   for key in table.row_keys)
