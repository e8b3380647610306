"""Keys of the lifecycle that must not do nothing silently (on-call findings 11-14): Z/W on the
overview, D/Z/W on a config environment say why, `?` marks them, the Steps view offers no
resource actions and Enter on a step opens its resource; the New environment form at 80
columns; `:svc` and `:unit`; the demo's CLI hint while the TUI runs.

Real collaborators as in test_lifecycle_tui.py: the lifecycle service, store and engine, the
in-memory provisioner world, the config's environments from the in-memory stage."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets import Static

from screens.confirm import ConfirmScreen
from screens.environment import EnvironmentScreen
from screens.help import HelpScreen
from screens.jump import parse_jump
from screens.lifecycle_steps import StepsTable, expiry_text, remaining_text, step_resource_id
from screens.new_environment import FormField, NewEnvironmentScreen
from screens.overview import EnvironmentsTable, OverviewScreen
from screens.resource_detail import ResourceDetailScreen
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, dialog_shown, settle, wait_until
from tests.tui.stage import FIXED_NOW, OBSERVED, STAGE_CONFIG, StageKubernetes, stage_config, stage_factory
from tests.tui.test_lifecycle_tui import (
    SMALL,
    TEMPLATES,
    created_and_selected,
    lifecycle_app,
    memory_provisioners,
    showing_steps,
    type_into,
)
from tui.app import AppOptions, create_app
from tui.cli.demo import CLI_HINT, cli_hint, ended_line, start_toast
from tui.core.env_state import LifecycleChanged
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment, StepRecord, StepState
from tui.core.model import Health, Resource
from tui.core.session import Session
from tui.widgets.resource_table import ResourceTable


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


NOTE = "staging is declared in the config; D/Z/W manage environments created from templates"


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_overview_z_and_w_act_on_the_selected_created_environment(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = await created_and_selected(pilot, app)
        await pilot.press("Z")
        await dialog_shown(pilot, ConfirmScreen, "the sleep confirmation")
        assert "Sleep environment pr-3?" in str(app.screen.query_one("#dialog-title").render())
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: getattr(app.managed.get("pr-3"), "state", None) == "sleeping", "asleep")
        # the toast says what was asked, not the state it was in (finding 12)
        asked = [n for n in notes(app) if n.startswith("sleep pr-3")]
        assert asked and "(ready)" not in asked[-1], asked
        await wait_until(pilot, lambda: table.move_to_key("pr-3"), "its row again")
        await pilot.press("W")
        await dialog_shown(pilot, ConfirmScreen, "the wake confirmation")
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: getattr(app.managed.get("pr-3"), "state", None) == "ready", "awake")


async def test_lifecycle_keys_on_a_config_environment_say_why(tmp_path, stage, world):
    """On the overview and on staging's screen: D, Z and W say in one line why nothing happens."""
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: table.move_to_key("staging"), "staging's row")
        for key in ("D", "Z", "W"):
            app.clear_notifications()
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            assert notes(app) == [NOTE], (key, notes(app))
        app.open_env("staging")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready, "staging")
        await settle(pilot)
        for key in ("D", "Z", "W"):
            app.clear_notifications()
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            assert notes(app) == [NOTE], (key, notes(app))


async def test_help_marks_lifecycle_keys_of_a_config_environment_not_now(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: table.move_to_key("staging"), "staging's row")
        for where in ("overview", "environment"):
            if where == "environment":
                app.open_env("staging")
                await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready,
                                 "staging")
                await settle(pilot)
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
            rows = {key.split(":", 1)[0]: cells[2].plain for key, cells in app.screen._rows.items()}
            for ident in ("env-destroy", "env-sleep", "env-wake"):
                assert ident in rows and rows[ident].endswith("(not now)"), (where, ident, rows.get(ident))
            await pilot.press("escape")
            await pilot.pause()


STEPS_ON_STAGE = [  # native ids the stage observes for pr-42 (tests/tui/stage.py)
    StepRecord("pr-42", "uploads", "aws", "s3-bucket", state=StepState.HEALTHY, native_id="pr-42-uploads",
               started_at=FIXED_NOW - timedelta(seconds=4), finished_at=FIXED_NOW - timedelta(seconds=2)),
    StepRecord("pr-42", "web", "aws", "ec2-instance", state=StepState.WAITING, native_id="i-0abc123",
               started_at=FIXED_NOW - timedelta(seconds=9)),
    StepRecord("pr-42", "later", "aws", "ec2-instance")]


