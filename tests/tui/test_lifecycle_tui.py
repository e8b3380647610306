"""The lifecycle in the TUI (issue 15): `n` on the overview (template, parameter form checked
as typed, the plan, Create with Cancel focused), the new environment in the overview at once,
`D` with the typed name, the Steps view live from `LifecycleChanged`, at 80×24.

The collaborators are real: the lifecycle service, store, engine and the reconciler's
lifecycle loop; the resources are made by the in-memory provisioner of the engine's tests
(tests/lifecycle/memory_provisioner.py), whose world counts what was really created. The
config's own environments come from the in-memory stage, as in the other TUI tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Button, Input, OptionList, ProgressBar, Static

from screens.confirm import ConfirmScreen
from screens.environment import EnvironmentScreen
from screens.lifecycle_steps import LifecycleScreen, StepsTable
from screens.new_environment import FormField, NewEnvironmentScreen
from screens.overview import EnvironmentsTable, OverviewScreen
from tests.lifecycle.memory_provisioner import MemoryWorld, managed_env
from tests.security.test_palette_access import palette_hits, run_palette_command
from tests.tui.pilot import app_ready, dialog_shown, settle, wait_until
from tests.tui.stage import FIXED_NOW, STAGE_CONFIG, Stage, stage_config, stage_factory
from tests.tui.test_demo_flows import DemoServers
from tui.app import AppOptions, EnvdeckApp, create_app
from tui.core.config import load_config
from tui.core.env_state import LifecycleChanged
from tui.core.lifecycle.records import EnvLifecycleState, StepRecord, StepSpec, StepState
from tui.core.session import Session
from tui.messages import ManagedLoaded

TEMPLATES = """
templates:
  preview:
    description: Preview environment of a branch
    parameters:
      branch: {type: string, pattern: "^[a-z0-9-]{1,30}$"}
      replicas: {type: integer, default: 1, minimum: 0, maximum: 10}
    creators: ["*"]
    ttl: 45m
    max_ttl: 7d
    access: {admin: ["{creator}"], viewer: ["*"]}
    aws:
      region: us-east-1
      resources:
        - {id: assets, kind: s3-bucket, name: "{env}-assets"}
        - {id: web-sg, kind: security-group, name: "{env}-web", ingress: [{port: 443, cidr: 10.0.0.0/8}]}
        - {id: web, kind: ec2-instance, name: "{env}-web-1", image_id: ami-12c6146b, instance_type: t3.micro,
           security_groups: ["{web-sg}"], depends_on: [assets]}
  locked:
    description: release candidates
    creators: [somebody-else]
    aws:
      region: us-east-1
      resources:
        - {id: assets, kind: s3-bucket, name: "{env}-assets"}
