"""Honest states (issue 13.9): Unknown before the first observation, data age and object
age named apart, and ages in the resource detail that keep ticking while it is open."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

from screens.overview import COLUMNS, env_row
from screens.resource_detail import ResourceDetailScreen
from tests.tui.pilot import app_ready, wait_until
from tests.tui.stage import FIXED_NOW, stage_config, stage_factory
from tui.app import AppOptions, create_app
from tui.core.env_state import EnvState
from tui.core.model import BackendState
from tui.widgets.cells import Palette
from tui.widgets.resource_table import WIDE_COLUMNS, ResourceTable

SIZE = (120, 36)


def test_an_environment_never_observed_is_unknown_not_healthy():
    state = EnvState(name="staging", repair="propose")
    state.backends["kubernetes"] = BackendState(name="kubernetes")  # no answer yet
    cells = env_row(state, FIXED_NOW, Palette({}))
    assert cells[1].plain.endswith("Unknown")
    state.backends["kubernetes"].reachable = True
    assert env_row(state, FIXED_NOW, Palette({}))[1].plain.endswith("Healthy")


def test_overview_names_the_data_age_apart_from_object_age():
    headers = dict(COLUMNS)
    assert headers["age"] == "UPDATED"
    assert dict(WIDE_COLUMNS)["age"] == "AGE"  # the object's age on Resources, as in k9s


@asynccontextmanager
async def web_detail(tmp_path, stage, now: list):
    """The app on the stage with web's detail open (its "observed" 12 s old at FIXED_NOW);
    yields the pilot, the app and a reader of the summary. `now[0]` is the app's clock."""
    options = AppOptions(clock=lambda: now[0], backends_factory=stage_factory(stage), start_env="staging",
                         user="alice", testing=True, tick_s=0.05)
    app = create_app(stage_config(), tmp_path, options=options)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Deployment/web"), "the web row")
        await pilot.press("i")  # details (Enter on a Deployment lists its pods)
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the detail")

        def summary() -> str:
            return str(app.screen.query_one("#summary").render())

        await wait_until(pilot, lambda: "(12s ago)" in summary(), "observed 12s ago", explain=summary)
        yield pilot, app, summary


async def test_detail_ages_tick_while_the_screen_is_open(tmp_path, stage):
    now = [FIXED_NOW]
    async with web_detail(tmp_path, stage, now) as (pilot, app, summary):
        now[0] = FIXED_NOW + timedelta(minutes=5)
        await wait_until(pilot, lambda: "(5m ago)" in summary(), "the age to tick", explain=summary)


async def test_an_action_toast_is_one_line_at_80x24(tmp_path, stage):
    from tui.messages import ActionFinished

    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=stage_factory(stage), user="alice", testing=True)
    app = create_app(stage_config(), tmp_path, options=options)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        long = "deployment/web scaled to 5 (kept as the desired state); " * 4
        app.post_message(ActionFinished("staging", "pause repairs", True, long))
        app.post_message(ActionFinished("staging", "scale web", False, long))

        def ours() -> list:
            return [n for n in app._notifications if "deployment/web" in n.message]

        await wait_until(pilot, lambda: len(ours()) == 2, "two notifications")
        first, second = ours()
        # no title, one line that fits a toast at 80 columns (90% of the width, less padding and border)
        assert first.title == second.title == ""
        assert "\n" not in first.message and len(first.message) <= 80 * 9 // 10 - 6
        assert first.message.startswith("pause repairs in staging: deployment/web")  # not "pause staging in staging"
        # a failure leads with its reason and is kept whole (the toast wraps it), the action last
        assert second.message.startswith("failed: deployment/web scaled to 5") and second.severity == "error"
        assert second.message.endswith("(scale web in staging)") and len(second.message) > 80


async def test_detail_observed_is_the_backends_last_observation_not_the_objects_last_change(tmp_path, stage):
    """A watched object that has not changed is as fresh as the backend's last good observation:
    "observed" follows the backend (as the status bar's data age does), "changed" keeps the object's
    own last change. Before, "observed" showed the last change (minutes old on a quiet Deployment)."""
    now = [FIXED_NOW]
    async with web_detail(tmp_path, stage, now) as (pilot, app, summary):
        assert "changed" not in summary()
        # the backend observes again (nothing changed on the object) three minutes later
        now[0] = FIXED_NOW + timedelta(minutes=3)
        app.session.state("staging").backends["kubernetes"].observed_at = now[0] - timedelta(seconds=2)
        await wait_until(pilot, lambda: "observed" in summary() and "(2s ago)" in summary(),
                         "observed = the backend's last observation", explain=summary)
        changed = [line for line in summary().splitlines() if line.startswith("changed")]
        assert changed and changed[0].endswith("(3m ago)"), summary()
        # an unreachable backend's last observation says nothing about the object: its own time stays
        app.session.state("staging").backends["kubernetes"].reachable = False
        await wait_until(pilot, lambda: "changed" not in summary(), "observed falls back to the object's time",
                         explain=summary)
