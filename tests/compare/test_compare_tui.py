"""The compare view (`:diff prod`) at 80×24 on the in-memory stage: prod's bastion is a
bigger instance and prod has no edge nodes, so the view shows exactly that; `/` filters,
Esc clears the filter then goes back; a snapshot of the screen (deterministic stage)."""

from __future__ import annotations

import pytest

from screens.compare import CompareScreen
from screens.environment import EnvironmentScreen
from screens.help import HelpScreen, binding_rows
from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tests.tui.stage import Stage, StageAws, replace

SIZE = (80, 24)


@pytest.fixture
def stage() -> Stage:
    return Stage()


class BiggerProdBastion(StageAws):
    def build(self):
        out = super().build()
        if self.env == "prod":
            out = [replace(r, attributes={**r.attributes, "instance_type": "t3.large"})
                   if r.kind == "ec2-instance" else r for r in out]
        return out


async def open_compare(pilot) -> CompareScreen:
    app = pilot.app
    await app_ready(pilot)
    await pilot.press("colon", *"diff prod", "enter")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.result is not None,
                     "the comparison")
    await settle(pilot)
    return app.screen


async def test_diff_prod_shows_exactly_the_differences_filter_and_back(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", aws=BiggerProdBastion)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        assert (screen.a_env, screen.b_env) == ("staging", "prod")
        assert [(r.role, r.field, r.a, r.b, r.what) for r in screen.rows] == [
            ("aws/ec2-instance/bastion", "instance_type", "t3.micro", "t3.large", "differs"),
            ("edge/node/gw-01", "(resource)", "edge/node/gw-01", None, "only_a"),
            ("edge/service/gw-01:nginx", "(resource)", "edge/service/gw-01:nginx", None, "only_a")]
        await pilot.press("slash", *"nginx")
        await wait_until(pilot, lambda: len(screen.shown_rows) == 1, "the filtered row")
        assert screen.shown_rows[0].role == "edge/service/gw-01:nginx"
        await pilot.press("enter", "escape")  # the first Esc clears the filter
        await wait_until(pilot, lambda: len(screen.shown_rows) == 3, "every row again")
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        ids = {key.split(":", 1)[0] for key in binding_rows(screen, app.palette)}
        assert {"compare-back", "compare-filter", "compare-refresh"} <= ids, ids
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "the compare view again")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "back to staging")


async def test_diff_of_an_unknown_environment_says_so(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await pilot.press("colon", *"diff nope", "enter")
        await settle(pilot)
        assert isinstance(app.screen, EnvironmentScreen), "nothing opened"


def test_compare_snapshot(snap_compare, tmp_path, stage):
    async def run(pilot):
        await open_compare(pilot)

    assert snap_compare(make_app(tmp_path, stage, env="staging", aws=BiggerProdBastion), terminal_size=SIZE,
                        run_before=run)