"""
SMALL = (80, 24)


def lifecycle_app(state_dir: Path, stage: Stage, world: MemoryWorld, *, live: bool = False,
                  user: str = "alice") -> EnvdeckApp:
    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=stage_factory(stage), start_reconciler=live,
                         user=user, testing=True, provisioners=memory_provisioners(world))
    return create_app(stage_config(STAGE_CONFIG + TEMPLATES), state_dir, options=options)


def state_of(app: EnvdeckApp, env: str):
    """The lifecycle state of a created environment as the app knows it (None: not one)."""
    return getattr(app.managed.get(env), "state", None)


async def created_and_selected(pilot, app: EnvdeckApp, name: str = "pr-3"):
    """Create NAME from the preview template (handed to the app's reconciler), wait until it is
    ready and its row on the overview is selected; the overview's table."""
    await app.session.env_create(name, "preview", {"branch": "x"}, wait=False)
    await wait_until(pilot, lambda: state_of(app, name) == "ready", f"{name} ready")
    table = app.screen.query_one(EnvironmentsTable)
    await wait_until(pilot, lambda: table.move_to_key(name), "its row")
    await settle(pilot)
    return table


async def failed_on_overview(pilot, app: EnvdeckApp, name: str) -> EnvironmentsTable:
    """Create NAME from the preview template, a step of which the world refuses, and wait until
    its overview row says `✖ failed`; the overview's table."""
    await app.session.env_create(name, "preview", {"branch": "x"}, wait=False)
    table = app.screen.query_one(EnvironmentsTable)
    await wait_until(pilot, lambda: (table.cells_of(name) or ("", Text("")))[1].plain == "✖ failed",
                     f"{name} failed", explain=lambda: app.managed.get(name))
    return table


def memory_provisioners(world: MemoryWorld):
    """The in-memory world as the reconciler's ProvisionerFactory (backend, env, config, defaults, template)."""
    def factory(backend: str, env: str, config, _defaults, template: str):
        return world.factory(backend, env, config, template)
    return factory


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


def field_hint(app: EnvdeckApp, key: str) -> str:
    return str(app.screen.query_one(f"#field-{key}", FormField).query_one(".field-hint", Static).render())


def step_cells(table: StepsTable) -> dict[str, dict[str, str]]:
    """Step id -> {column key: text} as shown (at 80 columns: STEP, STATE, ELAPSED, LAST MESSAGE)."""
    return {key.split("/", 1)[1].split("\t")[0]: dict(zip(table.column_keys, (c.plain for c in table.cells_of(key)),
                                                          strict=True))
            for key in table.row_keys}


def showing_steps(app: EnvdeckApp, env: str) -> bool:
    """The steps of `env` are on screen: its environment screen's Steps view (observed), or the
    lifecycle screen (not observed)."""
    screen = app.screen
    if getattr(screen, "env", None) != env or not screen.ready:
        return False
    return isinstance(screen, LifecycleScreen) or (isinstance(screen, EnvironmentScreen)
                                                    and screen.active_view == "steps")


async def type_into(pilot, key: str, text: str) -> None:
    box = pilot.app.screen.query_one(f"#input-{key}", Input)
    box.focus()
    box.value = ""
    await pilot.press(*text) if text else None
    await pilot.pause()


async def open_new_environment(pilot) -> NewEnvironmentScreen:
    app = pilot.app
    await app_ready(pilot)
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen) and app.screen.template,
                     "the new environment screen")
    await wait_until(pilot, lambda: len(app.screen.query(FormField)) == 4, "the form of preview")
    await settle(pilot)
    return app.screen


async def fill_and_plan(pilot, name: str = "pr-42") -> NewEnvironmentScreen:
    screen = await open_new_environment(pilot)
    await type_into(pilot, "name", name)
    await type_into(pilot, "p0", "feature-x")
    await pilot.press("ctrl+y")
    await wait_until(pilot, lambda: screen.plan is not None, "the plan",
                     explain=lambda: str(screen.query_one("#new-env-error", Static).render()))
    await settle(pilot)
    await dialog_shown(pilot, NewEnvironmentScreen, "the plan past its guard against keys typed ahead")
    return screen


