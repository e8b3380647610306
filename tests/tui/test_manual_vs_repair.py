"""Pilot tests against the Kubernetes emulator (a real API server for the backend), the
reconciler running in `auto` mode:

- S (scale) against the desired state asks first: keep as desired (an overlay, shown in the
  Drift view), hold the repair (drift still shown, marked held) or cancel; the server sees
  one change and no repair back;
- repairs make one one-line toast per burst, without a title;
- pausing stops repairs but not observing (drift still shows while paused).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from textual.notifications import Notify
from textual.widgets import DataTable

from backends.sim.k8s_emulator import Emulator
from screens.confirm import ConfirmScreen
from screens.desired_conflict import DesiredConflictScreen
from screens.environment import EnvironmentScreen
from screens.resource_detail import ResourceDetailScreen
from tests.desired_web import WEB, desired_web_yaml, patches, replicas
from tests.tui.pilot import app_ready, dialog_shown, wait_for_audit, wait_until
from tui.app import AppOptions, create_app
from tui.core.config import parse_config
from tui.core.model import now_utc
from tui.widgets.record_views import DriftTable
from tui.widgets.resource_table import ResourceTable

NS = "prod"
SIZE = (120, 36)


@pytest.fixture
async def cluster(tmp_path):
    emu = Emulator()
    await emu.start(host="127.0.0.1", port=0)
    emu.add_namespace(NS)
    kubeconfig = tmp_path / "kubeconfig"
    emu.write_kubeconfig(str(kubeconfig), namespace=NS, context="emulator")
    try:
        yield emu, kubeconfig
    finally:
        await emu.stop()


def make(tmp_path, kubeconfig, *, view=None, api=False):
    api_line = "        - {kind: Deployment, name: api, replicas: 3}\n" if api else ""
    config = parse_config(desired_web_yaml(
        kubeconfig, NS, defaults="defaults: {interval: 1s, timeout: 5s, max_backoff: 2s}", more_desired=api_line))
    options = AppOptions(start_reconciler=True, start_env="prod", start_view=view, user="alice", testing=True)
    return create_app(config, tmp_path / "state", options=options)


async def scale_web_to_5(pilot) -> None:
    app = pilot.app
    table = app.screen.query_one(ResourceTable)
    await wait_until(pilot, lambda: table.move_to_key(WEB), "the web row")
    await pilot.press("S")
    await dialog_shown(pilot, ConfirmScreen, "the confirmation")
    await pilot.press("ctrl+u", "5", "enter")
    await dialog_shown(pilot, DesiredConflictScreen, "the conflict question")


@contextlib.asynccontextmanager
async def web_app(tmp_path, cluster, view=None):
    """web at 3 replicas on the server; the app (auto repair) ready on it: (pilot, emulator)."""
    emu, kubeconfig = cluster
    emu.create_deployment(NS, "web", replicas=3)
    app = make(tmp_path, kubeconfig, view=view)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        yield pilot, emu


async def passes(pilot, n=3) -> None:
    """Let the reconciler run n more passes, each asked for as an action or a pause asks
    (wake): the watching backend's latest observation is diffed against the desired state as
    it is now and repaired, under the pass lock. Without a wake a quiet cluster's next
    observation comes with the metrics, 5 s apart. (A wake is not served while a change of
    this process awaits its watch event: the event's observation is then the pass.)"""
    reconciler = pilot.app.session.reconciler
    state = reconciler.envs["prod"].backends["kubernetes"]
    for _ in range(n):
        seen = state.last_pass
        reconciler.wake("prod", "kubernetes")
        await wait_until(pilot, lambda seen=seen: state.last_pass is not None and state.last_pass != seen, "a pass")


async def test_scale_against_desired_keeps_it_as_an_overlay(tmp_path, cluster):
    async with web_app(tmp_path, cluster) as (pilot, emu):
        app = pilot.app
        await scale_web_to_5(pilot)
        assert patches(emu, NS) == 0  # asked before anything ran
        await pilot.press("d")
        await wait_until(pilot, lambda: replicas(emu, NS) == 5, "the scale on the server")
        rows = await wait_for_audit(pilot, "set-desired", env="prod")
        assert rows[0]["result"] == "succeeded" and rows[0]["target"] == WEB
        state = app.session.reconciler.envs["prod"]
        await wait_until(pilot, lambda: (state.resource(WEB).attributes.get("replicas") == 5), "5 observed")
        await passes(pilot)
        assert replicas(emu, NS) == 5 and patches(emu, NS) == 1  # no repair back to 3
        assert state.all_drifts() == []
        [overlay] = state.to_json()["desired_overlays"]
        assert (overlay["resource"], overlay["value"], overlay["user"]) == (WEB, 5, "alice")
        # the detail's drift tab says where the desired value comes from
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key(WEB), "the web row")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the detail")
        await pilot.press("d")

        def drift_text() -> str:
            return str(app.screen.query_one("#drift-text").render())

        await wait_until(pilot, lambda: "replicas desired 5 is an overlay by alice" in drift_text(), "the overlay",
                         explain=drift_text)


