"""How the reconciler evaluates a created environment by its lifecycle state
(tui/core/lifecycle/driver.py, tui/core/lifecycle/shading.py):

- failed: observed, never repaired (no attempt, no audit row), and a repair asked by hand
  says why;
- ready (after create or wake) and sleeping: each backend is asked for a pass at once, so the
  overview does not show the state of before for a whole interval (300 s here);
- sleeping: what the sleep memory names is Suspended "asleep", with no fault and no drift;
  wake evaluates it as usual again.

Real store; the in-memory provisioner world (tests/lifecycle/service_lab.py) creates, the
in-memory backend observes; the provisioner below also changes what that backend observes
(creating starts the web app, sleep stops it and names it in its memory), as the production
provisioners change what the production backends observe."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.lifecycle.memory_provisioner import MemoryProvisioner
from tests.lifecycle.service_lab import CONFIG, Lab, audit, created
from tests.memory_backend import memory_factory
from tui.cli.commands import _reconcile_once
from tui.core.config import parse_config
from tui.core.env_state import Change
from tui.core.errors import InvalidRequest, LifecycleFailed
from tui.core.lifecycle.records import EnvLifecycleState, StepSpec
from tui.core.lifecycle.shading import LifecycleView, shade
from tui.core.model import Drift, DriftItem, Fault, Health, Origin, Resource, Severity
from tui.core.session import Session

GUARD_S = 30.0   # a guard against hanging, far below the 300 s interval; not a timing assertion
WEB = "aws/app/web"


class AppProvisioner:
    """The in-memory provisioner, and what it does to the observed world: create starts the
    web app (once `gate` is open), sleep stops it (named in the sleep memory), wake restores it."""

    def __init__(self, inner: MemoryProvisioner, lab: AppLab):
        self.inner, self.lab = inner, lab

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create(self, step: StepSpec, token: str) -> str:
        await self.lab.gate.wait()
        self.lab.world.replicas["web"] = 3
        return await self.inner.create(step, token)

    async def sleep(self) -> dict[str, dict[str, Any]]:
        memory = await self.inner.sleep()
        memory[WEB] = {"replicas": self.lab.world.replicas["web"]}
        self.lab.world.replicas["web"] = 0
        return memory

    async def wake(self, memory: dict[str, dict[str, Any]]) -> None:
        before = memory.pop(WEB, None)
        await self.inner.wake(memory)
        if before is not None:
            self.lab.world.replicas["web"] = before["replicas"]


class AppLab(Lab):
    """The service lab with a 300 s observe interval and the provisioner above."""

    def __init__(self, tmp_path) -> None:
        super().__init__(tmp_path)
        self.gate = asyncio.Event()
        self.gate.set()

    def provisioners(self, backend, env, section, defaults, template):
        return AppProvisioner(self.mworld.factory(backend, env, section, template), self)

    async def session(self, user: str, *, read_only: bool = False, origin: str = Origin.CLI) -> Session:
        config = parse_config(CONFIG + "defaults: {interval: 300s}\n")
        session = await Session.open(config, self.state_dir, origin=origin, user=user, read_only=read_only,
                                     backends_factory=memory_factory(self.world), provisioners=self.provisioners)
        session.set_clock(self.clock)
        self.sessions.append(session)
        return session


@pytest.fixture
async def lab(tmp_path):
    async with AppLab(tmp_path) as made:
        yield made


async def until(session: Session, done: Callable[[], bool]) -> None:
    """Wait, following the published changes, until `done()` holds."""
    event = asyncio.Event()

    def seen(_change: Change) -> None:
        if done():
            event.set()

    unsubscribe = session.subscribe(seen)
    try:
        if not done():
            await asyncio.wait_for(event.wait(), GUARD_S)
    finally:
        unsubscribe()


def web(session: Session, env: str = "pr-1"):
    state = session.states().get(env)
    return None if state is None else state.resource(WEB)


async def test_a_failed_environment_is_observed_but_never_repaired(lab: AppLab, capsys):
    lab.mworld.terminal["web-sg"] = "InvalidGroup.Duplicate"
    with pytest.raises(LifecycleFailed):
        await created(lab)
    carl = await lab.session("carl")
    assert (await carl.env_get("pr-1")).state == EnvLifecycleState.FAILED
    lab.world.replicas["web"] = 1           # drift against the desired 3; preview repairs `auto`
    records = await carl.reconcile_once(repair=True)
    assert records["pr-1"] == [] and lab.world.repair_calls == 0
    assert carl.state("pr-1").all_drifts()   # observing goes on: the drift is shown
    # a running reconciler does not try either (its first pass is awaited through its news)
    tui = await lab.session("carl", origin=Origin.TUI)
    await tui.start_reconciling()
    await until(tui, lambda: "pr-1" in tui.states() and tui.state("pr-1").all_drifts() != [])
    assert lab.world.repair_calls == 0 and await audit(tui, "pr-1", "scale") == []
    # by hand: refused, saying why
    with pytest.raises(InvalidRequest, match=r"pr-1 is failed \(step web-sg: InvalidGroup.Duplicate\).*only "
                                             r"while it is ready.*envdeck env destroy pr-1"):
        await tui.repair("pr-1")
    assert "pr-1 is failed" in (tui.repairs_held("pr-1") or "")
    assert tui.repairs_held("staging") is None
    # `envdeck reconcile --once --repair` says it on stderr
    code = await _reconcile_once(argparse.Namespace(repair=True, json=False), carl)
    err = capsys.readouterr().err
    assert "envdeck: not repaired: pr-1 is failed (step web-sg: InvalidGroup.Duplicate)" in err
    assert "staging" not in err and code == 0
    assert lab.world.repair_calls == 0 and await audit(tui, "pr-1", "scale") == []


async def test_ready_asks_for_a_pass_at_once(lab: AppLab):
    lab.world.replicas["web"] = 0            # not started until the create does it
    lab.gate.clear()
    carl = await lab.session("carl", origin=Origin.TUI)
    await carl.start_reconciling()
    await carl.env_create("pr-1", "preview", {"branch": "x"})
    # the first pass sees the web app stopped, then the next one is 300 s away
    await until(carl, lambda: web(carl) is not None and web(carl).health == Health.SUSPENDED)
    lab.gate.set()
    await until(carl, lambda: web(carl) is not None and web(carl).health == Health.HEALTHY)
    assert (await carl.env_get("pr-1")).state == EnvLifecycleState.READY
    assert not [f for f in carl.state("pr-1").all_faults() if f.resource == WEB]


async def test_sleeping_resources_are_suspended_without_fault_and_healthy_after_wake(lab: AppLab):
    await created(lab)
    carl = await lab.session("carl", origin=Origin.TUI)
    await carl.start_reconciling()
    await until(carl, lambda: web(carl) is not None and web(carl).health == Health.HEALTHY)
    await carl.env_sleep("pr-1", wait=True)
    assert lab.world.replicas["web"] == 0
    await until(carl, lambda: "asleep" in web(carl).health_reason)
    state = carl.state("pr-1")
    assert web(carl).health == Health.SUSPENDED
    assert web(carl).health_reason.startswith("asleep (envdeck env sleep pr-1)")
    assert [f for f in state.all_faults() if f.resource == WEB] == []
    assert [d for d in state.all_drifts() if d.resource == WEB] == []
    assert state.health() == Health.SUSPENDED and state.drift() != "Drifted"
    assert lab.world.repair_calls == 0
    # the one-shot pass (`envdeck reconcile`) reads it the same way
    cli = await lab.session("carl")
    await cli.reconcile_once(repair=True)
    assert web(cli).health == Health.SUSPENDED and cli.state("pr-1").all_faults() == []
    assert lab.world.repair_calls == 0
    await carl.env_wake("pr-1", wait=True)
    assert lab.world.replicas["web"] == 3
    await until(carl, lambda: web(carl).health == Health.HEALTHY)
    assert "asleep" not in web(carl).health_reason and carl.state("pr-1").all_faults() == []
    # evaluated as usual again: a stopped app is a fault and a drift
    await cli.reconcile_once(repair=False)
    lab.world.replicas["web"] = 0
    await cli.reconcile_once(repair=False)
    assert [f.reason for f in cli.state("pr-1").all_faults() if f.resource == WEB] == ["Stopped"]
    assert [d.resource for d in cli.state("pr-1").all_drifts()] == [WEB]


def test_being_created_a_missing_resource_is_progressing_without_fault_or_drift():
    missing = Resource(id="aws/s3-bucket/pr-1-assets", backend="aws", kind="s3-bucket", name="pr-1-assets",
                       health=Health.MISSING, drift=Drift.DRIFTED, status="absent")
    there = Resource(id=WEB, backend="aws", kind="app", name="web", health=Health.DEGRADED)
    faults = [Fault(missing.id, Severity.HIGH, "Missing", "absent"), Fault(WEB, Severity.HIGH, "Stopped", "")]
    drifts = [DriftItem(missing.id, "exists", True, False), DriftItem(WEB, "replicas", 3, 0)]
    shaded = shade(LifecycleView("pr-1", EnvLifecycleState.PROVISIONING), [missing, there], faults, drifts, {})
    got = {r.id: r for r in shaded.resources}
    assert got[missing.id].health == Health.PROGRESSING and got[missing.id].drift == Drift.IN_SYNC
    assert got[missing.id].health_reason == "being created (envdeck env create pr-1)"
    assert missing.health == Health.MISSING            # the backend's own object is left alone
    assert got[WEB] is there and [f.resource for f in shaded.faults] == [WEB]
    assert [d.resource for d in shaded.drifts] == [WEB]
    # ready (or failed): shown as observed
    for state in (EnvLifecycleState.READY, EnvLifecycleState.FAILED):
        same = shade(LifecycleView("pr-1", state), [missing, there], faults, drifts, {})
        assert same.resources == [missing, there] and same.faults == faults and same.drifts == drifts


async def test_an_environment_found_asleep_at_start_is_suspended_at_once(lab: AppLab):
    await created(lab)
    cli = await lab.session("carl")
    await cli.env_sleep("pr-1", wait=True)
    tui = await lab.session("carl", origin=Origin.TUI)
    await tui.start_reconciling()
    await until(tui, lambda: web(tui) is not None and "asleep" in web(tui).health_reason)
    assert web(tui).health == Health.SUSPENDED and tui.state("pr-1").all_faults() == []
    assert lab.world.repair_calls == 0