async def test_new_environment_form_checks_as_typed_plans_then_creates(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_new_environment(pilot)
        # templates: the one alice may not create from is listed, disabled, with the reason
        options = screen.query_one(OptionList)
        locked = options.get_option("locked")
        assert locked.disabled and "not allowed: alice may not create" in str(locked.prompt), locked.prompt
        assert screen.template.name == "preview"
        # the form follows the ParameterSpec: replicas prefilled with its default, hints with the rules
        assert screen.query_one("#input-p1", Input).value == "1"
        assert "^[a-z0-9-]{1,30}$" in field_hint(app, "p0")
        # a value breaking the pattern: the error under the field, as it is typed
        await type_into(pilot, "p0", "Feature_X")
        assert "must match" in field_hint(app, "p0"), field_hint(app, "p0")
        assert screen.query_one("#field-p0", FormField).has_class("invalid")
        await type_into(pilot, "p1", "11")
        assert "at most 10" in field_hint(app, "p1")
        # planning with errors does nothing but show them (the name is missing too)
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert screen.plan is None and world.creates == {}
        assert "required" in field_hint(app, "name")
        # fixed: the errors go, the plan shows the waves, Cancel has the focus
        await type_into(pilot, "p0", "feature-x")
        await type_into(pilot, "p1", "2")
        await type_into(pilot, "name", "pr-42")
        assert not screen.query_one("#field-p0", FormField).has_class("invalid")
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: screen.plan is not None, "the plan")
        await settle(pilot)
        assert {s.id for s in screen.plan.steps} == {"assets", "web-sg", "web"}
        table = screen.query_one("#plan-table")
        waves = {key: table.cells_of(key)[0].plain for key in table.row_keys}
        assert waves["web"] > waves["web-sg"] and waves["web"] > waves["assets"], waves
        assert app.focused is screen.query_one("#cancel", Button)
        assert screen.query_one("#create", Button).region.bottom <= 24
        # Enter on the focused Cancel: back to the form, nothing created
        await dialog_shown(pilot, NewEnvironmentScreen, "the plan past its guard")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.plan is None and await app.session.env_list() == []
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: screen.plan is not None, "the plan again")
        await settle(pilot)
        await pilot.click("#create")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "back on the overview")
        await wait_until(pilot, lambda: "pr-42" in app.managed, "the created environment")
        stored = await app.session.env_get("pr-42")
        assert stored.parameters == {"branch": "feature-x", "replicas": 2}
        assert stored.expires_at == FIXED_NOW + timedelta(minutes=45)
        overview = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: "pr-42" in overview.row_keys, "the new row")
        cells = overview.cells_of("pr-42")
        assert cells[1].plain.split()[1] in ("plan", "prov"), cells[1].plain  # the row is full: the short words
        assert cells[1].plain.endswith("0/3"), cells[1].plain
        assert "⌛45m" in cells[0].plain, cells[0].plain  # expires within the hour
        assert overview.cursor_key == "pr-42"


async def test_create_appears_provisioning_and_steps_follow_live(tmp_path, stage, world):
    world.never["web"] = "instance pending"  # the last step never becomes healthy: provisioning stays
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        screen = await fill_and_plan(pilot)
        await pilot.click("#create")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "back on the overview")
        overview = app.screen.query_one(EnvironmentsTable)

        def health() -> str:
            cells = overview.cells_of("pr-42")
            return cells[1].plain if cells else ""

        await wait_until(pilot, lambda: health() == "◐ prov 2/3", "provisioning 2/3 (80 columns: prov)",
                         explain=health)
        await wait_until(pilot, lambda: world.creates["web"] == 1, "the instance created (in the world)")

        def description() -> str:
            return str(app.screen.query_one("#env-description", Static).render())

        # the line under the table: the step under way (and its last message, when the engine has one)
        await wait_until(pilot, lambda: "step web" in description(), "the step under way", explain=description)
        # Enter on an environment being created: its Steps view, live
        overview.move_to_key("pr-42")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready,
                         "the environment screen")
        await settle(pilot)
        assert app.screen.active_view == "steps"
        table = app.screen.query_one(StepsTable)
        await wait_until(pilot, lambda: len(table.row_keys) == 3, "three steps")
        states = {step: cells["state"] for step, cells in step_cells(table).items()}
        assert states == {"assets": "healthy", "web-sg": "healthy", "web": "waiting"}, states
        bar = app.screen.query_one(ProgressBar)
        assert (bar.progress, bar.total) == (2, 3)
        del screen


