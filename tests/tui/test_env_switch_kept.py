"""Switching environments keeps the screens of the last few environments shown (a switch
back is a show, not a rebuild): a kept screen shows what changed while it was away, comes
back as a new screen would (no filter, first row), Esc and the overview's Enter go where
they went before, and no more than KEEP screens stay mounted."""

from __future__ import annotations

from screens.environment import EnvironmentScreen
from screens.kept_env_screens import KEEP
from screens.overview import OverviewScreen
from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.stage import STAGE_CONFIG
from tui.widgets.resource_table import ResourceTable

SIZE = (120, 36)
WEB = "kubernetes/Deployment/web"


def table(app) -> ResourceTable:
    return app.screen.query_one(ResourceTable)


def status_of(app, key: str) -> str:
    cells = table(app).cells_of(key)
    return " ".join(cell.plain for cell in cells) if cells else ""


def on_env(app, env: str) -> bool:
    return isinstance(app.screen, EnvironmentScreen) and app.screen.env == env and app.screen.ready


async def test_a_kept_screen_shows_changes_made_while_away_and_esc_goes_where_it_went(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        staging = app.screen
        total = table(app).row_count
        await pilot.press("slash", *"web", "enter")
        await wait_until(pilot, lambda: 0 < table(app).row_count < total, "the filtered rows")
        assert "3/3 ready" in status_of(app, WEB)

        await pilot.press("colon", *"prod", "enter")
        await wait_until(pilot, lambda: on_env(app, "prod"), "prod")
        assert len(app.screen_stack) == 3 and staging not in app.screen_stack

        stage.replicas["web"] = 5  # changes while staging is not shown
        await app.session.observe_in_turn()
        await pilot.press("colon", *"staging", "enter")
        await wait_until(pilot, lambda: on_env(app, "staging"), "staging again")
        assert app.screen is staging  # the kept screen, not a new one
        await wait_until(pilot, lambda: "5/5 ready" in status_of(app, WEB), "the change made while away",
                         explain=lambda: status_of(app, WEB))
        # as a new screen shows it: no filter, every row, the cursor on the first row, resources view
        assert not staging.view.filter.active and table(app).row_count == total
        assert table(app).cursor_row == 0 and staging.active_view == "resources"
        assert len(app.screen_stack) == 3

        await pilot.press("escape")  # as before: the overview, the environment screen popped
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview")
        assert len(app.screen_stack) == 2
        await pilot.press("enter")  # the overview opens the selected environment, as before
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "an environment")
        assert len(app.screen_stack) == 3
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview again")


EXTRA = "".join(f"""
  {env}:
    repair: observe
    kubernetes:
      namespace: {env}
""" for env in ("qa", "dev", "perf", "uat", "demo"))


async def test_no_more_than_keep_screens_stay_mounted(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", config_text=STAGE_CONFIG + EXTRA)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        staging = app.screen
        for env in ("prod", "qa", "dev", "perf", "uat", "demo"):  # one more than KEEP
            await pilot.press("colon", *env, "enter")
            await wait_until(pilot, lambda e=env: on_env(app, e), env)
        kept = [s for s in app._installed_screens.values() if isinstance(s, EnvironmentScreen)]
        assert len(kept) == KEEP and staging not in kept
        # removed from the DOM: its widgets gone (Textual leaves is_mounted set on a removed screen)
        await wait_until(pilot, lambda: staging not in app._registry and not staging.children,
                         "the oldest kept screen removed")
        await pilot.press("colon", *"staging", "enter")  # an evicted environment is built again
        await wait_until(pilot, lambda: on_env(app, "staging"), "staging rebuilt")
        assert app.screen is not staging and table(app).row_count > 0


async def test_leaving_stops_the_logs_and_coming_back_shows_a_new_logs_view(tmp_path, stage):
    from tui.widgets.logs_view import LogsView

    stage.follow_forever = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        staging = app.screen
        await wait_until(pilot, lambda: table(app).move_to_key("kubernetes/Pod/web-7d9f-abcde"), "the pod row")
        await pilot.press("l")
        await wait_until(pilot, lambda: staging.active_view == "logs" and staging.query_one(LogsView).lines,
                         "the followed lines")
        assert staging._log_workers
        await pilot.press("colon", *"prod", "enter")
        await wait_until(pilot, lambda: on_env(app, "prod"), "prod")
        await wait_until(pilot, lambda: not staging._log_workers, "the log stream stopped")
        await pilot.press("colon", *"staging", "enter")
        await wait_until(pilot, lambda: on_env(app, "staging") and app.screen is staging, "staging again")
        await wait_until(pilot, lambda: not staging.query_one(LogsView).lines
                         and staging.query_one(LogsView).stream_id == 0, "a new, empty Logs view")
        assert staging.active_view == "resources"
        await pilot.press("2")  # the Logs view works as on a new screen
        await wait_until(pilot, lambda: staging.active_view == "logs", "the logs view")
