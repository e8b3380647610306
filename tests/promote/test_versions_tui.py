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
        assert rows["kubernetes/Deployment/worker"].differs, "a component one environment lacks differs (JSON)"
        assert rows["kubernetes/Deployment/worker"].absent == ("prod",)
        assert not rows["kubernetes/Deployment/worker"].versions_differ, "absent is not a differing version"
        table = screen.query_one("#versions-table")
        first = [table.get_cell_at((i, 0)) for i in range(table.row_count)]
        assert [c.plain for c in first] == ["≠", " ", "—"], "absent marked apart from ≠"
        hint = str(screen.query_one("#versions-hint").render())
        assert "3 component(s), 1 differ (≠); absent (—): 1 in prod" in hint, hint
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


def test_columns_fit_the_width_and_versions_keep_their_end():
    """Issue 18: at 80 columns the prod column lost its tag (`ghcr.io/acme/api:2.4`), at 120 the
    table stayed 80 wide. Versions keep their end; the table fits the width and uses it."""
    from screens.versions import matrix_widths, version_cell
    from tui.core.compare.versions import ComponentRow, Version, VersionMatrix
    from tui.widgets.cells import Palette

    images = {"staging": "ghcr.io/acme/api:2.4.0", "dev": "ghcr.io/acme/api:2.4.0", "prod": "ghcr.io/acme/api:2.4.1"}
    row = ComponentRow("kubernetes/Deployment/api", {e: Version(e, i) for e, i in images.items()}, tuple(images))
    worker = ComponentRow("kubernetes/Deployment/worker-with-a-long-name",
                          {e: Version(e, "ghcr.io/acme/worker:latest-2026-12-01") for e in images}, tuple(images))
    matrix = VersionMatrix(list(images), [row, worker])
    for width in (80, 120):
        widths = matrix_widths(matrix, width)
        table = 1 + widths.component + sum(widths.cells) + 2 * (len(images) + 2)
        assert width - 4 <= table <= width - 2, (width, widths)   # the scrollbar's 2 columns kept free
    narrow, wide = matrix_widths(matrix, 80), matrix_widths(matrix, 120)
    assert wide.component > narrow.component and all(w > n for w, n in zip(wide.cells, narrow.cells, strict=True)), \
        "the width goes to what was cut"
    for widths in (narrow, wide):
        cell = version_cell(row, "prod", "staging", Palette({}), widths.cells[2]).plain
        assert cell.endswith("api:2.4.1") and len(cell) <= widths.cells[2], cell
        long = version_cell(worker, "prod", "staging", Palette({}), widths.cells[2]).plain
        assert long.endswith("latest-2026-12-01") and len(long) <= widths.cells[2], long
