"""The overview's BACKENDS cell while a backend does not answer (its server frozen: the status call
waits for its timeout, ~45 s): once its pass is OVERDUE_S late it reads `aws?30s` (unanswered for
30 s) instead of the last `aws✓`; a watching backend (its watch runs past next_pass) never does."""

from __future__ import annotations

from datetime import timedelta

from screens.overview import EnvironmentsTable, OverviewScreen
from screens.overview_rows import OVERDUE_S
from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.stage import FIXED_NOW


async def test_a_backend_whose_pass_is_overdue_says_for_how_long(tmp_path, stage):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        table = overview.query_one(EnvironmentsTable)

        def backends(env: str) -> str:
            return " ".join(c.plain for c in table.cells_of(env) if "aws" in c.plain)

        assert "aws✓" in backends("staging"), backends("staging")
        aws = app.session.state("staging").backends["aws"]
        aws.next_pass = FIXED_NOW - timedelta(seconds=OVERDUE_S - 1)  # late, not overdue yet
        overview.tick()
        await pilot.pause()
        assert "aws✓" in backends("staging"), backends("staging")
        aws.next_pass = FIXED_NOW - timedelta(seconds=30)
        overview.tick()
        await wait_until(pilot, lambda: "aws?30s" in backends("staging"), "aws unanswered for 30s",
                         explain=lambda: backends("staging"))
        assert "aws✓" in backends("prod")
        kubernetes = app.session.state("staging").backends["kubernetes"]
        kubernetes.next_pass, kubernetes.watching = FIXED_NOW - timedelta(seconds=60), True
        overview.tick()
        await pilot.pause()
        assert "k8s✓" in backends("staging"), backends("staging")
    assert app._exception is None
