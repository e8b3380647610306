"""At 60x20 (on-call finding, session 11) the overview cut the 7-letter name `staging` to `s…ng`,
left UPDATED a 1-cell stub and pushed REPAIR off screen. The name is the last thing cut: whole
columns give way first (least read first), REPAIR stays, no column is left a stub."""

from __future__ import annotations

from screens.overview import EnvironmentsTable
from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tests.tui.test_footer_agrees import header_line, row_lines


async def test_names_and_repair_stay_whole_at_60_columns(tmp_path, stage):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=(60, 20)) as pilot:
        await app_ready(pilot)
        states = app.session.states()
        table = app.screen.query_one(EnvironmentsTable)
        await settle(pilot)
        await wait_until(pilot, lambda: any(n in "".join(row_lines(table)) for n in states), "the rows",
                         explain=lambda: row_lines(table))
        header, lines = header_line(table), row_lines(table)
        assert len(header.rstrip()) <= 60 and header.rstrip().endswith("REPAIR"), header
        labels = header.split()
        assert labels[:2] == ["ENV", "HEALTH"] and "UPDATED" not in labels and "UPD" not in labels, header
        for name, state in states.items():
            line = next((x for x in lines if x.split()[:1] == [name]), None)
            assert line is not None, (name, lines)  # the name whole, first
            assert line.rstrip().endswith(state.repair), line  # REPAIR whole, on screen
        # whole columns gave way, the least read first (DROP_ORDER): no stub of one cut off at the edge
        assert labels == ["ENV", "HEALTH", "FAULTS", "BACKENDS", "REPAIR"], header

        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        await wait_until(pilot, lambda: "UPDATED" in header_line(table), "the 80-column header",
                         explain=lambda: header_line(table))
        assert header_line(table).split() == ["ENV", "HEALTH", "DRIFT", "FAULTS", "SCORE", "BACKENDS",
                                              "UPDATED", "REPAIR"]  # every column at 80, as before