async def test_steps_view_updates_on_lifecycle_changed(tmp_path, stage, world):
    """The Steps view of an observed created environment redraws from LifecycleChanged alone."""
    world.slow["web"] = 10**6
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        managed = await app.session.env_create("pr-7", "preview", {"branch": "x"}, wait=False)
        await wait_until(pilot, lambda: "pr-7" in app.managed, "the created environment")
        app.open_env("pr-7")
        await wait_until(pilot, lambda: showing_steps(app, "pr-7"), "its steps")
        await settle(pilot)
        table = app.screen.query_one(StepsTable)
        assert all(cells["state"] == "pending" for cells in step_cells(table).values())
        # the engine reports each change; the screen follows without being asked
        managed.state = EnvLifecycleState.PROVISIONING
        managed.steps = [StepRecord("pr-7", "assets", "aws", "s3-bucket", state=StepState.HEALTHY,
                                    started_at=FIXED_NOW - timedelta(seconds=4), finished_at=FIXED_NOW),
                         StepRecord("pr-7", "web-sg", "aws", "security-group", state=StepState.CREATING,
                                    started_at=FIXED_NOW - timedelta(seconds=90), message="creating sg"),
                         StepRecord("pr-7", "web", "aws", "ec2-instance")]
        app.bridge(LifecycleChanged("pr-7", managed))
        await wait_until(pilot, lambda: step_cells(table)["web-sg"]["state"] == "creating", "the new step states",
                         explain=lambda: step_cells(table))
        cells = step_cells(table)
        assert cells["web-sg"] == {"resource": "web-sg", "state": "creating", "elapsed": "1m",
                                   "message": "creating sg"}, cells
        assert cells["assets"]["elapsed"] == "4s"
        assert str(app.screen.query_one("#steps-header", Static).render()).startswith("◐ provisioning 1/3")


async def test_destroy_wants_the_typed_name(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await app.session.env_create("pr-9", "preview", {"branch": "x"}, wait=False)
        await wait_until(pilot, lambda: "pr-9" in app.managed, "the created environment")
        app.open_env("pr-9")
        await wait_until(pilot, lambda: showing_steps(app, "pr-9"), "its steps")
        await settle(pilot)
        await pilot.press("D")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press(*"pr-8", "enter")
        await pilot.pause()
        error = str(app.screen.query_one("#dialog-error", Static).render())
        assert isinstance(app.screen, ConfirmScreen) and "'pr-8' is not pr-9" in error, error
        assert (await app.session.env_get("pr-9")).operation == "create"  # nothing requested
        box = app.screen.query_one("#type-to-confirm", Input)
        box.value = ""
        await pilot.press(*"pr-9", "enter")
        await wait_until(pilot, lambda: showing_steps(app, "pr-9"), "back on the steps")
        await app.workers.wait_for_complete()
        stored = await app.session.env_get("pr-9")
        assert stored.operation == "destroy", stored
        rows = [r for r in await app.session.store.audit_entries("pr-9", limit=20) if r["action"] == "env.destroy"]
        assert rows and rows[0]["user"] == "alice" and rows[0]["origin"] == "tui", rows


async def test_environment_screen_keys_of_a_config_environment(tmp_path, stage, world):
    """A config environment has no Steps tab and no D/Z/W in the footer; `8` says why."""
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        app.open_env("staging")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready, "staging")
        await settle(pilot)
        screen = app.screen
        assert screen.check_action("env_destroy", ()) is False
        await pilot.press("8")
        await pilot.pause()
        assert screen.active_view == "resources"


# -- snapshots (fixed clock, no reconciler: the steps come from one LifecycleChanged) ------------
STEPS_SNAPSHOT = [
    StepRecord("pr-42", "assets", "aws", "s3-bucket", state=StepState.HEALTHY, native_id="pr-42-assets",
               started_at=FIXED_NOW - timedelta(seconds=4), finished_at=FIXED_NOW - timedelta(seconds=2)),
    StepRecord("pr-42", "web-sg", "aws", "security-group", state=StepState.WAITING, native_id="sg-0a1b2c",
               started_at=FIXED_NOW - timedelta(seconds=90),
               message="waiting for a fresh observation: the group is not yet visible to describe"),
    StepRecord("pr-42", "web", "aws", "ec2-instance")]


async def provisioning_with_steps(pilot) -> EnvdeckApp:
    """pr-42 created from the preview template and provisioning with STEPS_SNAPSHOT, from one
    LifecycleChanged as the engine sends it; the app."""
    app = pilot.app
    await app_ready(pilot)
    managed = await app.session.env_create("pr-42", "preview", {"branch": "feature-x"}, wait=False)
    managed.state = EnvLifecycleState.PROVISIONING
    managed.steps = STEPS_SNAPSHOT
    app.bridge(LifecycleChanged("pr-42", managed))
    return app


