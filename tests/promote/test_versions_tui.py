"""The versions view (`:versions`) at 80×24 on the in-memory stage, whose Kubernetes part here
reports different images per environment (and a hostile image name): the matrix, the `≠`
rows, the whole versions of the selected row under the table, Esc back; and a snapshot."""

from __future__ import annotations

from rich.text import Text

from screens.versions import VersionsScreen
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.stage import FIXED_NOW, OBSERVED, Stage, StageBackend, stage_config, stage_factory
from tui.app import AppOptions, create_app
from tui.core.model import Health, Resource

SIZE = (80, 24)
IMAGES = {
    "staging": {"api": "registry.example/api:2.1.0", "web": "registry.example/web:1.4.2",
                "worker": "registry.example/worker:9.9.9-rc1\x1b[31m"},
    "prod": {"api": "registry.example/api:2.0.3", "web": "registry.example/web:1.4.2"},
}


class VersionedKubernetes(StageBackend):
    name = "kubernetes"

    def build(self) -> list[Resource]:
        return [Resource(id=f"kubernetes/Deployment/{app}", backend="kubernetes", kind="Deployment", name=app,
                         health=Health.HEALTHY, status="1/1 ready", observed_at=OBSERVED,
                         attributes={"images": {app: image}})
                for app, image in IMAGES.get(self.env, {}).items()]


def make_app(tmp_path, stage: Stage, theme: str = "dark"):
    config = stage_config()
    config.ui.theme = theme
    base = stage_factory(stage)

    def factory(env_name, env_cfg, cfg):
        out = base(env_name, env_cfg, cfg)
        out["kubernetes"] = VersionedKubernetes(env_name, stage)
        return out

    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=factory, start_reconciler=False, user="alice",
                         testing=True)
    return create_app(config, tmp_path, options=options)


async def open_versions(pilot) -> VersionsScreen:
    await app_ready(pilot)
    app = pilot.app
    await wait_until(pilot, lambda: all(s.backends["kubernetes"].reachable for s in app.session.states().values()),
                     "both environments observed")
    await pilot.press(":")
    await pilot.press(*"versions", "enter")
    await wait_until(pilot, lambda: isinstance(app.screen, VersionsScreen) and app.screen.matrix is not None
                     and app.screen.matrix.rows, "the versions matrix")
    await settle(pilot)
    return app.screen


async def test_versions_view_shows_the_matrix_and_marks_differences(tmp_path):
    app = make_app(tmp_path, Stage())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_versions(pilot)
        matrix = screen.matrix
        assert matrix.envs == ["staging", "prod"]
        rows = {r.role: r for r in matrix.rows}
        assert rows["kubernetes/Deployment/api"].differs and not rows["kubernetes/Deployment/web"].differs
        assert rows["kubernetes/Deployment/worker"].differs, "a component one environment lacks differs"
        table = screen.query_one("#versions-table")
        first = [table.get_cell_at((i, 0)) for i in range(table.row_count)]
        assert [c.plain for c in first] == ["≠", " ", "≠"]
        worker = table.get_cell_at((2, 3))
        assert isinstance(worker, Text) and worker.plain == "—"
        hostile = table.get_cell_at((2, 2)).plain
        assert "\x1b" not in hostile, "an image name is outside text: cleaned"
        detail = screen.query_one("#versions-detail").render()
        assert "registry.example/api:2.1.0" in str(detail) and "registry.example/api:2.0.3" in str(detail)
        await pilot.press("j")
        await settle(pilot)
        assert "kubernetes/Deployment/web" in str(screen.query_one("#versions-detail").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, VersionsScreen), "back")


def test_versions_view_snapshot(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path, Stage()), terminal_size=SIZE, run_before=open_versions)
