"""What on-call testers tripped over at 80×24 (k9s habits): the overview keeps every column
once a created environment is listed, the footer offers only keys that can act, and the `n`
form takes the keys typed right after it opens."""

from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList

from screens.new_environment import FormField, NewEnvironmentScreen
from screens.overview import EnvironmentsTable
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, drawn_keys, settle, wait_until
from tests.tui.test_lifecycle_tui import SMALL, STEPS_SNAPSHOT, lifecycle_app
from tui.core.env_state import LifecycleChanged
from tui.core.lifecycle.records import EnvLifecycleState


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


def shown_columns(table: EnvironmentsTable) -> dict[str, int]:
    """Column key -> its width on screen (padding included)."""
    return {str(key.value): column.get_render_width(table) for key, column in table.columns.items()}


async def test_overview_keeps_score_and_updated_at_80_columns_with_created_environments(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        for name in ("pr-42", "preview-of-the-branch-feature-x"):
            managed = await app.session.env_create(name, "preview", {"branch": "feature-x"}, wait=False)
            managed.state = EnvLifecycleState.PROVISIONING
            managed.steps = [*STEPS_SNAPSHOT]
            app.bridge(LifecycleChanged(name, managed))
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: len(table.row_keys) == 4, "both created environments listed",
                         explain=lambda: table.row_keys)
        await settle(pilot)
        widths = shown_columns(table)
        assert list(widths) == ["env", "health", "drift", "faults", "score", "backends", "age", "repair"], widths
        assert sum(widths.values()) <= table.scrollable_content_region.width, widths  # no sideways scroll
        cells = {key: [c.plain for c in table.cells_of(key)] for key in table.row_keys}
        assert cells["pr-42"][0] == "pr-42 ⌛45m", cells["pr-42"]
        assert cells["pr-42"][1] == "◐ prov 1/3", cells["pr-42"]
        long_name = cells["preview-of-the-branch-feature-x"][0]
        assert long_name == "pr…-x ⌛45m", long_name  # cut in its middle: its start and its end stay
        assert cells["staging"][4].endswith("%") and cells["staging"][6].endswith("s"), cells["staging"]
        # the whole state, name and expiry stay in the line under the table
        table.move_to_key("preview-of-the-branch-feature-x")
        await settle(pilot)
        under = str(app.screen.query_one("#env-description").render())
        assert under.startswith("preview-of-the-branch-feature-x  ◐ provisioning 1/3"), under
        assert "expires in 45m" in under, under
        # wide enough: the long words and labels again
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        cells = {key: [c.plain for c in table.cells_of(key)] for key in table.row_keys}
        assert cells["pr-42"][1] == "◐ provisioning 1/3"
        assert cells["preview-of-the-branch-feature-x"][0] == "preview-of-the-branch-feature-x ⌛45m"
        assert [str(c.label) for c in table.columns.values()][6] == "UPDATED"


def two_template_app(tmp_path, stage, world):
    """Both templates of the lifecycle tests open to alice: the list keeps the focus."""
    from tests.tui.stage import FIXED_NOW, STAGE_CONFIG, stage_config, stage_factory
    from tests.tui.test_lifecycle_tui import TEMPLATES, memory_provisioners
    from tui.app import AppOptions, create_app

    text = STAGE_CONFIG + TEMPLATES.replace("creators: [somebody-else]", 'creators: ["*"]')
    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=stage_factory(stage), user="alice",
                         testing=True, provisioners=memory_provisioners(world))
    return create_app(stage_config(text), tmp_path, options=options)


def name_value(app) -> str:
    return app.screen.query_one("#input-name", Input).value


async def test_new_environment_with_one_template_takes_the_keys_typed_at_once(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)  # `locked` is not alice's: one template to pick
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await pilot.press("n", "q", "a", "-", "1")  # typed straight on: none lost, `q` is no Quit
        await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen)
                         and bool(app.screen.query("#input-name")) and name_value(app) == "qa-1",
                         "the name typed", explain=lambda: app.screen.query("#input-name") and name_value(app))
        assert app.focused is app.screen.query_one("#input-name", Input)
        await pilot.press("tab", "tab", "x")  # past the TTL to the first parameter, branch
        assert app.screen.query_one("#input-p0", Input).value == "x"


async def test_new_environment_typing_on_the_template_list_starts_the_name(tmp_path, stage, world):
    app = two_template_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen)
                         and len(app.screen.query(FormField)) == 2, "the form of locked (listed first)")
        await settle(pilot)
        screen = app.screen
        assert screen.template.name == "locked"
        assert app.focused is screen.query_one(OptionList)  # two to pick from: the list first
        await pilot.press("down")  # preview: its form (name, ttl and two parameters)
        await wait_until(pilot, lambda: screen.template.name == "preview" and len(screen.query(FormField)) == 4,
                         "the form of preview")
        await pilot.press("q", "a", "-", "2")
        await pilot.pause()
        assert app.is_running and app.screen is screen
        assert name_value(app) == "qa-2" and app.focused is screen.query_one("#input-name", Input)
        assert screen.template.name == "preview"


