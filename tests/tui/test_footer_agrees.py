"""The footer, `?` and the keys agree (testers at 80×24 on the demo): the footer follows the
selection and the rows (a filter applied, a cursor on a Pod, an environment-level Timeline row),
an action key pressed where it cannot act says why in one line, keys that work (S on a group,
D/Z/W on a created environment) are offered, and the overview's names stay apart and whole
enough at 80 and 120 columns, REPAIR never cut."""

from __future__ import annotations

import pytest

from screens.environment import EnvironmentScreen
from screens.help import HelpScreen
from screens.overview import EnvironmentsTable
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, drawn_keys, make_app, settle, wait_until
from tests.tui.test_lifecycle_tui import SMALL, created_and_selected, lifecycle_app
from tui.core.env_state import LifecycleChanged
from tui.core.lifecycle.records import EnvLifecycleState
from tui.widgets.resource_table import ResourceTable


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


def footer_actions(screen) -> set[str]:
    """The actions of the keys the footer draws (as the last frame drew them)."""
    return {k.action for k in drawn_keys(screen) if not k.disabled}


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def press_says(pilot, key: str) -> list[str]:
    app = pilot.app
    app.clear_notifications()
    await pilot.press(key)
    await pilot.pause()
    return notes(app)


async def test_footer_follows_the_filter_and_keys_say_why(tmp_path, stage):
    stage.replica_sets = True  # pods name their ReplicaSet, which names its Deployment
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        screen = app.screen
        table = screen.query_one(ResourceTable)
        await pilot.press("slash", *"Deployment", "enter")
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Deployment/web"), "web's row")
        await settle(pilot)
        assert {"logs", "restart"} <= footer_actions(screen), footer_actions(screen)
        # a filter that leaves no row: the keys go while typing, before Enter
        await pilot.press("slash", *"zzznomatch")
        await settle(pilot)
        assert not {"logs", "restart", "repair"} & footer_actions(screen), footer_actions(screen)
        await pilot.press("enter")
        await settle(pilot)
        assert not {"logs", "restart", "repair"} & footer_actions(screen), footer_actions(screen)
        said = await press_says(pilot, "r")
        assert said == ["nothing selected"], said
        # a filter whose first row is a Pod: no r, and r says why
        await pilot.press("slash", "ctrl+u", *"^api-", "enter")
        await settle(pilot)
        assert screen.selected_resource().kind == "Pod", screen.selected_id()
        assert "restart" not in footer_actions(screen), footer_actions(screen)
        said = await press_says(pilot, "r")
        assert said == ["Pods cannot be restarted; restart their Deployment"], said


async def test_timeline_environment_row_offers_no_resource_keys(tmp_path, stage):
    """A Timeline row about the whole environment (a repair run) is no resource: no l/r, and r
    says so, even where a resource happens to carry the environment's name."""
    from tests.tui.stage import FIXED_NOW
    from tui.core.model import TimelineEntry
    from tui.widgets.record_views import TimelineTable

    app = make_app(tmp_path, stage, env="staging", view="timeline")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        screen = app.screen
        await app.session.store.add_timeline("staging", [TimelineEntry(
            at=FIXED_NOW, resource="staging", kind="repair", severity="info", reason="RepairRun",
            message="6 repairs")])
        screen.refresh_view("timeline")
        timeline = screen.query_one(TimelineTable)
        await wait_until(pilot, lambda: any(str(k.value).startswith("staging\t") for k in timeline.rows),
                         "the environment's row", explain=lambda: [k.value for k in timeline.rows])
        timeline.move_to_key(next(str(k.value) for k in timeline.rows if str(k.value).startswith("staging\t")))
        await settle(pilot)
        assert screen.selected_id() is None
        assert not {"logs", "restart", "repair"} & footer_actions(screen), footer_actions(screen)
        assert await press_says(pilot, "r") == ["nothing selected"]
        assert await press_says(pilot, "l") == ["nothing selected"]


def footer_key_fits(screen, action: str) -> bool:
    """The footer key of `action` is drawn whole, left of the docked `^p Palette`."""
    keys = list(drawn_keys(screen))
    key = next(k for k in keys if k.action == action)
    right = min((k.region.x for k in keys if k.action == "command_palette"), default=screen.size.width)
    return key.region.width > 0 and key.region.right <= right


