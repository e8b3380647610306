"""The Compliance view's hint line fits one line at 80 columns and still says what the score
counts (it wrapped to two: `… compliance score 88.8% (share of assessed resources without a
finding: 8 of 9)`): the controls that pass, and the resources clean where there is room. The
wording comes from tui/core/compliance_score.py."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.geometry import Region
from textual.widgets import Static

from tests.tui.pilot import app_ready, make_app, wait_until
from tui.core.compliance_score import HINT_WIDTH, ComplianceScore


@pytest.mark.parametrize("assessed, clean, findings", [(9, 8, 3), (1123, 1093, 1093), (112_300, 109_300, 10_930)])
def test_the_hint_fits_80_columns_and_names_the_counts(assessed, clean, findings):
    hint = ComplianceScore(assessed, clean, controls=23, failing=4).hint(findings)
    assert cell_len(hint) <= HINT_WIDTH, hint
    assert hint.startswith(f"{findings:,} finding(s) · compliance 82.6% · 19 of 23 controls pass"), hint


def test_the_full_wording_is_kept_when_it_fits():
    score = ComplianceScore(9, 8, controls=7, failing=2)
    assert score.hint(3, width=100) == "3 finding(s) · compliance 71.4% · 5 of 7 controls pass · 8 of 9 resources clean"
    assert score.hint(3) == "3 finding(s) · compliance 71.4% · 5 of 7 controls pass · 8 of 9 clean"  # 80 columns


async def test_the_compliance_view_hint_is_one_line_at_80_columns(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", view="compliance")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await wait_until(pilot, lambda: app.screen.query("#compliance-info"), "the compliance hint")
        info = app.screen.query_one("#compliance-info", Static)
        await wait_until(pilot, lambda: "finding(s)" in str(info.render()), "the hint's text")
        await pilot.pause()
        lines = ["".join(seg.text for seg in strip).rstrip() for strip in
                 info.render_lines(Region(0, 0, info.size.width, info.size.height))]
        assert info.size.height == 1, lines
        assert "controls pass" in lines[0] and "8 of 9 clean" in lines[0], lines


async def test_the_hint_is_fitted_to_the_width_and_again_after_a_resize(tmp_path, stage):
    """Compliance breaker, session 12: the line was fitted to 78 columns whatever the width: two lines
    at 60, and the resources' words dropped even at 200."""
    app = make_app(tmp_path, stage, env="staging", view="compliance")
    async with app.run_test(size=(60, 20)) as pilot:
        await app_ready(pilot)
        info = app.screen.query_one("#compliance-info", Static)
        await wait_until(pilot, lambda: "finding(s)" in str(info.render()), "the hint's text")
        await pilot.pause()
        assert info.size.height == 1 and cell_len(str(info.render())) <= 58, str(info.render())
        await pilot.resize_terminal(160, 30)
        await wait_until(pilot, lambda: "resources clean" in str(info.render()), "the whole wording at 160 columns",
                         explain=lambda: str(info.render()))
