"""A TUI opened before a created environment's name is re-created by someone else: root's pz
(a template whose only role is the creator's admin) is destroyed, alice creates pz again, and
root's TUI hears of it (the record another process wrote, read as the follower reads it). Root
has no role in alice's pz: its row is not on root's overview, its Steps screen closes, and no
screen of it is kept. A re-creation root may see (a viewer by the template) stays listed."""

from __future__ import annotations

from pathlib import Path

from screens.lifecycle_steps import LifecycleScreen
from screens.overview import EnvironmentsTable, OverviewScreen
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.stage import FIXED_NOW, STAGE_CONFIG, Stage, stage_config, stage_factory
from tests.tui.test_lifecycle_tui import memory_provisioners
from tui.app import AppOptions, EnvdeckApp, create_app
from tui.core.session import Session

TEMPLATES = """
templates:
  private:
    parameters:
      branch: {type: string, pattern: "^[a-z0-9-]{1,30}$"}
    creators: ["*"]
    ttl: 45m
    access: {admin: ["{creator}"]}
    aws:
      region: us-east-1
      resources:
        - {id: assets, kind: s3-bucket, name: "{env}-assets"}
  shared:
    parameters:
      branch: {type: string, pattern: "^[a-z0-9-]{1,30}$"}
    creators: ["*"]
    ttl: 45m
    access: {admin: ["{creator}"], viewer: ["*"]}
    aws:
      region: us-east-1
      resources:
        - {id: assets, kind: s3-bucket, name: "{env}-assets"}
"""


def root_app(state_dir: Path, stage: Stage, world: MemoryWorld) -> EnvdeckApp:
    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=stage_factory(stage), start_reconciler=False,
                         user="root", testing=True, provisioners=memory_provisioners(world))
    return create_app(stage_config(STAGE_CONFIG + TEMPLATES), state_dir, options=options)


async def alice_creates(state_dir: Path, stage: Stage, world: MemoryWorld, name: str, template: str) -> None:
    alice = await Session.open(stage_config(STAGE_CONFIG + TEMPLATES), state_dir, user="alice",
                               backends_factory=stage_factory(stage), provisioners=memory_provisioners(world))
    try:
        await alice.env_create(name, template, {"branch": "alice-branch"}, wait=True)
    finally:
        await alice.close()


def rows(app: EnvdeckApp) -> list[str]:
    return [str(k) for k in app.screen.query_one(EnvironmentsTable).row_keys] if isinstance(
        app.screen, OverviewScreen) else []


async def test_a_name_re_created_by_someone_else_leaves_roots_tui(tmp_path, stage):
    world = MemoryWorld()
    app = root_app(tmp_path, stage, world)
    async with app.run_test(size=(120, 30)) as pilot:
        await app_ready(pilot)
        for name, template in (("pz", "private"), ("sz", "shared")):
            await app.session.env_create(name, template, {"branch": "root-branch"}, wait=True)
            await app.session.reconciler.lifecycle.changed(name)
        await wait_until(pilot, lambda: {"pz", "sz"} <= set(app.managed), "root's pz and sz",
                         explain=lambda: list(app.managed))
        for name in ("pz", "sz"):
            await app.session.env_destroy(name, wait=True)
        app.push_screen(LifecycleScreen("pz"))  # root reads the Steps of the pz that was theirs
        await wait_until(pilot, lambda: isinstance(app.screen, LifecycleScreen), "pz's Steps")
        # alice takes both names
        for name, template in (("pz", "private"), ("sz", "shared")):
            await alice_creates(tmp_path, stage, world, name, template)
            await app.session.reconciler.lifecycle.changed(name)  # as the follower reads another's change
        # sz: root is a viewer of alice's (the template's access): listed, alice's
        await wait_until(pilot, lambda: getattr(app.managed.get("sz"), "owner", None) == "alice",
                         "alice's sz on root's TUI", explain=lambda: {k: v.owner for k, v in app.managed.items()})
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), "pz's Steps closed",
                         explain=lambda: app.screen)
        await settle(pilot)
        assert "pz" not in app.managed, app.managed.get("pz")
        assert "sz" in rows(app) and "pz" not in rows(app), rows(app)
        assert not any(getattr(s, "env", None) == "pz" for s in app.screen_stack)