def help_rows(app) -> dict[str, str]:
    return {key.split(":", 1)[0]: cells[2].plain for key, cells in app.screen._rows.items()}


async def test_scale_is_offered_on_a_group_it_scales(tmp_path, stage):
    from screens.confirm import ConfirmScreen
    from tests.tui.test_aws_kinds_tui import ASG, make, select

    app = make(tmp_path, stage)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        screen = app.screen
        await select(pilot, ASG)
        await settle(pilot)
        assert "scale" in footer_actions(screen), footer_actions(screen)
        assert footer_key_fits(screen, "scale") and footer_key_fits(screen, "quit")
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the capacity dialog")
        await pilot.press("escape")
        # a Deployment with logs, restart and drift: the footer keeps q Quit whole rather than S
        await select(pilot, "kubernetes/Deployment/api")
        assert {"logs", "restart", "repair"} <= footer_actions(screen), footer_actions(screen)
        assert footer_key_fits(screen, "quit")
        # a Pod: nothing to scale, no S
        await select(pilot, "kubernetes/Pod/api-5c8b-xyz12")
        assert "scale" not in footer_actions(screen)


async def test_lifecycle_keys_offered_where_they_work_and_help_agrees(tmp_path, stage, world):

    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = await created_and_selected(pilot, app)
        overview = app.screen
        assert {"env_destroy", "env_sleep"} <= footer_actions(overview), footer_actions(overview)
        assert footer_key_fits(overview, "env_sleep") and footer_key_fits(overview, "quit")
        table.move_to_key("staging")
        await settle(pilot)
        assert not {"env_destroy", "env_sleep", "env_wake"} & footer_actions(overview)
        # the declared staging: `?` says D/Z/W and 8 Steps are not for now
        app.open_env("staging")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready, "staging")
        await settle(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        rows = help_rows(app)
        for ident in ("env-destroy", "env-sleep", "env-wake", "view-steps"):
            assert rows[ident].endswith("(not now)"), (ident, rows[ident])
        await pilot.press("escape")
        said = await press_says(pilot, "8")
        assert said == ["staging was not created from a template: it has no lifecycle steps"], said
        # pr-3's Steps view: no resource keys, D and Z offered, and `?` lists them as usable
        app.open_env("pr-3", view="steps")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready
                         and app.screen.env == "pr-3" and app.screen.active_view == "steps", "pr-3's steps")
        await settle(pilot)
        steps = app.screen
        assert {"env_destroy", "env_sleep"} <= footer_actions(steps), footer_actions(steps)
        assert not {"restart", "logs", "repair"} & footer_actions(steps)
        assert footer_key_fits(steps, "env_sleep") and footer_key_fits(steps, "quit")
        said = await press_says(pilot, "r")
        assert said == ["a step is not a resource: Enter opens the resource it made"], said
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        rows = help_rows(app)
        for ident in ("env-destroy", "env-sleep", "view-steps"):
            assert not rows[ident].endswith("(not now)"), (ident, rows[ident])
        assert rows["env-wake"].endswith("(not now)"), "ready: W is off the footer, and off in `?` too"
        assert rows["restart"].endswith("(not now)")


LONG = "preview-feature-very-long-branch-name-12345"


def header_line(table) -> str:
    return "".join(s.text for s in table.render_line(0))


def row_lines(table) -> list[str]:
    return ["".join(s.text for s in table.render_line(y)) for y in range(1, table.row_count + 1)]


async def created(pilot, *names: str, ttl_s: int) -> EnvironmentsTable:
    app = pilot.app
    for name in names:
        await app.session.env_create(name, "preview", {"branch": "x"}, ttl_s=ttl_s, wait=False)
    table = app.screen.query_one(EnvironmentsTable)
    await wait_until(pilot, lambda: all(n in table.row_keys for n in names), "the created rows")
    await settle(pilot)
    return table


