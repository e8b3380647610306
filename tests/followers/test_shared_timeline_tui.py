"""One timeline for the team (issue 16), on both engines (`any_store`): user A (alice, a Session of
her own, as her CLI or TUI would be) restarts a deployment; user B's TUI (vera, a Pilot app with a
running reconciler, on the environment's timeline) shows alice's audited action without any key
pressed: B's envdeck learnt from the store (PostgreSQL NOTIFY, SQLite polling) that rows arrived
(the change the follower loop announces is recorded: the view's periodic refresh would show the
row too, later)."""

from __future__ import annotations

import os

import pytest

from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.stage import Stage, stage_config, stage_factory
from tui.core.env_state import TimelineAdded
from tui.core.model import Origin
from tui.core.session import Session
from tui.widgets.record_views import TimelineTable

WEB = "kubernetes/Deployment/web"


@pytest.fixture
def state_dir(any_store, monkeypatch):
    if any_store.url:
        monkeypatch.setenv("ENVDECK_STATE_URL", any_store.url)
    return any_store.state_dir / "state"


def timeline_lines(app) -> list[str]:
    table = app.screen.query_one(TimelineTable)
    return [" ".join(getattr(c, "plain", str(c)) for c in table.get_row(key)) for key in list(table.rows)]


async def test_an_action_in_alices_envdeck_appears_in_veras_timeline(state_dir):
    stage = Stage()
    app = make_app(state_dir, stage, user="vera", env="staging", view="timeline", live=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await app_ready(pilot)
        await wait_until(pilot, lambda: app.session.state("staging").leader == "you", "vera's envdeck leading")
        announced: list[TimelineAdded] = []
        app.session.subscribe(lambda c: announced.append(c) if isinstance(c, TimelineAdded) and not c.entries
                              else None)
        alice = await Session.open(stage_config(), state_dir, origin=Origin.CLI, user="alice",
                                   backends_factory=stage_factory(stage))
        try:
            result = await alice.act("staging", WEB, "restart")
            assert result.ok
        finally:
            await alice.close()
        # on PostgreSQL the row was written by the store's role `envdeck`, not one named alice: said as the CLI does
        by = "[db role envdeck] alice via cli" if os.environ.get("ENVDECK_STATE_URL") else "alice via cli"
        await wait_until(pilot, lambda: any(by in line and "restart" in line
                                            for line in timeline_lines(app)),
                         "alice's restart in vera's timeline", explain=lambda: timeline_lines(app)[:5])
        await wait_until(pilot, lambda: any(c.env == "staging" for c in announced), "the store's news announced")
        assert ("staging", WEB, "restart", {}) in stage.performed
