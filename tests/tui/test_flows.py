"""Pilot tests of the key flows (app.run_test), on the in-memory stage with the
reconciler running: filter and drill, restart with confirmation → audit row,
viewer denied → disabled with reason and audit `denied`, drift → R → InSync,
`:` jumps, palette and theme persistence, a dead backend → Unknown with age while
the rest stays live. The same flows against the demo's real servers are in
test_demo_flows.py."""

from __future__ import annotations

from textual.widgets import OptionList

from screens.confirm import ConfirmScreen
from screens.environment import EnvironmentScreen
from screens.overview import OverviewScreen
from screens.resource_detail import ResourceDetailScreen
from tests.tui.pilot import app_ready, dialog_shown, make_app, palette_typed, wait_for_audit, wait_until
from tests.tui.stage import LIVE_CONFIG
from tui.core.model import Drift, Health
from tui.widgets.record_views import DriftTable
from tui.widgets.resource_table import ResourceTable
from tui.widgets.status_bar import StatusBar

SIZE = (120, 36)


async def audit(app, env="staging"):
    return await app.session.store.audit_entries(env, limit=50)


def table(app) -> ResourceTable:
    return app.screen.query_one(ResourceTable)


async def select(pilot, resource_id: str) -> None:
    await wait_until(pilot, lambda: table(pilot.app).move_to_key(resource_id), f"row {resource_id}")
    await pilot.pause()


async def test_filter_and_drill(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert table(app).row_count == 11
        await pilot.press("slash", *"oom")
        await wait_until(pilot, lambda: table(app).row_count == 1, "the filter to leave one row")
        assert table(app).row_keys == ["kubernetes/Pod/worker-6f4d-oom01"]
        await pilot.press("enter")  # leaves the filter box, keeps the filter
        await pilot.press("enter")  # drills into the row
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the detail screen")
        assert app.screen.resource_id == "kubernetes/Pod/worker-6f4d-oom01"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "back on the environment")
        # `!` inverts; fuzzy with `~`
        await pilot.press("slash", "ctrl+u", *"!pod", "enter")
        await wait_until(pilot, lambda: table(app).row_count == 7, "the inverted filter")
        assert not any("/Pod/" in k for k in table(app).row_keys)
        await pilot.press("slash", "ctrl+u", *"~wkr", "enter")
        await wait_until(pilot, lambda: table(app).row_keys == ["kubernetes/Pod/worker-6f4d-oom01"], "fuzzy match")
        await pilot.press("escape")  # clears the filter
        await wait_until(pilot, lambda: table(app).row_count == 11, "the filter to clear")


