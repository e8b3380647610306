"""`:versions` answers the k9s keys its footer offers: `/` filters the components (a role or a
version containing the text; also typed in one burst), Esc clears the filter then goes back, `r`
builds the matrix again and says so."""

from __future__ import annotations

from textual.widgets import DataTable

from screens.versions import VersionsScreen
from tests.promote.test_versions_tui import SIZE, make_app, open_versions
from tests.tui.pilot import wait_until
from tests.tui.test_command_line_bursts import send_burst


async def test_versions_filters_and_rebuilds(tmp_path, stage):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_versions(pilot)
        table = screen.query_one(DataTable)
        every = len(screen.matrix.rows)
        assert every >= 3 and table.row_count == every
        await send_burst(pilot, "/api:2\rj", "burst")  # a version's text; the j after Enter moves the table
        await wait_until(pilot, lambda: screen.needle == "api:2" and app.focused is table and not app.keys.held,
                         "the filter kept, the table focused", explain=lambda: (screen.needle, app.focused))
        assert [r.role for r in screen.shown_rows] == ["kubernetes/Deployment/api"] and table.row_count == 1
        assert "1 of" in str(screen.query_one("#versions-hint").render())
        await pilot.press("r")
        await wait_until(pilot, lambda: any("building again" in str(n.message) for n in app._notifications),
                         "r says what it does")
        await wait_until(pilot, lambda: not screen._refresh.running, "the matrix built again")
        assert table.row_count == 1, "the filter stays over the new matrix"
        await pilot.press("escape")  # clears the filter
        await wait_until(pilot, lambda: table.row_count == every and screen.needle == "", "every row again")
        assert isinstance(app.screen, VersionsScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, VersionsScreen), "back")
    assert app._exception is None
