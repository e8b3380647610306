"""The lifecycle tables (tui/core/lifecycle/lifecycle_store.py): insert/replace, the
operation requests each state allows, the lease, atomic edge claims across connections,
sleep memory and orphans; each test on both engines (SQLite and a real PostgreSQL: the
`any_store` fixture of tests/postgres_server.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.lifecycle.memory_provisioner import managed_env
from tui.core.errors import InvalidRequest, NotFound
from tui.core.lifecycle.lifecycle_store import LifecycleStore, managed_from_row
from tui.core.lifecycle.records import (
    EnvLifecycleState,
    Operation,
    Orphan,
    StepRecord,
    StepSpec,
    StepState,
)
from tui.core.model import TimelineEntry, now_utc
from tui.core.store import MIGRATIONS


@pytest.fixture
async def lstore(any_store):
    store = await any_store.open()
    try:
        yield LifecycleStore(store)
    finally:
        await store.close()


STEPS = [StepSpec("a", "mem", "thing", {}), StepSpec("b", "mem", "thing", {}, depends_on=("a",))]


async def test_migration_creates_the_lifecycle_tables(lstore):
    assert await lstore.store.schema_version() == len(MIGRATIONS)
    tables = await lstore.store.tables()
    assert {"managed_env", "lifecycle_steps", "sleep_memory", "edge_claims", "orphans"} <= tables


async def test_insert_round_trip_with_pending_steps(lstore):
    await lstore.insert(managed_env("pr-1", STEPS, parameters={"branch": "x"}), requested_by="ann", origin="cli")
    got = await lstore.get("pr-1")
    assert got.state == EnvLifecycleState.PLANNED and got.operation == Operation.CREATE
    assert got.parameters == {"branch": "x"} and got.requested_by == "ann" and got.requested_origin == "cli"
    assert [(s.id, s.state) for s in got.steps] == [("a", StepState.PENDING), ("b", StepState.PENDING)]
    assert got.spec.steps[1].depends_on == ("a",)
    assert await lstore.get("nope") is None
    with pytest.raises(NotFound):
        await lstore.require("nope")


async def test_insert_refuses_a_live_name_and_replaces_a_destroyed_one(lstore):
    await lstore.insert(managed_env("pr-1", STEPS))
    with pytest.raises(InvalidRequest, match="pr-1 already exists"):
        await lstore.insert(managed_env("pr-1", STEPS))
    await lstore.upsert_step(StepRecord("pr-1", "a", "mem", "thing", StepState.DELETED, native_id="x"))
    await lstore.set_orphans("pr-1", [Orphan("mem", "x", "stuck")])
    await lstore.set_state("pr-1", EnvLifecycleState.DESTROYED, finished=Operation.CREATE)
    await lstore.insert(managed_env("pr-1", STEPS[:1]))
    got = await lstore.get("pr-1")
    assert got.state == EnvLifecycleState.PLANNED and got.orphans == []
    assert [(s.id, s.state, s.native_id) for s in got.steps] == [("a", StepState.PENDING, None)]


@pytest.mark.parametrize(("state", "operation", "ok"), [
    (EnvLifecycleState.PLANNED, Operation.CREATE, True),
    (EnvLifecycleState.READY, Operation.CREATE, False),
    (EnvLifecycleState.READY, Operation.SLEEP, True),
    (EnvLifecycleState.SLEEPING, Operation.SLEEP, False),
    (EnvLifecycleState.SLEEPING, Operation.WAKE, True),
    (EnvLifecycleState.READY, Operation.WAKE, False),
    (EnvLifecycleState.FAILED, Operation.DESTROY, True),
    (EnvLifecycleState.PROVISIONING, Operation.DESTROY, True),
    (EnvLifecycleState.DESTROYED, Operation.DESTROY, False),
])
async def test_request_allows_what_the_state_allows(lstore, state, operation, ok):
    await lstore.insert(managed_env("e1", STEPS, operation=None))
    await lstore.set_state("e1", state)
    if ok:
        got = await lstore.request("e1", operation, "bob", "tui")
        assert got.operation == operation and got.requested_by == "bob" and got.requested_origin == "tui"
    else:
        with pytest.raises(InvalidRequest, match=f"cannot {operation} e1"):
            await lstore.request("e1", operation, "bob", "tui")
        assert (await lstore.get("e1")).operation is None


async def test_pending_operation_is_replaced_only_by_destroy(lstore):
    await lstore.insert(managed_env("e1", STEPS, operation=None))
    await lstore.set_state("e1", EnvLifecycleState.READY)
    await lstore.request("e1", Operation.SLEEP, "bob", "cli")
    with pytest.raises(InvalidRequest, match="a sleep is already pending"):
        await lstore.request("e1", Operation.WAKE, "bob", "cli")
    assert (await lstore.request("e1", Operation.DESTROY, "ann", "cli")).operation == Operation.DESTROY
    with pytest.raises(InvalidRequest, match="a destroy is already pending"):
        await lstore.request("e1", Operation.SLEEP, "bob", "cli")


async def test_destroyed_with_orphans_may_be_destroyed_again(lstore):
    await lstore.insert(managed_env("e1", STEPS, operation=None))
    await lstore.set_state("e1", EnvLifecycleState.DESTROYED)
    with pytest.raises(InvalidRequest, match="it is destroyed"):
        await lstore.request("e1", Operation.DESTROY, "bob", "cli")
    await lstore.set_orphans("e1", [Orphan("aws", "arn:x", "AccessDenied")])
    assert (await lstore.request("e1", Operation.DESTROY, "bob", "cli")).operation == Operation.DESTROY
    with pytest.raises(NotFound):
        await lstore.request("nope", Operation.DESTROY, "bob", "cli")


async def test_set_state_keeps_an_operation_requested_meanwhile(lstore):
    await lstore.insert(managed_env("e1", STEPS))
    await lstore.set_state("e1", EnvLifecycleState.PROVISIONING)
    await lstore.request("e1", Operation.DESTROY, "ann", "cli")
    await lstore.set_state("e1", EnvLifecycleState.READY, finished=Operation.CREATE)
    assert (await lstore.get("e1")).operation == Operation.DESTROY
    await lstore.set_state("e1", EnvLifecycleState.DESTROYED, finished=Operation.DESTROY)
    assert (await lstore.get("e1")).operation is None


async def test_ready_sets_the_expiry_only_when_there_is_none(lstore):
    """A create's `ready` carries its TTL's expiry in the same statement; an expiry set meanwhile
    (an `extend` during the create) is kept."""
    t0 = now_utc().replace(microsecond=0)
    await lstore.insert(managed_env("e1", STEPS))
    await lstore.set_state("e1", EnvLifecycleState.READY, finished=Operation.CREATE,
                           expires_unless_set=t0 + timedelta(hours=1))
    assert (await lstore.get("e1")).expires_at == t0 + timedelta(hours=1)
    await lstore.insert(managed_env("e2", STEPS))
    await lstore.set_expires("e2", t0 + timedelta(hours=5))
    await lstore.set_state("e2", EnvLifecycleState.READY, finished=Operation.CREATE,
                           expires_unless_set=t0 + timedelta(hours=1))
    assert (await lstore.get("e2")).expires_at == t0 + timedelta(hours=5)


async def test_a_step_row_written_only_while_its_operation_is_pending(lstore):
    """A create's step that waited for others writes its `creating` row (and its deferred audit
    row) only while the create is still the pending operation, checked in the same transaction:
    after a destroy was requested nothing of it is written."""
    from tui.core.audited import AuditedOperation, AuditFields
    await lstore.insert(managed_env("e1", STEPS))
    creating = StepRecord("e1", "b", "mem", "thing", StepState.CREATING, token="t1")

    def audit(env: str) -> AuditedOperation:
        return AuditedOperation(lstore.store, 0, deferred=AuditFields("ann", env, f"{env}/b", "lifecycle.create",
                                                                      {}, "cli"))

    first = audit("e1")
    assert await lstore.upsert_step(creating, audit=first, only_while=Operation.CREATE) is True
    assert first.id and (await lstore.steps("e1"))[1].state == StepState.CREATING
    await lstore.insert(managed_env("e2", STEPS))
    await lstore.request("e2", Operation.DESTROY, "bob", "cli")
    second = audit("e2")
    refused = StepRecord("e2", "b", "mem", "thing", StepState.CREATING, token="t2")
    assert await lstore.upsert_step(refused, audit=second, only_while=Operation.CREATE) is False
    assert second.id == 0 and (await lstore.steps("e2"))[1].state == StepState.PENDING
    assert [a["target"] for a in await lstore.store.audit_entries("e1")] == ["e1/b"]
    assert [a for a in await lstore.store.audit_entries("e2") if a["action"] == "lifecycle.create"] == []


async def test_step_rows_asked_for_together_are_one_transaction_and_a_refused_one_is_its_own(lstore):
    """Rows asked for while the connection is busy go in one transaction (group commit), each
    caller returning once its row is committed; when one of them is refused (`Fenced`: a stale
    epoch) the others are still written and only its caller gets the refusal."""
    from tui.core.leases import Fenced
    await lstore.insert(managed_env("e1", STEPS))
    await lstore.insert(managed_env("e2", STEPS))
    units = []
    atomic = lstore._rows_atomic

    async def counted(batch):
        units.append(batch)
        return await atomic(batch)

    lstore._rows_atomic = counted

    def row(env: str, step: str, token: str) -> StepRecord:
        return StepRecord(env, step, "mem", "thing", StepState.CREATING, token=token)

    async with lstore._lock:   # the connection busy: the three rows wait together
        waiting = [asyncio.ensure_future(lstore.upsert_step(r)) for r in
                   (row("e1", "a", "t1"), row("e1", "b", "t2"), row("e2", "a", "t3"))]
        for _ in range(5):   # each task runs until it waits for the lock
            await asyncio.sleep(0)
    assert await asyncio.gather(*waiting) == [True, True, True]
    assert len(units) == 1
    assert [r.token for r in await lstore.steps("e1")] == ["t1", "t2"]
    assert [r.token for r in await lstore.steps("e2")][:1] == ["t3"]

    units.clear()
    async with lstore._lock:
        waiting = [asyncio.ensure_future(lstore.upsert_step(row("e1", "a", "t4"))),
                   asyncio.ensure_future(lstore.upsert_step(row("e2", "b", "t5"), epoch=7)),   # no such lease
                   asyncio.ensure_future(lstore.upsert_step(row("e1", "b", "t6")))]
        for _ in range(5):   # each task runs until it waits for the lock
            await asyncio.sleep(0)
    done = await asyncio.gather(*waiting, return_exceptions=True)
    assert done[0] is True and done[2] is True and isinstance(done[1], Fenced), done
    assert len(units) == 4   # the batch, refused; then each row on its own
    assert [r.token for r in await lstore.steps("e1")] == ["t4", "t6"]
    assert (await lstore.steps("e2"))[1].state == StepState.PENDING   # the refused row: not written


async def test_lease_free_ours_busy_expired(lstore):
    await lstore.insert(managed_env("e1", STEPS))
    t0 = now_utc()
    assert await lstore.take_lease("e1", "ann@h:1", 30, now=t0) is None
    assert await lstore.take_lease("e1", "ann@h:1", 30, now=t0) is None        # already ours
    busy = await lstore.take_lease("e1", "bob@h:2", 30, now=t0 + timedelta(seconds=10))
    assert busy is not None and "ann@h:1" in busy
    assert await lstore.renew_lease("e1", "ann@h:1", 30, now=t0 + timedelta(seconds=20))
    assert await lstore.take_lease("e1", "bob@h:2", 30, now=t0 + timedelta(seconds=40)) is not None
    assert await lstore.take_lease("e1", "bob@h:2", 30, now=t0 + timedelta(seconds=51)) is None  # expired
    assert not await lstore.renew_lease("e1", "ann@h:1", 30)
    await lstore.release_lease("e1", "ann@h:1")                                 # not ann's: no effect
    assert await lstore.take_lease("e1", "cy@h:3", 30, now=t0 + timedelta(seconds=52)) is not None
    await lstore.release_lease("e1", "bob@h:2")
    assert await lstore.take_lease("e1", "cy@h:3", 30, now=t0 + timedelta(seconds=52)) is None


async def test_a_state_written_with_returning_gives_back_the_row_the_store_holds(lstore):
    """`set_state(returning=True)` (the engine reports from it instead of reading the environment
    again): the row as the statement left it, an operation requested meanwhile and the expiry
    included, equal to a read made after it."""
    t0 = now_utc().replace(microsecond=0)
    await lstore.insert(managed_env("e1", STEPS))
    held = await lstore.get("e1")
    row = await lstore.set_state("e1", EnvLifecycleState.PROVISIONING, epoch=None, returning=True)
    await lstore.request("e1", Operation.DESTROY, "ann", "cli")
    row = await lstore.set_state("e1", EnvLifecycleState.READY, finished=Operation.CREATE, returning=True,
                                 expires_unless_set=t0 + timedelta(hours=1))
    got = managed_from_row(row, spec=held.spec, steps=held.steps, orphans=held.orphans)
    read = await lstore.get("e1")
    assert (got.state, got.operation, got.expires_at) == (EnvLifecycleState.READY, Operation.DESTROY,
                                                          t0 + timedelta(hours=1))
    assert got.to_json() == read.to_json() and got.updated_at == read.updated_at
    assert await lstore.set_state("e1", EnvLifecycleState.READY) is None   # without returning: nothing


async def test_a_claim_only_while_the_create_is_pending_writes_the_spec_and_entry_with_it(lstore):
    await lstore.insert(managed_env("e1", STEPS))
    before = await lstore.get("e1")

    def then(claimed):
        spec = before.spec
        spec.environment = {**spec.environment, "edge": {"nodes": [{"name": n} for n in claimed]}}
        return spec, [TimelineEntry(now_utc(), "edge", "lifecycle", "info", "Claimed", ", ".join(claimed))]

    assert await lstore.claim_nodes("gw", "e1", 1, ["n1", "n2"], only_while=Operation.CREATE, then=then) == ["n1"]
    got = await lstore.get("e1")
    assert got.spec.environment["edge"]["nodes"] == [{"name": "n1"}]
    assert [(e["reason"], e["message"]) for e in await lstore.store.timeline("e1")] == [("Claimed", "n1")]
    await lstore.insert(managed_env("e2", STEPS))
    await lstore.request("e2", Operation.DESTROY, "ann", "cli")     # a destroy replaced the create
    assert await lstore.claim_nodes("gw", "e2", 1, ["n1", "n2"], only_while=Operation.CREATE, then=then) is None
    assert [c.node for c in await lstore.claims("e2")] == [] and await lstore.store.timeline("e2") == []


async def test_claims_resume_release_and_refuse_when_the_pool_is_short(lstore):
    nodes = ["n1", "n2", "n3"]
    assert await lstore.claim_nodes("gw", "e1", 2, nodes) == ["n1", "n2"]
    assert await lstore.claim_nodes("gw", "e1", 2, nodes) == ["n1", "n2"]       # resumed: same nodes
    with pytest.raises(InvalidRequest, match="edge pool gw: 1 free node"):
        await lstore.claim_nodes("gw", "e2", 2, nodes)
    assert [c.node for c in await lstore.claims("e2")] == []                     # nothing half-claimed
    assert await lstore.claim_nodes("gw", "e2", 1, nodes) == ["n3"]
    assert await lstore.release_claims("e1") == 2
    assert [(c.node, c.env) for c in await lstore.claims(pool="gw")] == [("n3", "e2")]


async def test_two_connections_never_claim_one_node(any_store):
    """Two stores on one file / database (two aiosqlite threads or two PostgreSQL sessions,
    like two processes) claim concurrently."""
    first, second = await any_store.open(), await any_store.open()
    try:
        a, b = LifecycleStore(first), LifecycleStore(second)
        nodes = [f"n{i}" for i in range(12)]
        claimers = [(a if i % 2 else b).claim_nodes("gw", f"e{i}", 2, nodes) for i in range(8)]
        results = await asyncio.gather(*claimers, return_exceptions=True)
        won = [r for r in results if isinstance(r, list)]
        refused = [r for r in results if isinstance(r, InvalidRequest)]
        assert len(won) == 6 and len(refused) == 2, results
        claimed = [n for r in won for n in r]
        assert len(claimed) == len(set(claimed)) == 12
        rows = await a.claims(pool="gw")
        assert sorted(c.node for c in rows) == sorted(nodes)
        assert {c.env: 0 for c in rows}.keys() == {f"e{i}" for i, r in enumerate(results) if isinstance(r, list)}
    finally:
        await first.close()
        await second.close()


async def test_sleep_memory_per_backend_and_orphans(lstore):
    await lstore.insert(managed_env("e1", STEPS))
    await lstore.save_sleep_memory("e1", "kubernetes", {"Deployment/web": {"replicas": 3}})
    await lstore.save_sleep_memory("e1", "aws", {"i-1": {"state": "running"}})
    assert await lstore.sleep_memory("e1") == {"kubernetes": {"Deployment/web": {"replicas": 3}},
                                               "aws": {"i-1": {"state": "running"}}}
    await lstore.clear_sleep_memory("e1")
    assert await lstore.sleep_memory("e1") == {}
    await lstore.set_orphans("e1", [Orphan("aws", "arn:b", "denied"), Orphan("aws", "arn:a", "denied")])
    assert [o.resource for o in (await lstore.get("e1")).orphans] == ["arn:a", "arn:b"]
    await lstore.set_orphans("e1", [])
    assert (await lstore.get("e1")).orphans == []


async def test_list_hides_destroyed_unless_asked(lstore):
    await lstore.insert(managed_env("a1", STEPS))
    await lstore.insert(managed_env("b1", STEPS))
    await lstore.set_state("b1", EnvLifecycleState.DESTROYED)
    assert [m.name for m in await lstore.list()] == ["a1"]
    assert [m.name for m in await lstore.list(include_destroyed=True)] == ["a1", "b1"]


async def test_two_connections_request_one_operation_atomically(any_store):
    """Concurrent requests from two connections behave as if they ran one after the other:
    destroy always lands and is never overwritten by a wake that read the row before it
    (a lost update would leave `wake` pending); sleep is never allowed from sleeping."""
    first, second = await any_store.open(), await any_store.open()
    try:
        a, b = LifecycleStore(first), LifecycleStore(second)
        for i in range(6):
            await a.insert(managed_env(f"e{i}", STEPS, operation=None))
            await a.set_state(f"e{i}", EnvLifecycleState.SLEEPING)
        asks = [store.request(f"e{i}", op, "bob", "cli") for i in range(6)
                for store, op in ((a, Operation.WAKE), (b, Operation.DESTROY), (a, Operation.SLEEP))]
        results = await asyncio.gather(*asks, return_exceptions=True)
        for i in range(6):
            wake, destroy, sleep = results[i * 3:i * 3 + 3]
            assert isinstance(sleep, InvalidRequest), sleep
            assert not isinstance(destroy, BaseException), destroy
            assert (await a.get(f"e{i}")).operation == Operation.DESTROY
            # the wake was refused (the destroy came first) or it came first and the destroy replaced it
            # (the row it returns is read after its commit, so it may already show the destroy)
            assert isinstance(wake, InvalidRequest) and "a destroy is already pending" in str(wake) \
                or not isinstance(wake, BaseException), wake
    finally:
        await first.close()
        await second.close()
