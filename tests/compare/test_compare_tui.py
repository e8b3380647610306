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


class ChangingProdBastion(StageAws):
    """prod's bastion is whatever instance type the stage says (`stage.prod_type`), with a long AMI
    id per environment whose end is what differs."""

    def build(self):
        out = super().build()
        itype = getattr(self.stage, "prod_type", "t3.micro") if self.env == "prod" else "t3.micro"
        return [replace(r, attributes={**r.attributes, "instance_type": itype,
                                       "image_id": f"ami-registry.example/golden/bastion-{self.env}"})
                if r.kind == "ec2-instance" else r for r in out]


async def test_the_view_recompares_quietly_while_an_environment_keeps_changing(tmp_path, stage):
    """Issue 18: a change of either environment used to recurse (tick → refresh → show → tick)
    until RecursionError killed the app. Now each change is compared again in the worker."""
    stage.prod_type = "t3.large"
    app = make_app(tmp_path, stage, env="staging", aws=ChangingProdBastion)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        screen.min_interval_s = 0.0  # compare again at the next tick after a change (the view's pace)
        for itype in ("t3.xlarge", "m5.large", "m5.2xlarge", "c5.large"):
            stage.prod_type = itype
            await app.session.reconcile_once(repair=False)
            await wait_until(pilot, lambda itype=itype: ("aws/ec2-instance/bastion", "instance_type", itype)
                             in [(r.role, r.field, r.b) for r in screen.rows], f"the comparison with {itype}",
                             timeout=15, explain=lambda: screen.rows)
        await settle(pilot)
        assert app.is_running and app.screen is screen
        table = screen.query_one("#compare-table")
        assert "c5.large" in table.get_cell_at((screen.shown_rows.index(next(
            r for r in screen.shown_rows if r.field == "instance_type")), 3)).plain
        ami = next(i for i, r in enumerate(screen.shown_rows) if r.field == "ami")
        cells = [table.get_cell_at((ami, c)).plain for c in (2, 3)]
        assert cells[0].startswith("…") and cells[0].endswith("bastion-staging"), "cut at the start"
        assert cells[1].endswith("bastion-prod")
        table.move_cursor(row=ami)
        await settle(pilot)
        lines = str(screen.query_one("#compare-detail").render()).splitlines()
        assert lines[1:] == ["staging: ami-registry.example/golden/bastion-staging",
                             "prod: ami-registry.example/golden/bastion-prod"], lines


@pytest.mark.parametrize("width", [80, 120])
async def test_the_table_takes_the_terminals_width(tmp_path, stage, width):
    app = make_app(tmp_path, stage, env="staging", aws=BiggerProdBastion)
    async with app.run_test(size=(width, 24)) as pilot:
        screen = await open_compare(pilot)
        table = screen.query_one("#compare-table")
        used = sum(c.get_render_width(table) for c in table.columns.values())
        assert width - 12 <= used <= width - 2, (width, used)
