"""What the lifecycle engine saves in store round trips keeps its guarantees (issue 15, the
engine's fixed cost): a change reported after a step row without reading the store again is
exactly what the store holds then; a step row and its timeline entry are one fenced unit (a
write refused after a takeover leaves neither); the sweeps of the backends run at once, each
with its audit row. Against the in-memory provisioner of tests/lifecycle/memory_provisioner.py
(which counts what was really created), as tests/lifecycle/test_engine.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.lifecycle.memory_provisioner import FakeClock, MemoryProvisioner, MemoryWorld, managed_env
from tui.core.errors import BackendUnreachable, LifecycleFailed
from tui.core.lifecycle.engine import LeaseBusy, LifecycleEngine
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment, Operation, StepSpec, StepState
from tui.core.store import Store

ENV = "pr-9"


def chain() -> list[StepSpec]:
    """One step per wave (bucket -> sg -> ns): no two of the engine's writes interleave, so the
    store read right after a report holds exactly what was reported."""
    return [StepSpec("bucket", "aws", "s3-bucket", {"name": "pr-9-assets"}),
            StepSpec("sg", "aws", "security-group", {"name": "pr-9-web"}, depends_on=("bucket",)),
            StepSpec("ns", "kubernetes", "Namespace", {"name": "pr-9"}, depends_on=("sg",))]


def parallel() -> list[StepSpec]:
    return [StepSpec("bucket", "aws", "s3-bucket", {"name": "pr-9-assets"}),
            StepSpec("ns", "kubernetes", "Namespace", {"name": "pr-9"})]


def shown(managed: ManagedEnvironment) -> tuple:
    return (managed.state, managed.operation, managed.step, managed.reason, managed.updated_at,
            [s.to_json() | {"token": s.token, "attempts": s.attempts} for s in managed.steps], managed.orphans)


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(tmp_path)
    try:
        yield store
    finally:
        await store.close()


def engine(store: Store, world: MemoryWorld, on_change, factory=None, **kw) -> LifecycleEngine:
    return LifecycleEngine(store, LifecycleStore(store), factory or world.factory, holder="ann@test:1",
                           clock=FakeClock(tick_s=1.0), on_change=on_change, poll=(0, 0), **kw)


async def test_every_reported_change_of_a_create_and_destroy_is_what_the_store_holds_then(store):
    lstore = LifecycleStore(store)
    world = MemoryWorld()
    world.slow["sg"] = 2      # a waiting row with its message, updated in place
    reports: list[tuple[tuple, tuple]] = []

    async def on_change(managed: ManagedEnvironment) -> None:
        reports.append((shown(managed), shown(await lstore.require(ENV))))

    await lstore.insert(managed_env(ENV, chain()), requested_by="ann", origin="cli")
    created = await engine(store, world, on_change).drive(ENV)
    assert created.state == EnvLifecycleState.READY
    await lstore.request(ENV, Operation.DESTROY, "ann", "cli")
    destroyed = await engine(store, world, on_change).drive(ENV)
    assert destroyed.state == EnvLifecycleState.DESTROYED and destroyed.orphans == []
    assert world.creates == {"bucket": 1, "sg": 1, "ns": 1} and world.live(ENV) == []

    for reported, stored in reports:
        assert reported == stored
    # every step's row was reported as it went (none skipped): creating, waiting, healthy, then deleting, deleted
    seen = {step: [] for step in ("bucket", "sg", "ns")}
    for reported, _ in reports:
        for row in reported[5]:
            if not seen[row["id"]] or seen[row["id"]][-1] != row["state"]:
                seen[row["id"]].append(row["state"])
    for step, states in seen.items():
        for state in ("creating", "waiting", "healthy", "deleting", "deleted"):
            assert state in states, (step, states)
    timeline = [(e["resource"], e["reason"]) for e in await store.timeline(ENV)]
    for step in ("bucket", "sg", "ns"):
        for reason in ("Created", "Healthy", "Deleted"):
            assert timeline.count((step, reason)) == 1, (step, reason, timeline)
    assert timeline.count((ENV, "Ready")) == 1 and timeline.count((ENV, "Destroyed")) == 1


async def test_a_step_row_refused_after_a_takeover_writes_no_timeline_entry_either(store):
    """The `healthy` row and its "Healthy" entry are one unit fenced by the epoch: once another
    process took the lease, neither is written."""
    lstore = LifecycleStore(store)
    world = MemoryWorld()
    later = FakeClock().now + timedelta(hours=1)

    async def on_change(managed: ManagedEnvironment) -> None:
        rows = {r.id: r for r in managed.steps}
        if rows["bucket"].state == StepState.WAITING:
            await lstore.take_lease(ENV, "bob@elsewhere:1", 60, now=later)   # ours lapsed meanwhile

    await lstore.insert(managed_env(ENV, chain()), requested_by="ann", origin="cli")
    with pytest.raises(LeaseBusy, match="fenced"):
        await engine(store, world, on_change).drive(ENV)
    rows = {r.id: r for r in await lstore.steps(ENV)}
    assert rows["bucket"].state == StepState.WAITING and rows["bucket"].native_id
    timeline = [(e["resource"], e["reason"]) for e in await store.timeline(ENV)]
    assert ("bucket", "Created") in timeline and ("bucket", "Healthy") not in timeline, timeline
    assert world.creates == {"bucket": 1}


async def test_the_backends_are_swept_at_once_each_with_its_audit_row(store):
    """Each backend's sweep waits until every backend's sweep has begun: swept one after the
    other, the first would wait forever (the guard fails the test)."""
    lstore = LifecycleStore(store)
    world = MemoryWorld()
    begun: set[str] = set()
    everyone = asyncio.Event()

    class Meeting(MemoryProvisioner):
        async def sweep(self):
            begun.add(self.name)
            if begun >= {"aws", "kubernetes"}:
                everyone.set()
            await asyncio.wait_for(everyone.wait(), timeout=20)
            return await super().sweep()

    def factory(backend, env, config, template):
        return Meeting(world, backend, env, config, template)

    await lstore.insert(managed_env(ENV, parallel()), requested_by="ann", origin="cli")
    await engine(store, world, None, factory).drive(ENV)
    await lstore.request(ENV, Operation.DESTROY, "bob", "tui")
    managed = await engine(store, world, None, factory).drive(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED and managed.orphans == []
    assert sorted(b for m, b in world.calls if m == "sweep") == ["aws", "kubernetes"]
    swept = {a["target"]: a for a in await store.audit_entries(ENV) if a["action"] == "lifecycle.destroy"}
    for backend in ("aws", "kubernetes"):
        row = swept[f"{ENV}/sweep:{backend}"]
        assert row["result"] == "succeeded" and row["user"] == "bob", row


class LostAnswer(MemoryProvisioner):
    """create() makes the thing, then its answer is lost (a read timeout): unreachable."""

    async def create(self, step: StepSpec, token: str) -> str:
        native_id = await super().create(step, token)
        if step.id in self.world.lose_answer:
            self.world.lose_answer.discard(step.id)
            raise BackendUnreachable("AWS s3.CreateBucket: endpoint unreachable: Read timeout", backend="aws")
        return native_id


class Unreachable(MemoryProvisioner):
    async def find(self, step: StepSpec) -> str | None:
        self.world.calls.append(("find", step.id))
        raise BackendUnreachable("AWS ec2.DescribeInstances: Connect timeout", backend="aws")


async def test_a_create_whose_answer_was_lost_is_found_on_the_next_attempt_not_made_twice(store):
    lstore = LifecycleStore(store)
    world = MemoryWorld()
    world.lose_answer = {"bucket"}

    def factory(backend, env, config, template):
        return LostAnswer(world, backend, env, config, template)

    await lstore.insert(managed_env(ENV, parallel()), requested_by="ann", origin="cli")
    created = await engine(store, world, lambda m: None, factory=factory).drive(ENV)
    assert created.state == EnvLifecycleState.READY
    assert world.creates == {"bucket": 1, "ns": 1}
    assert [c for c in world.calls if c[1] == "bucket"][:3] == [("find", "bucket"), ("create", "bucket"),
                                                                ("find", "bucket")]


async def test_an_unreachable_backend_fails_the_step_after_three_attempts(store):
    lstore = LifecycleStore(store)
    world = MemoryWorld()

    def factory(backend, env, config, template):
        cls = Unreachable if backend == "aws" else MemoryProvisioner
        return cls(world, backend, env, config, template)

    await lstore.insert(managed_env(ENV, parallel()), requested_by="ann", origin="cli")
    with pytest.raises(LifecycleFailed, match="Connect timeout"):
        await engine(store, world, lambda m: None, factory=factory).drive(ENV)
    assert world.calls.count(("find", "bucket")) == 3
    assert world.creates.get("bucket", 0) == 0
