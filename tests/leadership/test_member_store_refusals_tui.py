"""Team mode on PostgreSQL, in the TUI: a member's database role may not write the store's pause,
desired-state overlays or repair holds (docs/deploy/postgres-roles.sql). `p` (pause), and
keeping an action's value as desired (`--set-desired` in the CLI) or holding its repair, are
refused by the server: the TUI says so in one plain notification naming the role and the table,
shows nothing as paused or kept, and no worker fails (no "… failed" toast, no traceback).
The setup is tests/leadership/test_member_pause.py's (the roles made by the SQL file itself)."""

from __future__ import annotations

import pytest

from screens.action_flow import _perform
from screens.confirm import ConfirmScreen
from screens.desired_conflict import HOLD, SET_DESIRED
from tests.leadership.test_store_roles import _granted, member, team  # noqa: F401 - fixtures
from tests.tui.pilot import app_ready, dialog_shown, make_app, wait_until
from tests.tui.stage import Stage
from tui.core.overrides import Conflict
from tui.core.store import open_store

WEB = "kubernetes/Deployment/web"


def _errors(app) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == "error"]


async def _owner_reads(state_dir, url: str, monkeypatch):
    monkeypatch.setenv("ENVDECK_STATE_URL", url)
    store = await open_store(None, state_dir)
    try:
        pause = await store.pause("staging")
        kept = await store.overlays("staging") + await store.holds("staging")
        rows = await store.audit_entries("staging", limit=50)
    finally:
        await store.close()
    return pause, kept, rows


@pytest.fixture
def member_tui(postgres_server, pg_database, team, member, tmp_path, monkeypatch):  # noqa: F811
    async def start():
        owner_url, member_url = await _granted(postgres_server, pg_database, team)
        monkeypatch.setenv("ENVDECK_STATE_URL", member_url)
        return owner_url, make_app(tmp_path / "state", Stage(), user="alice", env="staging")
    return start


async def test_a_members_pause_key_is_refused_plainly(member_tui, member, tmp_path, monkeypatch):  # noqa: F811
    owner_url, app = await member_tui()
    async with app.run_test(size=(140, 40)) as pilot:
        await app_ready(pilot)
        state = app.session.reconciler.envs["staging"]
        await pilot.press("p")
        await dialog_shown(pilot, ConfirmScreen, "the pause confirmation")
        await pilot.press("left", "enter")
        await wait_until(pilot, lambda: _errors(app), "the refusal said", explain=lambda: app._notifications)
        await app.workers.wait_for_complete()
        [said] = _errors(app)
        assert "the team store refused it" in said and f"your database role {member}" in said, said
        assert "repair_pauses" in said and "nothing paused" in said and "ask an owner" in said, said
        assert "permission denied" not in said and "Traceback" not in said, said  # no driver text
        assert not any("failed" in str(n.title) for n in app._notifications), app._notifications  # no worker failed
        assert not state.paused and app.session.state("staging").pause is None
    pause, _, rows = await _owner_reads(tmp_path / "state", owner_url, monkeypatch)
    assert pause is None
    assert [(r["action"], r["result"]) for r in rows if r["action"] == "pause"] == [("pause", "failed")]


@pytest.mark.parametrize(("choice", "table"), [(SET_DESIRED, "desired_overlay"), (HOLD, "repair_holds")])
async def test_a_members_keep_as_desired_or_hold_is_refused_plainly(member_tui, member, tmp_path, monkeypatch,  # noqa: F811
                                                                    choice, table):
    owner_url, app = await member_tui()
    async with app.run_test(size=(140, 40)) as pilot:
        await app_ready(pilot)
        found = [Conflict(WEB, "replicas", 2, 5)]
        # what the conflict dialog's choice starts (screens/action_flow.py start_action → chosen)
        app.run_worker(_perform(app, "staging", [(WEB, "scale")], {"replicas": "5"}, "Scale",
                                override=(choice, found)), group="actions", exit_on_error=False)
        await wait_until(pilot, lambda: _errors(app), "the refusal said", explain=lambda: app._notifications)
        await app.workers.wait_for_complete()
        [said] = _errors(app)
        assert "the team store refused it" in said and table in said and "nothing was done" in said, said
        assert "permission denied" not in said, said
        assert not any("failed" in str(n.title) for n in app._notifications), app._notifications
        state = app.session.reconciler.envs["staging"]
        assert not state.holds and not state.overlays
    _, kept, rows = await _owner_reads(tmp_path / "state", owner_url, monkeypatch)
    assert kept == []
    assert not any(r["action"] == "scale" for r in rows), rows  # refused before the action