def test_new_environment_form_snapshot(snap_compare, tmp_path, stage, world):
    """The form at 80×24 with an error under the branch field."""
    async def run(pilot):
        await open_new_environment(pilot)
        await type_into(pilot, "name", "pr-42")
        await type_into(pilot, "p0", "Feature_X")
        await settle(pilot)

    assert snap_compare(lifecycle_app(tmp_path, stage, world), terminal_size=SMALL, run_before=run)


def test_new_environment_plan_snapshot(snap_compare, tmp_path, stage, world):
    async def run(pilot):
        await fill_and_plan(pilot)

    assert snap_compare(lifecycle_app(tmp_path, stage, world), terminal_size=SMALL, run_before=run)


@pytest.mark.parametrize(("size", "theme"), [pytest.param(SMALL, "dark", id="80x24-dark"),
                                             pytest.param((160, 48), "light", id="160x48-light")])
def test_steps_view_snapshot(snap_compare, tmp_path, stage, world, size, theme):
    async def run(pilot):
        app = await provisioning_with_steps(pilot)
        await wait_until(pilot, lambda: "pr-42" in app.managed and app.managed["pr-42"].steps, "the steps")
        app.open_env("pr-42")
        await wait_until(pilot, lambda: showing_steps(app, "pr-42"), "its steps")
        table = app.screen.query_one(StepsTable)
        await wait_until(pilot, lambda: len(table.row_keys) == 3, "three steps")
        await settle(pilot)

    app = lifecycle_app(tmp_path, stage, world)
    app.config.ui.theme = theme
    assert snap_compare(app, terminal_size=size, run_before=run)


def test_overview_marks_at_80_columns_snapshot(snap_compare, tmp_path, stage, world):
    """A created environment provisioning and expiring within the hour: the row fits 80 columns."""
    async def run(pilot):
        app = await provisioning_with_steps(pilot)
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: "pr-42" in table.row_keys, "the row")
        await settle(pilot)

    assert snap_compare(lifecycle_app(tmp_path, stage, world), terminal_size=SMALL, run_before=run)


async def test_sleep_and_wake_of_a_ready_environment(tmp_path, stage, world):
    """Z: a confirmation with Cancel focused (Enter does nothing); confirmed, the sleep is requested
    and carried out; W wakes it."""
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await app.session.env_create("pr-3", "preview", {"branch": "x"}, wait=False)
        await wait_until(pilot, lambda: state_of(app, "pr-3") == "ready", "pr-3 ready",
                         explain=lambda: app.managed.get("pr-3"))
        app.open_env("pr-3")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.env == "pr-3"
                         and app.screen.ready, "pr-3's screen")
        await settle(pilot)
        await pilot.press("Z")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await settle(pilot)
        assert app.focused is app.screen.query_one("#cancel", Button)
        await pilot.press("enter")  # the focused Cancel
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "back")
        assert (await app.session.env_get("pr-3")).operation is None
        await pilot.press("Z")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation again")
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: state_of(app, "pr-3") == "sleeping",
                         "pr-3 sleeping", explain=lambda: app.managed.get("pr-3"))
        assert "‖ sleeping" in str(app.screen.query_one("#title", Static).render())
        await pilot.press("W")
        await dialog_shown(pilot, ConfirmScreen, "the wake confirmation")
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: state_of(app, "pr-3") == "ready", "pr-3 awake",
                         explain=lambda: app.managed.get("pr-3"))
        actions = [r["action"] for r in await app.session.store.audit_entries("pr-3", limit=50)
                   if r["user"] == "alice" and r["origin"] == "tui"]
        assert "env.sleep" in actions and "env.wake" in actions, actions


