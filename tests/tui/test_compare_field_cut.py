"""`:diff prod` at 80 columns: a FIELD too long for its column is cut in its middle, so two fields
of one container that differ at their end (`…cpu`, `…memory`) stay apart on screen (cut at their
end, both read `limits[web…`)."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.compare.test_compare_tui import SIZE, open_compare
from tests.tui.stage import FIXED_NOW, OBSERVED, StageBackend, stage_config, stage_factory
from tui.app import AppOptions, create_app
from tui.core.model import Health, Resource

LIMITS = {"staging": {"cpu": "500m", "memory": "512Mi"}, "prod": {"cpu": "1", "memory": "1Gi"}}
FIELDS = ("limits[web-frontend-main].cpu", "limits[web-frontend-main].memory")


class LimitsKubernetes(StageBackend):
    name = "kubernetes"

    def build(self) -> list[Resource]:
        return [Resource(id="kubernetes/Deployment/web", backend="kubernetes", kind="Deployment", name="web",
                         health=Health.HEALTHY, status="1/1 ready", observed_at=OBSERVED,
                         attributes={"container_resources": {"web-frontend-main": {"limits": LIMITS[self.env]}}})]


async def test_long_fields_are_cut_in_their_middle(tmp_path, stage):
    base = stage_factory(stage)

    def factory(env_name, env_cfg, cfg):
        return {**base(env_name, env_cfg, cfg), "kubernetes": LimitsKubernetes(env_name, stage)}

    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=factory, start_reconciler=False, user="alice",
                         testing=True, start_env="staging")
    app = create_app(stage_config(), tmp_path, options=options)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        assert set(FIELDS) <= {r.field for r in screen.rows}, screen.rows
        width = screen._widths.field
        assert width < len(FIELDS[0]), width  # cut at 80 columns
        table = screen.query_one(DataTable)
        shown = [table.get_row_at(i)[1].plain for i, r in enumerate(screen.shown_rows) if r.field in FIELDS]
        assert len(shown) == 2 and len(set(shown)) == 2, shown
        assert all("…" in s and len(s) <= width and s.startswith("lim") for s in shown), shown
        assert shown[0].endswith(".cpu") and shown[1].endswith(".memory"), shown
    assert app._exception is None
