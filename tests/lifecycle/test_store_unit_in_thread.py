"""The SQLite store's units run whole in the connection's thread (`SqliteDb.atomic_in_thread`,
used by the lifecycle store's group commit and its state writes): committed together, rolled
back together, and a unit that would wait for something else than the store is refused with
nothing written."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from tests.lifecycle.memory_provisioner import managed_env
from tui.core.errors import InvalidRequest
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import EnvLifecycleState, StepSpec, StepState
from tui.core.store import Store

STEPS = [StepSpec("a", "mem", "thing", {})]


@pytest.fixture
async def lstore(tmp_path):
    store = await Store.open(tmp_path / "state")
    try:
        yield LifecycleStore(store)
    finally:
        await store.close()


async def _state(lstore: LifecycleStore, name: str) -> str:
    row = await lstore._db.fetchone("SELECT state FROM managed_env WHERE name = ?", (name,))
    return row["state"]


async def test_a_unit_in_the_thread_commits_its_statements_together(lstore):
    await lstore.insert(managed_env("e1", STEPS))

    async def unit(db):
        await db.execute("UPDATE managed_env SET state = ? WHERE name = ?", ("ready", "e1"))
        await db.execute("UPDATE lifecycle_steps SET state = ? WHERE env = ?", ("healthy", "e1"))
        return (await db.fetchone("SELECT state FROM managed_env WHERE name = ?", ("e1",)))["state"]

    assert await lstore._db.atomic_in_thread(unit) == "ready"
    assert await _state(lstore, "e1") == "ready"
    assert (await lstore.steps("e1"))[0].state == StepState.HEALTHY
    assert not lstore._db.raw.in_transaction


async def test_a_unit_that_fails_in_the_thread_writes_nothing(lstore):
    await lstore.insert(managed_env("e1", STEPS))

    async def failing(db):
        await db.execute("UPDATE managed_env SET state = ? WHERE name = ?", ("ready", "e1"))
        await db.execute("INSERT INTO managed_env (name) VALUES (?)", ("e1",))   # the key is taken

    with pytest.raises(sqlite3.IntegrityError):
        await lstore._db.atomic_in_thread(failing)
    assert await _state(lstore, "e1") == str(EnvLifecycleState.PLANNED)
    # through the lifecycle store: a refusal named as such
    with pytest.raises(InvalidRequest, match="refused by the store"):
        await lstore._atomic_of(failing)
    assert await _state(lstore, "e1") == str(EnvLifecycleState.PLANNED)


async def test_a_unit_that_waits_for_something_else_is_refused_and_rolled_back(lstore):
    await lstore.insert(managed_env("e1", STEPS))

    async def waits(db):
        await db.execute("UPDATE managed_env SET state = ? WHERE name = ?", ("ready", "e1"))
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited something else than the store"):
        await lstore._db.atomic_in_thread(waits)
    assert await _state(lstore, "e1") == str(EnvLifecycleState.PLANNED)
    await lstore.set_state("e1", EnvLifecycleState.PROVISIONING, step="a", timeline=())
    assert await _state(lstore, "e1") == str(EnvLifecycleState.PROVISIONING)


async def test_reads_in_the_thread_give_the_record_and_refuse_a_suspension(lstore):
    await lstore.insert(managed_env("e1", STEPS))
    managed = await lstore.get("e1")
    assert managed is not None and [s.id for s in managed.steps] == ["a"] and managed.orphans == []
    assert await lstore.get("nope") is None

    async def waits(db):
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited something else than the store"):
        await lstore._db.read_in_thread(waits)
    assert [s.id for s in await lstore.steps("e1")] == ["a"]