async def test_scale_against_desired_with_the_repair_held(tmp_path, cluster):
    async with web_app(tmp_path, cluster) as (pilot, emu):
        app = pilot.app
        await scale_web_to_5(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: replicas(emu, NS) == 5, "the scale on the server")
        state = app.session.reconciler.envs["prod"]
        await wait_until(pilot, lambda: [d.actual for d in state.all_drifts()] == [5], "the drift, observed")
        await passes(pilot)
        assert replicas(emu, NS) == 5 and patches(emu, NS) == 1
        rows = await wait_for_audit(pilot, "hold-repair", env="prod")
        assert rows[0]["result"] == "succeeded"


async def test_cancel_at_the_conflict_does_nothing(tmp_path, cluster):
    async with web_app(tmp_path, cluster) as (pilot, emu):
        app = pilot.app
        await scale_web_to_5(pilot)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "the environment again")
        await passes(pilot, 1)
        assert replicas(emu, NS) == 3 and patches(emu, NS) == 0
        audit = await app.session.store.audit_entries("prod")
        assert [a["action"] for a in audit if a["action"] != "access"] == []


async def test_drift_view_marks_overlays_and_held_repairs(tmp_path, cluster):
    emu, kubeconfig = cluster
    emu.create_deployment(NS, "web", replicas=3)
    emu.create_deployment(NS, "api", replicas=3)
    app = make(tmp_path, kubeconfig, view="drift", api=True)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        store = app.session.store
        await store.set_overlay("prod", WEB, "replicas", 4, user="bob", reason="load test")
        drift = app.screen.query_one(DriftTable)
        await wait_until(pilot, lambda: replicas(emu, NS) == 4, "the overlay's value enforced")

        def cells() -> list[str]:
            return [" ".join(str(c) for c in drift.get_row_at(i)) for i in range(drift.row_count)]

        await wait_until(pilot, lambda: any("(overlay)" in row and "in sync" in row for row in cells()),
                         "the overlay row", explain=cells)
        await store.set_hold("prod", "kubernetes/Deployment/api", now_utc() + timedelta(minutes=10), user="bob")
        emu.patch("deployments", NS, "api", {"spec": {"replicas": 6}})  # someone else scales api
        await wait_until(pilot, lambda: any("api" in row and "repair held" in row for row in cells()),
                         "the held drift row", explain=cells)
        assert replicas(emu, NS, "api") == 6
        assert isinstance(drift, DataTable)


async def test_repairs_make_one_one_line_toast(tmp_path, cluster):
    emu, kubeconfig = cluster
    emu.create_deployment(NS, "web", replicas=1)
    emu.create_deployment(NS, "api", replicas=1)
    app = make(tmp_path, kubeconfig, api=True)
    messages = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await app_ready(pilot)
        await wait_until(pilot, lambda: replicas(emu, NS) == 3 and replicas(emu, NS, "api") == 3, "both repaired")

        def repair_toasts():
            return [m.notification for m in messages if isinstance(m, Notify)
                    and "repair" in (m.notification.message + m.notification.title).lower()]

        await wait_until(pilot, repair_toasts, "the repair toast")
        await passes(pilot, 2)
        [toast] = repair_toasts()
        assert toast.title == "" and "\n" not in toast.message and len(toast.message) <= 72
        assert toast.message.startswith("prod: 2 repairs")
        # the Timeline keeps each
        entries = await app.session.store.timeline("prod")
        assert sorted(e["resource"] for e in entries if e["kind"] == "repair") == [
            "kubernetes/Deployment/api", WEB]


async def test_pause_keeps_observing(tmp_path, cluster):
    async with web_app(tmp_path, cluster, view="drift") as (pilot, emu):
        app = pilot.app
        state = app.session.reconciler.envs["prod"]
        await pilot.press("p")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press("left", "enter")
        await wait_until(pilot, lambda: state.paused, "paused")
        emu.patch("deployments", NS, "web", {"spec": {"replicas": 7}})
        drift = app.screen.query_one(DriftTable)
        await wait_until(pilot, lambda: drift.row_count == 1, "the drift observed while paused")
        await passes(pilot)
        assert replicas(emu, NS) == 7