async def test_overview_long_created_name_fits_80_columns_and_the_column_shrinks_after(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = await created(pilot, LONG, ttl_s=45 * 60)
        assert header_line(table).rstrip().endswith("REPAIR"), header_line(table)
        lines = {line.split()[0]: line for line in row_lines(table)}
        assert lines["staging"].rstrip().endswith("propose"), lines["staging"]
        name = table.cells_of(LONG)[0].plain
        # cut in its middle: its start and its end stay, the expiry mark whole
        assert name.startswith("pr") and name.split(" ⌛")[0].endswith("45") and "…" in name, name
        assert name.endswith("⌛45m"), name
        assert table.virtual_size.width <= table.scrollable_content_region.width
        # the line under the table: the whole name, and its expiry whole
        table.move_to_key(LONG)
        await settle(pilot)
        under = app.screen.query_one("#env-description").render()
        first = str(under).splitlines()[0]
        assert first.startswith(LONG) and "expires in 4" in first and not first.endswith("…"), first
        # destroyed and gone: the ENV column is as wide as the names left
        gone = app.managed[LONG]
        gone.state = EnvLifecycleState.DESTROYED
        app.bridge(LifecycleChanged(LONG, gone))
        app.session.reconciler.envs.pop(LONG, None)  # as the reconciler drops a destroyed one
        app.screen.refresh_all()
        await wait_until(pilot, lambda: LONG not in table.row_keys, "the destroyed row gone",
                         explain=lambda: list(table.row_keys))
        await settle(pilot)
        env = next(c for k, c in table.columns.items() if k.value == "env")
        assert env.get_render_width(table) == len("staging") + 2, env.get_render_width(table)
        assert header_line(table).split()[-1] == "REPAIR"


async def test_overview_tells_similar_created_names_apart(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=(120, 30)) as pilot:
        await app_ready(pilot)
        table = await created(pilot, "adv7-b", "adv7-c", LONG, ttl_s=54 * 60)
        cells = {k: table.cells_of(k)[0].plain for k in ("adv7-b", "adv7-c", LONG)}
        assert cells["adv7-b"].startswith("adv7-b ⌛") and cells["adv7-c"].startswith("adv7-c ⌛"), cells
        assert cells[LONG].startswith(LONG) or cells[LONG].split(" ⌛")[0].endswith("12345"), cells
        assert header_line(table).rstrip().endswith("REPAIR")
    app = lifecycle_app(tmp_path / "80", stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = await created(pilot, "adv7-b", "adv7-c", LONG, ttl_s=54 * 60)
        names = [table.cells_of(k)[0].plain.split(" ⌛")[0] for k in ("adv7-b", "adv7-c")]
        assert len(set(names)) == 2 and all(n.endswith(("-b", "-c")) for n in names), names
        assert header_line(table).rstrip().endswith("REPAIR"), header_line(table)
        assert all(line.rstrip().endswith(("propose", "auto", "observe", "—")) for line in row_lines(table)), \
            row_lines(table)


async def test_p_reads_and_does_resume_on_a_paused_environment(tmp_path, stage):
    """The environment screen of a paused environment says what `p` does there, as the overview
    does: `Resume` in the footer (where it has room), in `?` and in the palette; `p` asks to resume."""
    from screens.confirm import ConfirmScreen
    from screens.help import binding_rows
    from tests.tui.pilot import palette_typed

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(120, 24)) as pilot:
        await app_ready(pilot)
        screen = app.screen
        assert binding_rows(screen, app.palette)["pause:p"][2].plain.startswith("Pause")
        await app.session.set_paused("staging", True)
        await wait_until(pilot, lambda: any(k.key == "p" and k.description == "Resume"
                                            for k in drawn_keys(screen)),
                         "p Resume in the footer", explain=lambda: [(k.key, k.description)
                                                                   for k in drawn_keys(screen)])
        assert binding_rows(screen, app.palette)["pause:p"][2].plain.startswith("Resume")
        await pilot.resize_terminal(80, 24)  # first of the keys the footer offers where they can act
        await wait_until(pilot, lambda: any(k.key == "p" and k.description == "Resume"
                                            for k in drawn_keys(screen)) and screen.size.width == 80,
                         "p Resume in the footer at 80 columns", explain=lambda: [(k.key, k.description)
                                                                                 for k in drawn_keys(screen)])
        await palette_typed(pilot, "resume stag", "Resume reconciling staging")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "back on the environment")
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert str(app.screen.request.title) == "Resume repairs of staging?"
