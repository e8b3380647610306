"""A confirmation's title keeps the environment it acts in: a long resource id is cut in its
middle with `…` so that `in staging?` stays whole in the dialog at 80 columns (the Label cut
the end: `Delete pod: kubernetes/Pod/worker-h224j7m5fl-fz8lw in stagin`)."""

from __future__ import annotations

from rich.cells import cell_len
from textual.geometry import Region
from textual.widgets import Label

from screens.confirm import ConfirmScreen, fit_title, title_room
from tests.tui.pilot import app_ready, make_app, wait_until
from tui.messages import ConfirmRequest

LONG_ID = "kubernetes/Pod/worker-h224j7m5fl-fz8lw-and-a-much-longer-tail-0123456789"


def test_a_long_id_is_cut_in_its_middle_and_the_environment_stays():
    title = fit_title("Delete pod: ", LONG_ID, " in staging?", 80)
    assert title.startswith("Delete pod: kubernetes/") and title.endswith("0123456789 in staging?"), title
    assert "…" in title and cell_len(title) <= title_room(80)
    assert fit_title("Delete pod: ", "kubernetes/Pod/api", " in staging?", 80) == \
        "Delete pod: kubernetes/Pod/api in staging?"


async def test_the_dialog_shows_the_whole_title_at_80_columns(tmp_path, stage):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        title = fit_title("Delete pod: ", LONG_ID, " in staging?", app.size.width)
        app.push_screen(ConfirmScreen(ConfirmRequest(title=title, details=["Pod"], destructive=True)))
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.is_mounted, "the dialog")
        await pilot.pause()
        label = app.screen.query_one("#dialog-title", Label)
        lines = ["".join(seg.text for seg in strip) for strip in
                 label.render_lines(Region(0, 0, label.size.width, label.size.height))]
        assert lines[0].rstrip() == title, lines  # one line, whole: `… in staging?` at its end