async def test_destroy_by_a_viewer_is_denied_and_audited(tmp_path, stage, world):
    """oscar is only a viewer of alice's environment: the typed name is right, the service says no."""
    session = await Session.open(stage_config(STAGE_CONFIG + TEMPLATES), tmp_path, user="alice",
                                 backends_factory=stage_factory(stage), provisioners=memory_provisioners(world))
    try:
        await session.env_create("pr-5", "preview", {"branch": "x"}, wait=False)
    finally:
        await session.close()
    app = lifecycle_app(tmp_path, stage, world, user="oscar")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await wait_until(pilot, lambda: "pr-5" in app.managed, "alice's environment")
        overview = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: overview.move_to_key("pr-5"), "its row")
        await pilot.press("D")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press(*"pr-5", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "back on the overview")
        await app.workers.wait_for_complete()
        rows = [r for r in await app.session.store.audit_entries("pr-5", limit=50) if r["action"] == "env.destroy"]
        assert [(r["user"], r["result"]) for r in rows] == [("oscar", "denied")], rows
        assert (await app.session.env_get("pr-5")).operation == "create"


async def test_failed_step_and_hostile_text(tmp_path, stage, world):
    """A step that fails: `✖ failed` in the overview, the step and the backend's reason (outside
    text: markup and escapes shown literally, never interpreted)."""
    world.terminal["assets"] = "[bold red]bucket[/] \x1b[31mname taken\x1b]0;pwned\x07"
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await failed_on_overview(pilot, app, "pr-6")
        app.open_env("pr-6")
        await wait_until(pilot, lambda: showing_steps(app, "pr-6"), "its steps")
        await settle(pilot)
        header = str(app.screen.query_one("#steps-header", Static).render())
        assert "step assets: [bold red]bucket[/]" in header, header
        assert "\x1b" not in header and "\x07" not in header, header
        table = app.screen.query_one(StepsTable)
        cells = step_cells(table)
        assert cells["assets"]["state"] == "failed"
        assert "[bold red]bucket[/]" in cells["assets"]["message"] and "\x1b" not in cells["assets"]["message"]


async def test_destroy_from_the_environment_screen_tears_it_down(tmp_path, stage, world):
    """D on a ready environment's screen, the name typed: the reconciler tears it down (nothing left
    in the world), the screen goes back to the overview and the row goes."""
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await app.session.env_create("pr-4", "preview", {"branch": "x"}, wait=False)
        await wait_until(pilot, lambda: state_of(app, "pr-4") == "ready", "pr-4 ready")
        assert len(world.live("pr-4")) == 3
        app.open_env("pr-4")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen) and app.screen.ready, "pr-4")
        await settle(pilot)
        await pilot.press("D")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press(*"pr-4", "enter")
        await wait_until(pilot, lambda: "pr-4" not in app.managed, "pr-4 destroyed",
                         explain=lambda: app.managed.get("pr-4"))
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "back on the overview")
        overview = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: "pr-4" not in overview.row_keys, "the row gone")
        assert world.live("pr-4") == []


async def test_palette_offers_new_environment_and_the_created_ones_verbs(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=(120, 36)) as pilot:
        await app_ready(pilot)
        await app.session.env_create("pr-8", "preview", {"branch": "x"}, wait=False)
        await wait_until(pilot, lambda: "pr-8" in app.managed, "the created environment")
        texts = [t for t, _ in await palette_hits(pilot, "pr-8")]
        assert "Destroy pr-8" in texts and "pr-8: steps" in texts, texts
        assert "staging: steps" not in [t for t, _ in await palette_hits(pilot, "staging")]
        await run_palette_command(pilot, "New environment")
        await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen), "the new environment screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview")
        await run_palette_command(pilot, "Destroy pr-8")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the destroy confirmation")
        assert app.screen.request.type_to_confirm == "pr-8"


