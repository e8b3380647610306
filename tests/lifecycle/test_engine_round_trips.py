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


async def test_a_dependencys_last_row_and_its_dependents_first_row_are_one_transaction(store):
    """Create: bucket's `healthy` row and the `creating` row of sg (which waits for it) are written
    by one transaction, and so are sg's and ns's; destroy (reversed): ns's `deleted` row and sg's
    `deleting` row, then sg's `deleted` and bucket's `deleting`. A crash leaves both rows or
    neither; the dependent's backend is asked only after that commit (the tests above)."""
    world = MemoryWorld()
    units: list[list[tuple[str, str]]] = []

    def counting(eng: LifecycleEngine) -> LifecycleEngine:
        rows_atomic, write_step = eng.lstore._rows_atomic, eng.lstore._write_step

        async def unit(batch):
            units.append([])
            return await rows_atomic(batch)

        async def step_row(record, db=None):
            units[-1].append((record.id, str(record.state)))
            await write_step(record, db)

        eng.lstore._rows_atomic, eng.lstore._write_step = unit, step_row
        return eng

    await LifecycleStore(store).insert(managed_env(ENV, chain()), requested_by="ann", origin="cli")
    assert (await counting(engine(store, world, None)).drive(ENV)).state == EnvLifecycleState.READY
    await LifecycleStore(store).request(ENV, Operation.DESTROY, "ann", "cli")
    assert (await counting(engine(store, world, None)).drive(ENV)).state == EnvLifecycleState.DESTROYED
    written = [sorted(u) for u in units if u]
    for together in ([("bucket", "healthy"), ("sg", "creating")], [("ns", "creating"), ("sg", "healthy")],
                     [("ns", "deleted"), ("sg", "deleting")], [("bucket", "deleting"), ("sg", "deleted")]):
        assert together in written, written


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


def kinds() -> list[StepSpec]:
    """Two AWS kinds, one deleted after the other (the instance before the group it names)."""
    return [StepSpec("sg", "aws", "security-group", {"name": "pr-9-web"}),
            StepSpec("vm", "aws", "ec2-instance", {"name": "pr-9-web-1"}, depends_on=("sg",)),
            StepSpec("ns", "kubernetes", "Namespace", {"name": "pr-9"})]


