"""At 80 columns BACKENDS gives way first (on-call finding, session 9): with every backend
unreachable (`aws✗never k8s✗never edge✗never`) the overview pushed REPAIR off screen and cut
the environment names (`s…ng`); now the backends are shown compact (`✗aws ✗k8s ✗edge`, no
ages), the names and REPAIR stay whole."""

from __future__ import annotations

from screens.overview import EnvironmentsTable
from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tests.tui.test_footer_agrees import header_line, row_lines
from tests.tui.test_lifecycle_tui import SMALL


async def test_wide_backends_cells_give_way_to_names_and_repair_at_80_columns(tmp_path, stage):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        states = app.session.states()
        for state in states.values():
            for backend in state.backends.values():
                backend.reachable, backend.observed_at, backend.next_pass = False, None, None
        app.screen.refresh_all()
        table = app.screen.query_one(EnvironmentsTable)
        await settle(pilot)
        await wait_until(pilot, lambda: any("✗" in line for line in row_lines(table)), "the unreachable backends",
                         explain=lambda: row_lines(table))
        assert header_line(table).rstrip().endswith("REPAIR"), header_line(table)
        lines = row_lines(table)
        for name in states:
            line = next((x for x in lines if x.lstrip().startswith(name)), None)
            assert line is not None, (name, lines)   # the name whole
            assert line.rstrip().endswith(states[name].repair), line  # REPAIR whole, on screen
            if states[name].backends:
                assert "never" not in line and "✗" in line, line
