"""Typing in the overview's `/` filter selects the first match when the selected row is filtered
out (on-call finding, session 9: `/pr-3` showed one row and `nothing selected` under the table)."""

from __future__ import annotations

from textual.widgets import Input

from tests.tui.pilot import settle, wait_until
from tests.tui.test_overview_selection import ready_at_80x24, select, under_table


async def test_typing_a_filter_selects_the_first_match(tmp_path, stage):
    async with ready_at_80x24(tmp_path, stage) as (pilot, screen, table):
        app = pilot.app
        await select(pilot, table, "staging")
        await pilot.press("slash", *"prod")
        box = screen.query_one("#filter", Input)
        await wait_until(pilot, lambda: box.value == "prod" and table.row_keys == ["prod"], "prod alone",
                         explain=lambda: (box.value, table.row_keys))
        await settle(pilot)
        assert app.focused is box  # still typing
        assert table.cursor_key == "prod"
        assert under_table(screen) == "customer traffic", under_table(screen)  # prod's description