async def test_a_kind_is_listed_for_the_sweep_only_once_every_step_of_it_is_gone(store):
    """`steps_gone(kinds)` lets a provisioner begin the sweep's listing of a kind while other
    steps still run: it comes once per kind, only when nothing of that kind is left to delete,
    the instance's before the group is even asked to go, and always before that backend's sweep."""
    lstore = LifecycleStore(store)
    world = MemoryWorld()
    world.slow_gone["sg"] = 2
    told: list[tuple[str, list[str], list[str], int]] = []   # backend, kinds, live things of them, when

    class Listing(MemoryProvisioner):
        def steps_gone(self, kinds):
            live = [t.kind for t in world.live(ENV) if t.backend == self.name and t.kind in kinds]
            told.append((self.name, sorted(kinds), live, len(world.calls)))

    def factory(backend, env, config, template):
        return Listing(world, backend, env, config, template)

    await lstore.insert(managed_env(ENV, kinds()), requested_by="ann", origin="cli")
    await engine(store, world, None, factory).drive(ENV)
    await lstore.request(ENV, Operation.DESTROY, "bob", "tui")
    managed = await engine(store, world, None, factory).drive(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED and managed.orphans == [] and world.live(ENV) == []
    by_backend = {b: [(k, live, at) for b2, k, live, at in told if b2 == b] for b in ("aws", "kubernetes")}
    assert [k for k, _, _ in by_backend["aws"]] == [["ec2-instance"], ["ec2-instance", "security-group"]], told
    assert [k for k, _, _ in by_backend["kubernetes"]] == [["Namespace"]], told
    assert all(live == [] for _, _, live, _ in told), told
    vm_at = by_backend["aws"][0][2]
    assert vm_at <= world.calls.index(("delete", "sg")), (told, world.calls)
    for backend, rows in by_backend.items():
        assert all(at <= world.calls.index(("sweep", backend)) for _, _, at in rows), (told, world.calls)


async def test_a_sweeps_audit_row_is_committed_before_it_deletes_and_kept_when_it_deletes_nothing(store):
    """A sweep's audit row is written before its first deletion (the row is pending in the store
    when `delete_leftover` is asked); a sweep that finds nothing to delete has its row (begun and
    ended) in the transaction that ends the destroy: every sweep is in the audit trail either way,
    also when the destroy stops after it (its lease lost: written at once)."""
    from tests.lifecycle.memory_provisioner import Thing
    lstore = LifecycleStore(store)
    world = MemoryWorld()
    pending_when_deleting: list[list[str]] = []

    class Auditing(MemoryProvisioner):
        async def delete_leftover(self, leftover):
            rows = await store.audit_entries(ENV)
            pending_when_deleting.append([r["target"] for r in rows if r["result"] == "pending"])
            await super().delete_leftover(leftover)

    def factory(backend, env, config, template):
        return Auditing(world, backend, env, config, template)

    await lstore.insert(managed_env(ENV, parallel()), requested_by="ann", origin="cli")
    await engine(store, world, None, factory).drive(ENV)
    instance = (await lstore.require(ENV)).instance
    world.things["stray-1"] = Thing(ENV, "bucket", "aws", "s3-bucket", {}, "stray-1", instance=instance)
    await lstore.request(ENV, Operation.DESTROY, "bob", "tui")
    managed = await engine(store, world, None, factory).drive(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED and world.live(ENV) == []
    assert pending_when_deleting == [[f"{ENV}/sweep:aws"]]
    rows = {r["target"]: r for r in await store.audit_entries(ENV) if r["action"] == "lifecycle.destroy"}
    assert rows[f"{ENV}/sweep:aws"]["result"] == "succeeded" and "stray-1" in rows[f"{ENV}/sweep:aws"]["message"]
    assert rows[f"{ENV}/sweep:kubernetes"]["result"] == "succeeded", rows
    assert "0 leftover(s) deleted" in rows[f"{ENV}/sweep:kubernetes"]["message"], rows

    # a destroy interrupted after a sweep that changed nothing (Ctrl-C while the other backend's
    # sweep runs) still leaves that sweep's row
    world2 = MemoryWorld()
    name = "pr-10"
    swept = asyncio.Event()

    class Hangs(MemoryProvisioner):
        async def sweep(self):
            if self.name == "aws":
                await asyncio.Event().wait()
            found = await super().sweep()
            swept.set()
            return found

    def factory2(backend, env, config, template):
        return Hangs(world2, backend, env, config, template)

    await lstore.insert(managed_env(name, parallel()), requested_by="ann", origin="cli")
    await engine(store, world2, None, factory2).drive(name)
    await lstore.request(name, Operation.DESTROY, "bob", "tui")
    drive = asyncio.ensure_future(engine(store, world2, None, factory2).drive(name))
    await asyncio.wait_for(swept.wait(), timeout=20)
    for _ in range(10):   # the kubernetes sweep's block is left (no I/O after its sweep() returns)
        await asyncio.sleep(0)
    drive.cancel()
    with pytest.raises(asyncio.CancelledError):
        await drive
    rows = {r["target"]: r for r in await store.audit_entries(name) if r["action"] == "lifecycle.destroy"}
    assert rows[f"{name}/sweep:kubernetes"]["result"] == "succeeded", rows
    assert rows[f"{name}/sweep:aws"]["result"] == "interrupted", rows


async def test_a_steps_backend_is_asked_only_after_its_creating_row_and_its_dependencys_fresh_health(store):
    """When a step that waits for another calls its own find(), its `creating` row (and its audit
    row) is in the store, and so is the dependency's `healthy` row, written on the dependency's
    own health() answer (one call: that answer of the backend is the fresh observation the step
    starts on, not asked a second time)."""
    lstore = LifecycleStore(store)
    world = MemoryWorld()
    seen: dict[str, object] = {}

    class Looking(MemoryProvisioner):
        async def find(self, step):
            if step.id == "sg":
                rows = {r.id: r for r in await lstore.steps(ENV)}
                audit = [a["result"] for a in await store.audit_entries(ENV) if a["target"] == f"{ENV}/sg"]
                seen.update(row=rows["sg"].state, audit=audit, bucket_health=world.health_calls["bucket"],
                            bucket=rows["bucket"].state)
            return await super().find(step)

    def factory(backend, env, config, template):
        return Looking(world, backend, env, config, template)

    await lstore.insert(managed_env(ENV, chain()), requested_by="ann", origin="cli")
    assert (await engine(store, world, None, factory).drive(ENV)).state == EnvLifecycleState.READY
    assert seen == {"row": StepState.CREATING, "audit": ["pending"], "bucket_health": 1,
                    "bucket": StepState.HEALTHY}, seen


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
