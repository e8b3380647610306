"""The promotions tables (migration 8) on both engines (`any_store`: SQLite and a real
PostgreSQL): a promotion and its steps round-trip (JSON values, states), a second unfinished
promotion into the same B is refused naming the first, the lease is taken by one holder at a
time and released by its holder only."""

from __future__ import annotations

import pytest

from tui.core.errors import InvalidRequest
from tui.core.promote.promotion_store import PromotionStore
from tui.core.promote.records import PlannedChange, PromotionPlan, PromotionState, StepState

PLAN = PromotionPlan("staging", "prod", [
    PlannedChange(1, "kubernetes/Deployment/api", "kubernetes/Deployment/api", "image", {"api": "api:1"},
                  {"api": "api:2"}, "kubernetes/Deployment/api"),
    PlannedChange(2, "kubernetes/Deployment/web", "kubernetes/Deployment/web", "image", {"web": "web:1"},
                  {"web": "registry.invalid/web:3"}, "kubernetes/Deployment/web")])


async def test_promotion_round_trip_refusal_and_lease(any_store):
    store = await any_store.open()
    try:
        pstore = PromotionStore(store)
        previous = {"kubernetes/Deployment/web": {"image": {"running": {"web": "web:1"}, "overlay": None}}}
        promotion = await pstore.insert(PLAN, user="alice", origin="cli", previous=previous)
        assert promotion.state == PromotionState.RUNNING and promotion.previous == previous
        assert [(s.seq, s.change.wave, s.state) for s in promotion.steps] == [(0, 1, StepState.PENDING),
                                                                              (1, 2, StepState.PENDING)]
        with pytest.raises(InvalidRequest, match=f"--resume {promotion.id}"):
            await pstore.insert(PLAN, user="bob", origin="cli", previous={})
        assert await pstore.unfinished("prod") == promotion.id
        step = promotion.steps[1]
        step.state, step.attempts, step.message = StepState.FAILED, 1, "not healthy after 3s: ImagePullBackOff"
        await pstore.upsert_step(step)
        await pstore.set_state(promotion.id, PromotionState.FAILED, reason="web: not healthy", waves_done=1)
        again = await pstore.get(promotion.id)
        assert again.state == PromotionState.FAILED and again.waves_done == 1
        assert again.steps[1].change.after == {"web": "registry.invalid/web:3"}
        assert again.steps[1].change.source == "kubernetes/Deployment/web"
        assert again.promoted == ["kubernetes/Deployment/web"] and again.healthy == []
        assert "prod is partly promoted" in again.summary() and f"--rollback {promotion.id}" in again.summary()
        assert await pstore.unfinished("prod") is None
        # the lease: one holder at a time, released by its holder only
        assert await pstore.take_lease(promotion.id, "a@h:1", 60) is None
        assert (await pstore.take_lease(promotion.id, "b@h:2", 60)).startswith("a@h:1 (until ")
        await pstore.release_lease(promotion.id, "b@h:2")
        assert await pstore.take_lease(promotion.id, "b@h:2", 60) is not None
        await pstore.release_lease(promotion.id, "a@h:1")
        assert await pstore.take_lease(promotion.id, "b@h:2", 60) is None
        assert [p.id for p in await pstore.list(["prod"])] == [promotion.id] and await pstore.list(["qa"]) == []
    finally:
        await store.close()


async def test_the_rollback_fence_is_one_atomic_update_an_engine_end_never_overwrites(any_store):
    store = await any_store.open()
    try:
        pstore = PromotionStore(store)
        promotion = await pstore.insert(PLAN, user="alice", origin="cli", previous={})
        assert await pstore.take_lease(promotion.id, "a@h:1", 60) is None
        reason = "stopped for rollback by bob@h:2 (envdeck promote --rollback x)"
        assert await pstore.fence(promotion.id, reason)
        assert not await pstore.fence(promotion.id, "again"), "only a running promotion is fenced"
        assert await pstore.state(promotion.id) == PromotionState.FAILED
        # the engine that carried it out ends: its succeeded/failed never replaces the fence
        assert not await pstore.set_state(promotion.id, PromotionState.SUCCEEDED, waves_done=2, only_running=True)
        fenced = await pstore.get(promotion.id)
        assert (fenced.state, fenced.reason, fenced.waves_done) == (PromotionState.FAILED, reason, 0)
        assert fenced.summary().endswith("the rollback sets prod's versions back"), fenced.summary()
        holder, until = await pstore.lease(promotion.id)
        assert holder == "a@h:1" and until is not None
        await pstore.release_lease(promotion.id, "a@h:1")
        assert await pstore.lease(promotion.id) == (None, None)
        assert await pstore.unfinished("prod") is None     # a new --apply into prod may go
    finally:
        await store.close()
