"""Pilot tests against the demo's real servers (moto, the Kubernetes emulator and
simulated SSH edge nodes, started by `tests/tui/demo_server.py` in a process of
their own), through the real AWS, Kubernetes and edge backends. (`envdeck demo --headless` end to
end: tests/tui/test_demo_restart.py, whose restarted demo runs headless.)"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screens.confirm import ConfirmScreen
from screens.environment import EnvironmentScreen
from tests.helpers import envdeck_env, repo_root
from tests.tui.pilot import dialog_shown, settle, wait_for_audit, wait_until
from tui.app import AppOptions, create_app
from tui.core.config import load_config
from tui.core.model import Drift, Health
from tui.widgets.logs_view import LogsView
from tui.widgets.record_views import DriftTable
from tui.widgets.resource_table import ResourceTable

SIZE = (160, 48)
pytestmark = pytest.mark.slow


class DemoServers:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.tui.demo_server"], cwd=str(repo_root()),
                                     env=envdeck_env(PYTHONPATH=str(repo_root())), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.config_path = Path(self.readline(240))

    def readline(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"the demo servers did not answer (exit {self.proc.poll()})")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    raise AssertionError("the demo servers exited")
                line += chunk
        return line.decode().strip()

    def command(self, text: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        return self.readline(60)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# first: the module's demo servers (below) are not running yet while this one builds its own
@pytest.fixture(scope="module")
def demo():
    servers = DemoServers()
    yield servers
    servers.close()


def demo_app(demo: DemoServers, tmp_path, envs=("staging",), **options):
    """The app on the demo's config, observing only `envs` (the demo's other environment is
    not looked at by the test: observing it would cost a second set of passes)."""
    config = load_config(demo.config_path)
    for name in [n for n in config.environments if n not in envs]:
        del config.environments[name]
    return create_app(config, tmp_path / "state", options=AppOptions(start_env="staging", testing=True, **options))


async def ready(pilot, envs=("staging",)):
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "the environment screen", 120)
    for env in envs:
        state = app.session.reconciler.envs[env]
        await wait_until(pilot, lambda state=state: all(b.reachable for b in state.backends.values()),
                         f"every backend of {env} to answer", 120,
                         explain=lambda state=state: {n: b.error for n, b in state.backends.items()})
    await settle(pilot)


async def select_row(pilot, resource_id: str) -> None:
    table = pilot.app.screen.query_one(ResourceTable)
    await wait_until(pilot, lambda: table.move_to_key(resource_id), resource_id, 60,
                     explain=lambda: table.row_keys[:50])


async def test_demo_shows_three_backends_faults_and_drift(demo, tmp_path):
    app = demo_app(demo, tmp_path, envs=("staging", "prod"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, envs=("staging", "prod"))
        staging = app.session.reconciler.envs["staging"]
        kinds = {(r.backend, r.kind) for r in staging.all_resources()}
        assert {("aws", "ec2-instance"), ("aws", "s3-bucket"), ("kubernetes", "Deployment"), ("kubernetes", "Pod"),
                ("edge", "node")} <= kinds
        reasons = {f.reason for f in staging.all_faults()}
        assert {"CrashLoopBackOff", "OOMKilled"} <= reasons
        assert any(d.resource == "kubernetes/Deployment/web" and d.field == "replicas" for d in staging.all_drifts())
        assert staging.compliance_score() is not None and staging.compliance_score() < 100
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.row_count == len(staging.all_resources()), "every resource row")
        # pods carry no metrics on the object: their cpu samples (metrics.k8s.io) feed the metric column
        running = [r.id for r in staging.all_resources() if r.kind == "Pod" and r.status == "Running"]
        assert running and not staging.resource(running[0]).metrics

        def metric_shown() -> bool:
            cells = table.cells_of(running[0])
            return cells is not None and cells[-1].plain not in ("", "—")
        await wait_until(pilot, metric_shown, "a pod's cpu in the metric column", 60,
                         explain=lambda: table.cells_of(running[0]))


async def test_demo_restart_a_deployment_with_confirmation(demo, tmp_path):
    app = demo_app(demo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_row(pilot, "kubernetes/Deployment/api")
        await pilot.press("r")
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        await pilot.press("left", "enter")  # Cancel has the focus: move to Confirm
        rows = await wait_for_audit(pilot, "restart", timeout=60)
        assert rows[0]["result"] == "succeeded", rows[0]
        assert rows[0]["target"] == "kubernetes/Deployment/api" and rows[0]["origin"] == "tui"


async def test_demo_r_enter_in_one_burst_restarts_nothing(demo, tmp_path):
    """On-call finding: `tmux send-keys r Enter` restarted the Deployment, its Enter confirming the
    dialog the `r` had just opened. Now the Enter is ignored: the emulator's pod template keeps its
    restart annotation and no restart is audited."""
    import asyncio

    from kubernetes import client
    from kubernetes import config as kube_config
    from textual import events

    kube = load_config(demo.config_path).environments["staging"].kubernetes
    apps = client.AppsV1Api(kube_config.new_client_from_config(config_file=kube.kubeconfig, context=kube.context))

    async def restarted_at() -> str | None:
        deployment = await asyncio.to_thread(apps.read_namespaced_deployment, "api", kube.namespace)
        return (deployment.spec.template.metadata.annotations or {}).get("kubectl.kubernetes.io/restartedAt")

    before = await restarted_at()
    app = demo_app(demo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_row(pilot, "kubernetes/Deployment/api")
        app.post_message(events.Key("r", "r"))  # one read of the terminal: both keys at once
        app.post_message(events.Key("enter", None))

        def said_ignored() -> bool:  # pushed is not composed: its line may not exist yet
            screen = app.screen
            return isinstance(screen, ConfirmScreen) and any(
                "enter ignored" in str(line.render()) for line in screen.query("#dialog-error"))

        await wait_until(pilot, said_ignored, "the Enter ignored by the restart dialog",
                         explain=lambda: (app.screen, [str(s.render()) for s in app.screen.query("#dialog-error")]))
        await pilot.pause(0.5)
        assert isinstance(app.screen, ConfirmScreen)
        rows = await app.session.store.audit_entries("staging", limit=100)  # this test's own store
        assert [r for r in rows if r["action"] == "restart"] == [], rows
        await pilot.press("escape")
    assert await restarted_at() == before


async def test_demo_drift_repaired_with_R(demo, tmp_path):
    app = demo_app(demo, tmp_path, start_view="drift")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        drift_table = app.screen.query_one(DriftTable)
        key = "kubernetes/Deployment/web\treplicas"
        await wait_until(pilot, lambda: drift_table.move_to_key(key), "the web replicas drift", 60,
                         explain=lambda: drift_table.row_keys)
        await pilot.press("R")
        await dialog_shown(pilot, ConfirmScreen, "the repair confirmation")
        await pilot.press("left", "enter")  # Cancel has the focus: move to Confirm
        state = app.session.reconciler.envs["staging"]
        await wait_until(pilot, lambda: state.resource("kubernetes/Deployment/web").drift == Drift.IN_SYNC,
                         "web to be InSync", 90)
        await wait_until(pilot, lambda: key not in drift_table.row_keys, "the drift row to go")
        rows = await wait_for_audit(pilot, "scale", timeout=60)
        assert rows[0]["result"] == "succeeded" and rows[0]["target"] == "kubernetes/Deployment/web"


async def test_demo_logs_keep_streaming(demo, tmp_path):
    app = demo_app(demo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select_row(pilot, "kubernetes/Deployment/web")
        await pilot.press("l")
        logs = app.screen.query_one(LogsView)
        await wait_until(pilot, lambda: logs.received > 0, "the first log lines", 60)
        first = logs.received
        await wait_until(pilot, lambda: logs.received > first + 3, "more lines while following", 60)
        assert not logs.ended


async def test_demo_dead_kubernetes_turns_unknown_while_the_rest_stays_live(demo, tmp_path):
    """Last of the module's demo tests: it stops the Kubernetes API emulator."""
    app = demo_app(demo, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        state = app.session.reconciler.envs["staging"]
        assert demo.command("stop-kubernetes") == "stopped"
        await wait_until(pilot, lambda: state.backends["kubernetes"].reachable is False,
                         "kubernetes to be unreachable", 120)
        await wait_until(pilot, lambda: state.resource("kubernetes/Deployment/api").health == Health.UNKNOWN,
                         "Unknown", 60)
        assert "kubernetes unreachable; last observed" in state.resource("kubernetes/Deployment/api").health_reason
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: "Unknown" in table.cells_of("kubernetes/Deployment/api")[5].plain,
                         "the table to show Unknown")
        # the other backends keep answering
        passes = state.backends["aws"].last_pass, state.backends["edge"].last_pass
        app.session.reconciler.wake("staging", "aws")
        app.session.reconciler.wake("staging", "edge")
        await wait_until(pilot, lambda: (state.backends["aws"].last_pass, state.backends["edge"].last_pass) != passes
                         and state.backends["aws"].reachable and state.backends["edge"].reachable,
                         "aws and edge to keep answering", 90)
        assert state.resource(next(r.id for r in state.all_resources() if r.backend == "aws")).health != Health.UNKNOWN
