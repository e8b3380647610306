"""The lease of an environment in the store, on both engines (the `any_store` fixture: SQLite and
a real PostgreSQL): taken when free, expired or ours; the epoch grows on every change of holder;
renew/release only by the holder at its epoch; a repair's audit row of a stale epoch is refused
(`Fenced`) and nothing is written; two connections racing for a free lease: one wins."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tui.core.leases import Fenced
from tui.core.model import now_utc


async def _begin(store, epoch):
    return await store.audit_begin(user="u", env="prod", target="k8s/x", action="scale",
                                   params={}, origin="reconciler", epoch=epoch)


async def test_lease_taken_kept_and_moved_on(any_store):
    store = await any_store.open()
    try:
        t0 = now_utc()
        a = await store.acquire_lease("prod", "a@h:1", 15, now=t0)
        assert a is not None and a.epoch == 1 and a.holder == "a@h:1"
        assert await store.acquire_lease("prod", "b@h:2", 15, now=t0 + timedelta(seconds=5)) is None
        again = await store.acquire_lease("prod", "a@h:1", 15, now=t0 + timedelta(seconds=5))
        assert again is not None and again.epoch == 1  # ours: extended, same epoch
        assert await store.renew_lease(a, 15, now=t0 + timedelta(seconds=10))
        # expired: another holder takes it with the next epoch; the old one can no longer renew
        b = await store.acquire_lease("prod", "b@h:2", 15, now=t0 + timedelta(seconds=40))
        assert b is not None and b.epoch == 2
        assert not await store.renew_lease(a, 15, now=t0 + timedelta(seconds=41))
        assert not await store.release_lease(a)
        shown = await store.lease("prod")
        assert shown is not None and shown.holder == "b@h:2" and shown.epoch == 2
        assert await store.release_lease(b)
        released = await store.lease("prod")
        assert released is not None and released.holder is None and released.epoch == 2
        c = await store.acquire_lease("prod", "a@h:1", 15)
        assert c is not None and c.epoch == 3
        assert await store.lease("other") is None
    finally:
        await store.close()


async def test_stale_epoch_repair_row_is_refused(any_store):
    store = await any_store.open()
    try:
        t0 = now_utc()
        old = await store.acquire_lease("prod", "a@h:1", 1, now=t0 - timedelta(seconds=30))
        assert old is not None
        first = await _begin(store, old.epoch)  # still the lease's epoch (expired, nobody took it)
        new = await store.acquire_lease("prod", "b@h:2", 15)
        assert new is not None and new.epoch == old.epoch + 1
        before = len(await store.audit_entries("prod"))
        with pytest.raises(Fenced, match="epoch 1 is refused"):
            await _begin(store, old.epoch)
        assert len(await store.audit_entries("prod")) == before == 1
        assert await _begin(store, new.epoch) > first
        with pytest.raises(Fenced):
            await _begin(store, 7)  # an epoch nobody holds
        await store.release_lease(new)
        with pytest.raises(Fenced, match="held by nobody"):
            await _begin(store, new.epoch)  # released: no repair under it
        assert await _begin(store, None)  # an unfenced row (a user's own action) is written as before
    finally:
        await store.close()


async def test_two_connections_race_for_a_free_lease(any_store):
    stores = [await any_store.open() for _ in range(4)]
    try:
        for round_ in range(5):
            env = f"race{round_}"
            got = await asyncio.gather(*(s.acquire_lease(env, f"p@h:{i}", 15) for i, s in enumerate(stores)))
            won = [g for g in got if g is not None]
            assert len(won) == 1 and won[0].epoch == 1, got
            held = await stores[0].lease(env)
            assert held is not None and held.holder == won[0].holder
    finally:
        for s in stores:
            await s.close()