def footer_key_fits(screen, action: str) -> bool:
    """The footer key of `action` is drawn whole, left of the docked `^p Palette`."""

    keys = list(drawn_keys(screen))
    key = next(k for k in keys if k.action == action)
    right = min((k.region.x for k in keys if k.action == "command_palette"), default=screen.size.width)
    return key.region.width > 0 and key.region.right <= right


def footer_actions(screen) -> set[str]:
    """The actions whose keys the footer shows (check_action False hides them, None dims them)."""
    return {ab.binding.action for ab in screen.active_bindings.values() if ab.binding.show and ab.enabled}


async def test_footer_offers_resource_keys_only_where_they_can_act(tmp_path, stage):
    from tests.tui.pilot import make_app
    from tui.widgets.resource_table import ResourceTable

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        screen = app.screen
        resources = screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: resources.move_to_key("kubernetes/Deployment/web"), "web's row")
        await settle(pilot)
        # web: logs and a restart, no drift (3 replicas, as desired): no R
        assert {"logs", "restart"} <= footer_actions(screen) and "repair" not in footer_actions(screen)
        resources.move_to_key("kubernetes/Deployment/api")  # 1 replica, 2 desired
        await settle(pilot)
        assert {"logs", "restart", "repair"} <= footer_actions(screen), footer_actions(screen)
        # the Logs view before any source: nothing selected, so no l / r / R, and `q Quit` fits
        await pilot.press("2")
        await wait_until(pilot, lambda: screen.active_view == "logs", "the Logs view")
        await settle(pilot)
        assert not {"logs", "restart", "repair"} & footer_actions(screen), footer_actions(screen)
        assert footer_key_fits(screen, "quit")
        # the Timeline filtered to no row: nothing to act on
        await pilot.press("5")
        await wait_until(pilot, lambda: screen.active_view == "timeline" and screen.ready, "the Timeline")
        await pilot.press("slash", *"no-such-row", "enter")
        await settle(pilot)
        assert not {"logs", "restart"} & footer_actions(screen), footer_actions(screen)
        assert "repair" not in footer_actions(screen)
        # back on api, then its drift repaired: R goes from the footer without a key pressed
        await pilot.press("escape", "escape", "1")
        await wait_until(pilot, lambda: screen.active_view == "resources", "the Resources view")
        resources.move_to_key("kubernetes/Deployment/api")
        await settle(pilot)
        assert "repair" in footer_actions(screen), footer_actions(screen)
        stage.replicas["api"] = 2
        await app.session.reconcile_once(repair=False)
        await wait_until(pilot, lambda: "repair" not in footer_actions(screen), "R gone with the drift",
                         timeout=15, explain=lambda: footer_actions(screen))


async def test_plan_left_enter_creates_as_in_every_confirmation(tmp_path, stage, world):
    """Cancel has the focus on the plan; left then Enter is Create (the confirmations' habit),
    right goes back to Cancel."""
    from textual.widgets import Button

    from screens.overview import OverviewScreen
    from tests.tui.test_lifecycle_tui import fill_and_plan

    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        screen = await fill_and_plan(pilot, "pr-5")
        assert app.focused is screen.query_one("#cancel", Button)
        await pilot.press("left")
        assert app.focused is screen.query_one("#create", Button)
        await pilot.press("right")
        assert app.focused is screen.query_one("#cancel", Button)
        await pilot.press("left", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen) and "pr-5" in app.managed,
                         "pr-5 created")


async def test_a_lifecycle_change_landing_as_the_app_closes_is_ignored(tmp_path, stage, world):
    """Quitting right after a Create: the create's state changes keep coming while the app closes.
    One dispatched once its screens are gone is ignored (it raised ScreenStackError on quit)."""
    from tui.messages import EnvironmentsUpdated, LifecycleUpdated

    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        managed = await app.session.env_create("pr-9", "preview", {"branch": "main"}, ttl_s=7200, wait=False)
    assert not app.screen_stack
    app.on_lifecycle_updated(LifecycleUpdated("pr-9", managed))  # as Textual dispatches it then
    app.on_environments_updated(EnvironmentsUpdated(added=["pr-9"], removed=[]))
    assert "pr-9" in app.managed


async def test_overview_keeps_the_whole_words_while_they_fit_at_80_columns(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        managed = await app.session.env_create("pr-1", "preview", {"branch": "main"}, ttl_s=7200, wait=False)
        managed.state = EnvLifecycleState.SLEEPING
        app.bridge(LifecycleChanged("pr-1", managed))
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: "pr-1" in table.row_keys, "pr-1 listed")
        await settle(pilot)
        assert [str(c.label) for c in table.columns.values()][4:7] == ["SCORE", "BACKENDS", "UPDATED"]
        assert table.cells_of("pr-1")[0].plain == "pr-1" and table.cells_of("pr-1")[1].plain == "‖ sleeping"
        assert sum(shown_columns(table).values()) <= table.scrollable_content_region.width
