"""The overview while the Kubernetes API server behind the watches is frozen (the emulator's
freeze(): connections open, nothing answered, the cluster still changing): the backend's
liveness probe finds no answer, the reconciler's state for it reads as a polled backend's
overdue pass, and the BACKENDS cell says `k8s?12s` instead of the last `k8s✓`; thawed, it
reads `k8s✓` again and what changed meanwhile is in the session's state. The environment
screen's status bar, from the same state, reads `k8s ? unanswered 12s` meanwhile. The real
reconciler, the real Kubernetes backend and the emulator in-process; no clock is frozen."""

from __future__ import annotations

import pytest

from backends.kubernetes import KubernetesBackend
from backends.sim.k8s_emulator import Emulator
from screens.overview import EnvironmentsTable, OverviewScreen
from tests.tui.pilot import app_ready, wait_until
from tui.app import AppOptions, create_app
from tui.core.config import parse_config
from tui.core.model import now_utc
from tui.widgets.cells import Palette
from tui.widgets.status_bar import backend_summary

NS = "staging"
CONFIG = """environments:
  staging:
    kubernetes: {{kubeconfig: "{kubeconfig}", context: emulator, namespace: staging}}
  prod:
    kubernetes: {{kubeconfig: "{kubeconfig}", context: emulator, namespace: prod}}
"""
WAIT_S = 90.0  # generous: the mark shows once the answer is 10 s overdue, on a shared machine


@pytest.fixture
async def emulator():
    emu = Emulator(seed=7)
    await emu.start(host="127.0.0.1", port=0)
    emu.add_namespace(NS)
    emu.add_namespace("prod")  # two environments: the app opens on the overview
    emu.create_deployment(NS, "web", replicas=1)
    try:
        yield emu
    finally:
        emu.thaw()
        await emu.stop()


async def test_a_frozen_api_server_shows_overdue_in_the_overview_then_fresh(emulator, tmp_path, monkeypatch):
    monkeypatch.setattr(KubernetesBackend, "liveness_interval_s", 0.5)
    # the unreachable bound (max(3 x timeout, this)) far away: this test looks at the overdue mark
    monkeypatch.setattr(KubernetesBackend, "silence_floor_s", 600.0)
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS, context="emulator")
    app = create_app(parse_config(CONFIG.format(kubeconfig=kubeconfig)), tmp_path / "state",
                     options=AppOptions(testing=True, user="alice"))
    async with app.run_test(size=(120, 30)) as pilot:
        await app_ready(pilot)
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        table = overview.query_one(EnvironmentsTable)

        def cell() -> str:
            return " ".join(c.plain for c in table.cells_of("staging") or () if "k8s" in c.plain)

        def state():
            return app.session.state("staging").backends["kubernetes"]

        def resources() -> set[str]:
            return set(app.session.state("staging").resources["kubernetes"])

        await wait_until(pilot, lambda: "k8s✓" in cell() and "kubernetes/Deployment/web" in resources(),
                         "k8s✓ and the deployment", timeout=WAIT_S, explain=cell)
        assert state().watching and state().reachable

        emulator.freeze()
        await wait_until(pilot, lambda: "k8s?" in cell(), "the overdue mark", timeout=WAIT_S, explain=cell)
        assert "k8s✓" not in cell()
        assert state().reachable is True and not state().watching and state().next_pass is not None
        # the environment screen's status bar reads the same state
        summary = backend_summary(state(), now_utc(), Palette({}), verbose=True).plain
        assert summary.startswith("k8s ? unanswered"), summary
        emulator.create_configmap(NS, "made-while-frozen", {"k": "v"})

        emulator.thaw()
        await wait_until(pilot, lambda: "k8s✓" in cell(), "k8s✓ again", timeout=WAIT_S, explain=cell)
        assert state().watching and state().reachable
        assert backend_summary(state(), now_utc(), Palette({}), verbose=True).plain == "k8s ✓ watch"
        await wait_until(pilot, lambda: "kubernetes/ConfigMap/made-while-frozen" in resources(),
                         "the change made while frozen", timeout=WAIT_S, explain=lambda: sorted(resources()))
    assert app._exception is None
