"""The overview in team mode (issue 16): with another process leading the environments (an agent's
Session here), the TUI's overview gets a LEADER column (`agent@ops-1` and the lease's age), the
line under the table says that this envdeck follows it, and the environment's status bar says
`led by agent@ops-1 · following`. A single user, who leads everything, sees no LEADER column."""

from __future__ import annotations

from screens.overview import EnvironmentsTable, leader_cell
from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.stage import Stage, stage_config, stage_factory
from tui.core.env_state import EnvState
from tui.core.model import Origin, now_utc
from tui.core.session import Session
from tui.widgets.cells import Palette


def _columns(app) -> list[str]:
    table = app.screen.query_one(EnvironmentsTable)
    return [str(c.label) for c in table.columns.values()]


def _row(app, env: str) -> str:
    table = app.screen.query_one(EnvironmentsTable)
    return " ".join(c.plain for c in table.get_row(env))


def _under(app) -> str:
    return str(app.screen.query_one("#env-description").render())


async def test_the_overview_names_the_leader_and_says_it_follows(tmp_path):
    state_dir = tmp_path / "state"
    stage = Stage()
    agent = await Session.open(stage_config(), state_dir, origin=Origin.CLI, user="alice",
                               backends_factory=stage_factory(stage))
    agent.reconciler.leadership.holder = "agent@ops-1:4242"
    await agent.start_reconciling()
    try:
        app = make_app(state_dir, stage, user="vera", live=True)
        async with app.run_test(size=(160, 40)) as pilot:
            await app_ready(pilot)
            await wait_until(pilot, lambda: "LEADER" in _columns(app), "the LEADER column",
                             explain=lambda: _columns(app))
            await wait_until(pilot, lambda: "agent@ops-1" in _row(app, "staging"), "the leader in the row",
                             explain=lambda: _row(app, "staging"))
            assert "4242" not in _row(app, "staging")
            await wait_until(pilot, lambda: "following agent@ops-1" in _under(app), "the line under the table",
                             explain=lambda: _under(app))
            await pilot.press("enter")
            await wait_until(pilot, lambda: getattr(app.screen, "env", None) is not None, "the environment screen")
            await wait_until(pilot, lambda: "led by agent@ops-1 · following" in str(app.screen.query_one("#status")
                                                                                     .render()),
                             "the status bar")
    finally:
        await agent.close()


async def test_a_single_user_sees_no_leader_column(tmp_path):
    app = make_app(tmp_path / "state", Stage(), user="alice", live=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await app_ready(pilot)
        await wait_until(pilot, lambda: app.session.state("staging").leader == "you", "alice leading")
        await pilot.pause(0.2)
        assert "LEADER" not in _columns(app)
        assert "following" not in _under(app)


def test_leader_cell_says_you_or_the_holder_with_the_lease_age():
    palette = Palette({})
    state = EnvState(name="staging", repair="auto", leader="you", lease_since=now_utc())
    assert leader_cell(state, palette).plain.startswith("you ")
    state.leader = "agent@ops-1:77"
    assert leader_cell(state, palette).plain.startswith("agent@ops-1 ")
    state.leader, state.lease_since = "", None
    assert leader_cell(state, palette).plain == "—"