async def test_steps_view_offers_no_resource_keys_and_enter_opens_the_steps_resource(tmp_path, stage, world):
    session = await Session.open(stage_config(STAGE_CONFIG + TEMPLATES), tmp_path, user="alice",
                                 backends_factory=stage_factory(stage), provisioners=memory_provisioners(world))
    try:  # created before the app starts: observed by its first pass, no reconciler to change its steps
        await session.env_create("pr-42", "preview", {"branch": "feature-x"}, wait=False)
    finally:
        await session.close()
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await wait_until(pilot, lambda: "pr-42" in app.session.states() and "pr-42" in app.managed, "pr-42 observed")
        managed = app.managed["pr-42"]
        managed.state = EnvLifecycleState.PROVISIONING
        managed.steps = STEPS_ON_STAGE
        app.bridge(LifecycleChanged("pr-42", managed))
        await wait_until(pilot, lambda: getattr(app.managed.get("pr-42"), "steps", None) == STEPS_ON_STAGE,
                         "the steps")
        app.open_env("pr-42", view="steps")
        await wait_until(pilot, lambda: showing_steps(app, "pr-42") and isinstance(app.screen, EnvironmentScreen),
                         "pr-42's Steps view")
        screen = app.screen
        table = screen.query_one(StepsTable)
        await wait_until(pilot, lambda: len(table.row_keys) == 3, "three steps")
        await settle(pilot)
        for action in ("restart", "repair", "delete", "scale", "logs"):
            assert screen.check_action(action, ()) is False, action
        footer = {ab.binding.action for ab in screen.active_bindings.values() if ab.binding.show}
        assert not footer & {"restart", "repair"}, footer
        table.move_cursor(row=1)  # web: i-0abc123
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the step's resource",
                         explain=lambda: (notes(app), table.cursor_key, [s.id for s in app.managed["pr-42"].steps]))
        assert app.screen.resource_id == "aws/ec2-instance/i-0abc123"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "back on the steps")
        await settle(pilot)
        table.move_cursor(row=2)  # later: nothing made yet
        app.clear_notifications()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and any("step later: nothing made yet" in n for n in notes(app)), notes(app)
        app.clear_notifications()  # `/` on Steps (found in tmux: KeyError 'steps' ended the TUI): it filters the
        await pilot.press("slash", "w")  # steps, the key after it typed into the box (tests/tui/test_steps_filter.py)
        await wait_until(pilot, lambda: screen.filters["steps"].text == "w", "/w filters the steps",
                         explain=lambda: (notes(app), screen.filters["steps"].text))
        assert app.screen is screen and app._exception is None and not app.keys.held


def test_step_resource_id_per_backend():
    def res(rid: str, backend: str, kind: str, name: str) -> Resource:
        return Resource(id=rid, backend=backend, kind=kind, name=name, health=Health.HEALTHY)

    resources = [res("aws/security-group/sg-0a1b", "aws", "security-group", "pr-1-web"),
                 res("kubernetes/Deployment/web", "kubernetes", "Deployment", "web"),
                 res("edge/node/gw-01", "edge", "node", "gw-01")]
    assert step_resource_id(StepRecord("e", "sg", "aws", "security-group", native_id="sg-0a1b"),
                            resources) == "aws/security-group/sg-0a1b"
    assert step_resource_id(StepRecord("e", "web", "kubernetes", "Deployment", native_id="pr-1/Deployment/web"),
                            resources) == "kubernetes/Deployment/web"
    assert step_resource_id(StepRecord("e", "svc", "edge", "services", native_id="gw-01,gw-02"),
                            resources) == "edge/node/gw-01"
    assert step_resource_id(StepRecord("e", "x", "aws", "s3-bucket"), resources) is None
    assert step_resource_id(StepRecord("e", "x", "aws", "s3-bucket", native_id="gone"), resources) is None


def test_remaining_time_keeps_hours_and_minutes_below_a_day():
    assert remaining_text(4 * 3600 - 1) == "3h59m"
    assert remaining_text(4 * 3600) == "4h"
    assert remaining_text(42 * 60 + 5) == "42m"
    assert remaining_text(2 * 86400 + 5 * 3600 + 7) == "2d5h"
    assert remaining_text(30) == "30s"




# -- finding 12: the New environment form at 80 columns ---------------------------------------------
LONG_DESCRIPTION = ("Preview environment of a branch: a bucket, a security group and an instance (moto), a "
                    "namespace with a Deployment (emulator), one edge node of the pool")
LONG_TEMPLATES = TEMPLATES.replace("description: Preview environment of a branch", f'description: "{LONG_DESCRIPTION}"') \
    .replace('branch: {type: string, pattern: "^[a-z0-9-]{1,30}$"}',
             'branch: {type: string, pattern: "^[a-z0-9-]{1,30}$", default: main, '
             'description: "the branch to preview, as pushed to the repository"}')


def shown_text(widget) -> str:
    """What `widget` shows on screen, its lines joined by spaces."""
    lines = widget.render_lines(Region(0, 0, *widget.outer_size))
    return " ".join(" ".join(strip.text.split()) for strip in lines if strip.text.strip())