async def test_a_created_environment_not_observed_shows_its_steps(tmp_path, stage, world):
    """One the reconciler does not observe (its section did not validate, say): a row of its own
    in the overview, and Enter shows its steps on the lifecycle screen."""
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        ghost = managed_env("pr-ghost", [StepSpec("assets", "aws", "s3-bucket", {"name": "pr-ghost-assets"})],
                            owner="alice", created_at=FIXED_NOW)
        ghost.state = EnvLifecycleState.FAILED
        ghost.step, ghost.reason = "assets", "AccessDenied: s3:CreateBucket"
        ghost.steps = [StepRecord("pr-ghost", "assets", "aws", "s3-bucket", state=StepState.FAILED,
                                  message="AccessDenied: s3:CreateBucket")]
        app.post_message(ManagedLoaded([ghost]))
        overview = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: "pr-ghost" in overview.row_keys, "its row")
        assert [c.plain for c in overview.cells_of("pr-ghost")][:3] == ["pr-ghost", "✖ failed", "—"]
        overview.move_to_key("pr-ghost")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LifecycleScreen) and app.screen.ready,
                         "the lifecycle screen")
        await settle(pilot)
        header = str(app.screen.query_one("#steps-header", Static).render())
        assert header.startswith("✖ failed  owner alice  template preview") and \
            "step assets: AccessDenied: s3:CreateBucket" in header, header
        assert step_cells(app.screen.query_one(StepsTable))["assets"]["state"] == "failed"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "back")


@pytest.mark.slow
async def test_demo_preview_created_from_the_tui_on_real_servers(tmp_path):
    """`envdeck demo`'s servers (moto, the Kubernetes emulator, simulated edge nodes) and the
    production provisioners: n, the branch, the plan, Create; the overview row goes from planned
    through provisioning to the environment's health, the Steps view ends all healthy at 100%."""
    demo = DemoServers()
    try:
        config = load_config(demo.config_path)
        config.environments.clear()  # the demo's staging and prod are not looked at here
        app = create_app(config, tmp_path / "state", options=AppOptions(testing=True))
        async with app.run_test(size=SMALL) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen) and app.screen.ready,
                             "the overview", 120)
            await settle(pilot)
            table = app.screen.query_one(EnvironmentsTable)
            seen: set[str] = set()
            show = table.show

            def shown(rows, **kw):  # every row the table is given, from before the create on: not only
                if "pr-1" in rows:  # what a poll happens to see (a 0.4 s create passes between two polls)
                    seen.add(rows["pr-1"][1].plain.split()[1])
                return show(rows, **kw)

            table.show = shown
            # its pods take 2 s to start (on the emulator): the create is seen provisioning however
            # busy the machine is, not only when a poll falls in its 0.4 s
            assert demo.command("pod-start-delay 2") == "delayed"
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, NewEnvironmentScreen) and app.screen.template,
                             "the new environment screen")
            await settle(pilot)
            screen = app.screen
            await type_into(pilot, "name", "pr-1")
            for i, spec in enumerate(screen.template.config.parameters.values()):
                if spec.default is None:
                    await type_into(pilot, f"p{i}", "feature-x")
            await pilot.press("ctrl+y")
            await wait_until(pilot, lambda: screen.plan is not None, "the plan",
                             explain=lambda: str(screen.query_one("#new-env-error", Static).render()))
            await pilot.click("#create")
            await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "back on the overview")
            def state() -> str:
                managed = app.managed.get("pr-1")
                cells = table.cells_of("pr-1")
                if cells:
                    seen.add(cells[1].plain.split()[1])
                return str(managed.state) if managed else ""

            await wait_until(pilot, lambda: state() in ("ready", "failed"), "pr-1 ready", 120,
                             explain=lambda: app.managed.get("pr-1"))
            assert state() == "ready", app.managed["pr-1"].reason
            assert seen & {"planned", "provisioning", "plan", "prov"}, seen  # short words where the row is full
            app.open_env("pr-1", view="steps")
            await wait_until(pilot, lambda: showing_steps(app, "pr-1"), "its steps", 60)
            await settle(pilot)
            cells = step_cells(app.screen.query_one(StepsTable))
            assert cells and {c["state"] for c in cells.values()} == {"healthy"}, cells
            bar = app.screen.query_one(ProgressBar)
            assert bar.progress == bar.total == len(cells)
    finally:
        demo.close()
