"""The reconciler runs the lifecycle (tui/core/lifecycle/driver.py, Reconciler.add_environment /
remove_environment): a create handed over without --wait is carried out by `reconcile` and by
a running reconciler; an expired TTL is destroyed (audited with origin ttl) and the environment
leaves what is observed; repairs are held while a created environment sleeps.

Real store; the in-memory provisioner counts what is created; the in-memory backend observes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.lifecycle.service_lab import Lab, audit, created
from tui.core.env_state import Change, EnvironmentsChanged, LifecycleChanged
from tui.core.errors import LifecycleFailed
from tui.core.lifecycle.records import EnvLifecycleState, Operation
from tui.core.model import Origin
from tui.core.session import Session


@pytest.fixture
async def lab(tmp_path):
    async with Lab(tmp_path) as made:
        yield made


GUARD_S = 30.0  # a guard against hanging, not a timing assertion


async def until(session: Session, done: Callable[[list[Change]], bool]) -> list[Change]:
    """The changes published until `done(changes)` holds."""
    changes: list[Change] = []
    event = asyncio.Event()

    def seen(change: Change) -> None:
        changes.append(change)
        if done(changes):
            event.set()

    unsubscribe = session.subscribe(seen)
    try:
        await asyncio.wait_for(event.wait(), GUARD_S)
    finally:
        unsubscribe()
    return changes


def lifecycle_state(changes: list[Change], env: str) -> EnvLifecycleState | None:
    states = [c.managed.state for c in changes if isinstance(c, LifecycleChanged) and c.env == env]
    return states[-1] if states else None


async def test_reconcile_once_completes_a_create_handed_over(lab: Lab):
    carl = await lab.session("carl")
    await carl.env_create("pr-1", "preview", {"branch": "x"})
    await carl.close()
    assert lab.mworld.creates == {}
    # the next `envdeck reconcile`: another session, one pass
    other = await lab.session("carl")
    assert "pr-1" in other.environments()      # planned: shown from the start
    await other.reconcile_once(repair=False)
    managed = await other.env_get("pr-1")
    assert managed.state == EnvLifecycleState.READY and managed.operation is None
    assert lab.mworld.creates == {"assets": 1, "web-sg": 1}
    assert other.state("pr-1").backends["aws"].reachable is True   # observed in that pass too
    steps = await audit(other, "pr-1", "lifecycle.create")
    assert steps and {(r["user"], r["origin"]) for r in steps} == {("carl", "cli")}


async def test_a_running_reconciler_drives_what_is_handed_over(lab: Lab):
    carl = await lab.session("carl", origin=Origin.TUI)
    await carl.start_reconciling()
    waiting = asyncio.ensure_future(until(carl, lambda ch: lifecycle_state(ch, "pr-1") == EnvLifecycleState.READY))
    await asyncio.sleep(0)
    managed = await carl.env_create("pr-1", "preview", {"branch": "x"})
    assert managed.state == EnvLifecycleState.PLANNED
    changes = await waiting
    assert any(isinstance(c, EnvironmentsChanged) and c.added == ["pr-1"] for c in changes)
    assert lab.mworld.creates == {"assets": 1, "web-sg": 1}
    assert "pr-1" in carl.environments()


async def test_a_running_reconciler_picks_up_a_create_of_another_process(lab: Lab):
    tui = await lab.session("vic", origin=Origin.TUI)
    await tui.start_reconciling()
    waiting = asyncio.ensure_future(until(tui, lambda ch: lifecycle_state(ch, "pr-1") == EnvLifecycleState.READY))
    await asyncio.sleep(0)
    cli = await lab.session("carl")
    await cli.env_create("pr-1", "preview", {"branch": "x"})
    changes = await waiting
    assert any(isinstance(c, EnvironmentsChanged) and "pr-1" in c.added for c in changes)
    assert "pr-1" in tui.environments() and tui.policy.role("pr-1").label == "viewer"


async def test_ttl_expiry_destroys_audited_with_origin_ttl_and_stops_observing(lab: Lab):
    await created(lab)
    carl = await lab.session("carl")
    assert "pr-1" in carl.environments()
    lab.clock.advance(3600 - 60)
    await carl.reconcile_once(repair=False)
    assert (await carl.env_get("pr-1")).state == EnvLifecycleState.READY   # not yet
    removed: list[Change] = []
    carl.subscribe(removed.append)
    lab.clock.advance(120)
    await carl.reconcile_once(repair=False)
    managed = await carl.lifecycle._lstore.get("pr-1")
    assert managed.state == EnvLifecycleState.DESTROYED
    assert lab.mworld.live("pr-1") == []
    rows = await audit(carl, "pr-1", "lifecycle.destroy")
    assert rows and {(r["origin"], r["result"]) for r in rows} == {("ttl", "succeeded")}
    assert "pr-1" not in carl.environments() and "pr-1" not in carl.states()
    assert any(isinstance(c, EnvironmentsChanged) and c.removed == ["pr-1"] for c in removed)
    assert "pr-1" not in carl.config.environments and carl.policy.role("pr-1") is None


async def test_repairs_held_while_asleep_and_resumed_after_wake(lab: Lab):
    await created(lab)
    carl = await lab.session("carl")
    await carl.env_sleep("pr-1", wait=True)
    lab.world.replicas["web"] = 1            # drift against the desired 3
    records = await carl.reconcile_once(repair=False)
    assert records["pr-1"] == [] and lab.world.repair_calls == 0
    assert carl.state("pr-1").all_drifts()   # observing goes on: the drift is shown
    await carl.env_wake("pr-1", wait=True)
    records = await carl.reconcile_once(repair=False)
    assert [r.result for r in records["pr-1"]] == ["succeeded"] and lab.world.repair_calls == 1


async def test_destroy_in_a_running_reconciler_stops_the_environments_loops(lab: Lab):
    await created(lab)
    carl = await lab.session("carl", origin=Origin.TUI)
    await carl.start_reconciling()
    assert any(t.get_name() == "reconcile:pr-1:aws" for t in carl.reconciler._tasks)
    waiting = asyncio.ensure_future(until(carl, lambda ch: any(
        isinstance(c, EnvironmentsChanged) and c.removed == ["pr-1"] for c in ch)))
    await asyncio.sleep(0)
    await carl.env_destroy("pr-1")
    await waiting
    assert not any(t.get_name() == "reconcile:pr-1:aws" for t in carl.reconciler._tasks)
    assert "pr-1" not in carl.environments() and lab.mworld.live("pr-1") == []


async def test_wait_follows_an_operation_another_process_drives(lab: Lab):
    await created(lab)
    carl = await lab.session("carl")
    lstore = carl.lifecycle._lstore
    other = "someone@another-host:4242"
    # taken past the 15 s lease the session that created it still holds (one lease: issue 16)
    assert await lstore.take_lease("pr-1", other, 3600, now=lab.clock() + timedelta(minutes=5)) is None
    sleeping = asyncio.ensure_future(carl.env_sleep("pr-1", wait=True))
    await until(carl, lambda ch: any(isinstance(c, LifecycleChanged) and c.managed.operation is not None
                                     for c in ch))
    assert not sleeping.done() and ("sleep", "aws") not in lab.mworld.calls
    await lstore.release_lease("pr-1", other)   # the other process is done with it (it did nothing)
    managed = await asyncio.wait_for(sleeping, GUARD_S)
    assert managed.state == EnvLifecycleState.SLEEPING and ("sleep", "aws") in lab.mworld.calls


async def test_wait_reports_the_failure_of_an_operation_another_process_drove(lab: Lab):
    await created(lab)
    carl = await lab.session("carl")
    lstore = carl.lifecycle._lstore
    other = "someone@another-host:4242"
    # taken past the 15 s lease the session that created it still holds (one lease: issue 16)
    assert await lstore.take_lease("pr-1", other, 3600, now=lab.clock() + timedelta(minutes=5)) is None
    destroying = asyncio.ensure_future(carl.env_destroy("pr-1", wait=True))
    await until(carl, lambda ch: any(isinstance(c, LifecycleChanged) and c.managed.operation is not None
                                     for c in ch))
    await lstore.set_state("pr-1", EnvLifecycleState.FAILED, step="web-sg", reason="DependencyViolation",
                           finished=Operation.DESTROY)
    with pytest.raises(LifecycleFailed, match="step web-sg failed: DependencyViolation"):
        await asyncio.wait_for(destroying, GUARD_S)
    rows = await audit(carl, "pr-1", "env.destroy")
    assert rows[0]["result"] == "failed" and "DependencyViolation" in rows[0]["message"]
    assert lab.mworld.live("pr-1")   # this process deleted nothing