async def test_new_environment_form_wraps_and_says_what_is_wrong(tmp_path, stage, world):
    assert LONG_DESCRIPTION in LONG_TEMPLATES and "the branch to preview" in LONG_TEMPLATES
    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=stage_factory(stage), start_reconciler=False,
                         user="alice", testing=True, provisioners=memory_provisioners(world))
    app = create_app(stage_config(STAGE_CONFIG + LONG_TEMPLATES), tmp_path, options=options)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen) and app.screen.template
                         and len(app.screen.query(FormField)) == 4, "the form of preview")
        await settle(pilot)
        screen = app.screen
        info = shown_text(screen.query_one("#template-info", Static))
        assert info.endswith("one edge node of the pool"), info
        hint = shown_text(screen.query_one("#field-p0", FormField).query_one(".field-hint", Static))
        assert hint.endswith("the branch to preview, as pushed to the repository"), hint
        await type_into(pilot, "ttl", "5x")
        ttl_error = shown_text(screen.query_one("#field-ttl", FormField).query_one(".field-hint", Static))
        assert "one number and a unit, e.g. 90m, 4h, 2d" in ttl_error and "500ms" not in ttl_error, ttl_error
        # ctrl+y on an invalid form: the first bad field is named, not only focused
        await type_into(pilot, "name", "Bad_Name")
        await pilot.press("ctrl+y")
        await pilot.pause()
        said = str(screen.query_one("#new-env-error", Static).render())
        assert "name: must be 1-63 of a-z, 0-9 and -" in said and screen.plan is None, said
        assert app.focused is screen.query_one("#input-name")
        # a valid one with a 4h TTL: the plan and the header say 4h / 3h59m, not 3h
        await type_into(pilot, "name", "pr-7")
        await type_into(pilot, "ttl", "4h")
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: screen.plan is not None, "the plan")
        assert "expires in 4h" in str(screen.query_one("#plan-info", Static).render())
    managed = ManagedEnvironment.__new__(ManagedEnvironment)  # only expires_at is read
    object.__setattr__(managed, "expires_at", FIXED_NOW + timedelta(hours=4))
    assert expiry_text(managed, FIXED_NOW + timedelta(seconds=1)) == "expires in 3h59m"


# -- finding 13: `:svc` is Kubernetes Services, `:unit` the edge nodes' systemd services --------------
class KubernetesWithService(StageKubernetes):
    def build(self) -> list[Resource]:
        return [*super().build(), Resource(id="kubernetes/Service/web", backend="kubernetes", kind="Service",
                                           name="web", health=Health.HEALTHY, observed_at=OBSERVED)]


def test_service_words_name_one_kind_each():
    both = {"Service", "service", "Pod"}
    for word in ("svc", "service", "services", "SVC"):
        assert parse_jump(f"staging {word}", ["staging"], both).kind == "Service", word
    for word in ("unit", "units", "edge-service", "systemd"):
        assert parse_jump(f"staging {word}", ["staging"], both).kind == "service", word
    assert parse_jump("staging pods", ["staging"], both).kind == "Pod"


async def test_svc_and_unit_list_apart_and_f_on_an_edge_service_says_what_works(tmp_path, stage, world):
    def factory(env, env_cfg, cfg):
        out = stage_factory(stage)(env, env_cfg, cfg)
        if "kubernetes" in out:
            out["kubernetes"] = KubernetesWithService(env, stage)
        return out

    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=factory, start_reconciler=False,
                         user="alice", testing=True, provisioners=memory_provisioners(world))
    app = create_app(stage_config(STAGE_CONFIG), tmp_path, options=options)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        app.open_env("staging")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready, "staging")
        await settle(pilot)

        def shown() -> list[Resource]:
            return app.screen.query_one(ResourceTable).shown

        await pilot.press("colon", *"svc", "enter")
        await wait_until(pilot, lambda: shown() and {r.kind for r in shown()} == {"Service"},
                         "Kubernetes Services only", explain=lambda: [r.id for r in shown()])
        await pilot.press("colon", *"unit", "enter")
        await wait_until(pilot, lambda: shown() and {r.kind for r in shown()} == {"service"},
                         "edge services only", explain=lambda: [r.id for r in shown()])
        await settle(pilot)
        assert app.screen.query_one(ResourceTable).selected_resource_id() == "edge/service/gw-01:nginx"
        app.clear_notifications()
        await pilot.press("F")
        await wait_until(pilot, lambda: notes(app), "a word on F")
        assert notes(app) == ["gw-01:nginx is an edge service: port-forward works on Kubernetes pods and Services"], \
            notes(app)


# -- finding 14: the demo's CLI hint stays findable while the TUI runs ----------------------------
async def test_demo_cli_hint_stays_in_the_overview_title(tmp_path, stage, world):
    env_file = Path("/tmp/envdeck-demo-_fmztfon/demo.env")
    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=stage_factory(stage), start_reconciler=False,
                         user="alice", testing=True, provisioners=memory_provisioners(world),
                         extra={CLI_HINT: cli_hint(env_file)})
    app = create_app(stage_config(STAGE_CONFIG + TEMPLATES), tmp_path, options=options)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await settle(pilot)
        assert f"CLI: . {env_file}" in shown_text(app.screen.query_one("#title", Static))
        app.open_env("staging")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready, "staging")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview again")
        await settle(pilot)
        assert f"CLI: . {env_file}" in shown_text(app.screen.query_one("#title", Static))
    assert f". {env_file}" in start_toast(env_file) and "see terminal" not in start_toast(env_file)
    assert f"`. {env_file}`" in ended_line(env_file)