async def test_sort_group_and_marks(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        await pilot.press("greater_than_sign")  # backend -> health
        assert screen.view.sort == "health"
        await wait_until(pilot, lambda: table(app).row_keys[0].startswith("kubernetes/Pod/"), "worst first")
        assert {table(app).row_keys[0], table(app).row_keys[1]} == {"kubernetes/Pod/api-5c8b-xyz12",
                                                                    "kubernetes/Pod/worker-6f4d-oom01"}
        await pilot.press("b")
        await wait_until(pilot, lambda: table(app).row_keys[0] == "group:aws", "group headers")
        assert [k for k in table(app).row_keys if k.startswith("group:")] == ["group:aws", "group:edge",
                                                                               "group:kubernetes"]
        await pilot.press("b")
        await select(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await pilot.press("space")
        await select(pilot, "kubernetes/Pod/web-7d9f-fghij")
        await pilot.press("space")
        assert screen.view.marks == {"kubernetes/Pod/web-7d9f-abcde", "kubernetes/Pod/web-7d9f-fghij"}
        assert [r.id for r in screen.targets()] == sorted(screen.view.marks)


async def test_restart_with_confirmation_writes_audit_row(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("r")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        assert stage.performed == []  # nothing happens before confirming
        await pilot.press("left", "enter")  # Cancel has the focus: move to Confirm
        await wait_until(pilot, lambda: stage.performed, "the restart to reach the backend")
        assert stage.performed == [("staging", "kubernetes/Deployment/web", "restart", {})]
        rows = await wait_for_audit(pilot, "restart")
        assert rows[0]["result"] == "succeeded"
        assert rows[0]["user"] == "alice" and rows[0]["origin"] == "tui"
        assert rows[0]["target"] == "kubernetes/Deployment/web"
        await wait_until(pilot, lambda: not app.activities, "the progress indicator to clear")


async def test_cancelled_confirmation_does_nothing(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "the environment again")
        assert stage.performed == []
        assert await audit(app) == []


async def test_scale_asks_for_the_parameter(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("S")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press("ctrl+u", "5", "enter")
        await wait_until(pilot, lambda: stage.performed, "the scale")
        assert stage.performed == [("staging", "kubernetes/Deployment/web", "scale", {"replicas": "5"})]
        state = app.session.reconciler.envs["staging"]
        await wait_until(pilot, lambda: state.resource("kubernetes/Deployment/web").status == "5/5 ready",
                         "the next pass to show 5 replicas")


async def test_destructive_action_needs_the_typed_name(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "kubernetes/Pod/worker-6f4d-oom01")
        await pilot.press("ctrl+d")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press(*"worker", "enter")  # not the full name: refused
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and stage.performed == []
        await pilot.press(*"-6f4d-oom01", "enter")
        await wait_until(pilot, lambda: stage.performed, "the delete")
        assert stage.performed == [("staging", "kubernetes/Pod/worker-6f4d-oom01", "delete", {})]


async def test_viewer_sees_disabled_actions_and_denial_is_audited(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", user="vera")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("i")  # details (Enter on a Deployment lists its pods)
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the detail screen")
        options = app.screen.query_one("#actions", OptionList)
        restart = options.get_option("restart")
        assert restart.disabled
        assert "restart needs the operator role; vera is viewer in staging" in str(restart.prompt)
        await pilot.press("r")
        rows = await wait_for_audit(pilot, "restart")
        assert rows[0]["result"] == "denied" and rows[0]["user"] == "vera"
        assert "needs the operator role" in rows[0]["message"]
        assert not isinstance(app.screen, ConfirmScreen)  # no confirmation for what is not allowed
        assert stage.performed == []
        status = str(app.screen.query_one(StatusBar).render())
        assert "vera viewer" in status


async def test_read_only_denies_mutations(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert "READ-ONLY" in str(app.screen.query_one(StatusBar).render())
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("r")
        rows = await wait_for_audit(pilot, "restart")
        assert rows[0]["result"] == "denied" and "read-only" in rows[0]["message"]


async def test_drift_shown_then_repaired(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", view="drift", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        drift_table = app.screen.query_one(DriftTable)
        await wait_until(pilot, lambda: drift_table.row_count == 1, "the drift row")
        assert drift_table.row_keys == ["kubernetes/Deployment/api\treplicas"]
        await pilot.press("R")
        await dialog_shown(pilot, ConfirmScreen, "the repair confirmation")
        await pilot.press("left", "enter")  # Cancel has the focus: move to Confirm
        state = app.session.reconciler.envs["staging"]
        await wait_until(pilot, lambda: state.resource("kubernetes/Deployment/api").drift == Drift.IN_SYNC,
                         "the api deployment to be InSync")
        await wait_until(pilot, lambda: drift_table.row_count == 0, "the drift view to empty")
        assert stage.replicas["api"] == 2
        rows = await wait_for_audit(pilot, "scale")
        assert rows[0]["result"] == "succeeded" and rows[0]["origin"] == "tui"


async def test_observe_mode_does_not_repair(tmp_path, stage):
    app = make_app(tmp_path, stage, env="prod", view="drift")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("observe" in n.message for n in app._notifications)


async def test_command_line_jumps(tmp_path, stage):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("colon", *"prod", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.env == "prod",
                         "prod")
        await pilot.press("colon", *"staging", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.env == "staging",
                         "staging")
        await pilot.press("colon", *"pods", "enter")
        await wait_until(pilot, lambda: app.screen.view.kind == "Pod", "the pods")
        await wait_until(pilot, lambda: table(app).row_count == 4, "only pods")
        await pilot.press("colon", *"drift", "enter")
        await wait_until(pilot, lambda: app.screen.active_view == "drift", "the drift view")
        await pilot.press("colon", *"prod faults", "enter")
        await wait_until(pilot, lambda: app.screen.env == "prod" and app.screen.active_view == "faults",
                         "prod faults")
        await pilot.press("colon", *"nonsense", "enter")
        await wait_until(pilot, lambda: any("nonsense" in n.message for n in app._notifications), "an error")
        await pilot.press("colon", *"overview", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview")
        assert len(app.screen_stack) == 2


async def test_palette_switches_theme_and_the_choice_persists(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert app.theme == "envdeck-dark"
        await palette_typed(pilot, "Theme: envdeck-light", "envdeck-light")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "envdeck-light", "the light theme")
        stored: list = []
        for _ in range(200):
            stored = [await app.session.store.get_setting("ui.theme")]
            if stored[0] == "envdeck-light":
                break
            await pilot.pause(0.05)
        assert stored == ["envdeck-light"]
    again = make_app(tmp_path, stage, env="staging")
    async with again.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert again.theme == "envdeck-light"


async def test_palette_opens_an_environment_view(tmp_path, stage):
    app = make_app(tmp_path, stage)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await palette_typed(pilot, "staging: compliance", "staging: compliance")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen)
                         and app.screen.active_view == "compliance", "the compliance view")


async def test_dead_backend_turns_unknown_with_age_while_the_rest_stays_live(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        state = app.session.reconciler.envs["staging"]
        await wait_until(pilot, lambda: state.backends["edge"].reachable is True, "edge to be observed")
        stage.down.add("edge")
        await wait_until(pilot, lambda: state.backends["edge"].reachable is False, "edge to be unreachable")
        await wait_until(pilot, lambda: state.resource("edge/node/gw-01").health == Health.UNKNOWN, "Unknown")
        assert not table(app).compact  # 120 columns: the wide layout, health is column 5
        await wait_until(pilot, lambda: table(app).cells_of("edge/node/gw-01")[5].plain == "? Unknown",
                         "the Unknown cell")
        status = str(app.screen.query_one(StatusBar).render())
        assert "edge ✗ 12s old" in status  # the fixed clock: last good observation 12 s ago
        assert "connection refused" in status
        # the other backends keep updating
        stage.replicas["web"] = 4
        await wait_until(pilot, lambda: state.resource("kubernetes/Deployment/web").status == "4/4 ready",
                         "kubernetes to keep updating")
        await wait_until(pilot, lambda: table(app).cells_of("kubernetes/Deployment/web")[4].plain == "4/4 ready",
                         "the table to show it")
        assert state.resource("kubernetes/Deployment/web").health == Health.PROGRESSING
        # and recovery
        stage.down.clear()
        await wait_until(pilot, lambda: state.resource("edge/node/gw-01").health == Health.HEALTHY, "recovery")


async def test_pause_and_resume_reconciling(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        state = app.session.reconciler.envs["staging"]
        await pilot.press("p")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press("left", "enter")  # Cancel has the focus: move to Confirm
        await wait_until(pilot, lambda: state.paused, "the environment to pause")
        await wait_until(pilot, lambda: "PAUSED" in str(app.screen.query_one(StatusBar).render()), "PAUSED shown")
        rows = await wait_for_audit(pilot, "pause")
        assert rows[0]["result"] == "succeeded"
        await pilot.press("p")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press("left", "enter")  # Cancel has the focus: move to Confirm
        await wait_until(pilot, lambda: not state.paused, "the environment to resume")


async def test_yaml_view_hides_secret_values(tmp_path, stage):
    from textual.widgets import Static

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the detail screen")
        assert app.screen.query_one("TabbedContent").active == "yaml"
        text = str(app.screen.query_one("#yaml-text", Static).render())
        assert "API_TOKEN: '***'" in text and "LOG_LEVEL: info" in text
        assert "s3cr3t-value" not in text
