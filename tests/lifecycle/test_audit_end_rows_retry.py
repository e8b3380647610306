"""The end rows of a TTL destroy that keeps failing (its backend down) and is asked again every
round: one request row (user envdeck, origin ttl), one end row when it first fails, another only
when the outcome changes, each naming that request row (`params.request`), never the previous
end row. The engine drives as the reconciler's loop does (`AUDIT_ENDS` set, what
`LifecycleDriver._drive_quietly` sets); the in-memory provisioner (tests/lifecycle/
memory_provisioner.py) plays the backends, its deletes refused as unreachable while `down`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.lifecycle.memory_provisioner import FakeClock, MemoryProvisioner, MemoryWorld, managed_env
from tui.core.errors import BackendUnreachable, LifecycleFailed
from tui.core.lifecycle.engine import AUDIT_ENDS, LifecycleEngine
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import EnvLifecycleState, StepSpec
from tui.core.store import Store

ENV = "pr-9"
RETRIES = 4


class DownWorld(MemoryWorld):
    """A world whose backends named in `down` refuse every delete as unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.down: dict[str, str] = {}

    def factory(self, backend, env, config, template) -> MemoryProvisioner:
        return _DownProvisioner(self, backend, env, config, template)


class _DownProvisioner(MemoryProvisioner):
    async def delete(self, step: StepSpec, native_id: str) -> None:
        reason = self.world.down.get(self.name)
        if reason is not None:
            raise BackendUnreachable(reason, backend=self.name)
        await super().delete(step, native_id)


@pytest.fixture
async def store(tmp_path):
    opened = await Store.open(tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


def _steps() -> list[StepSpec]:
    return [StepSpec("bucket", "aws", "s3-bucket", {"name": "pr-9-assets"}, timeout_s=5),
            StepSpec("ns", "kubernetes", "Namespace", {"name": "pr-9"}, timeout_s=5)]


async def _destroy_rows(store: Store) -> list[dict]:
    return [r for r in reversed(await store.audit_entries(ENV, limit=1000)) if r["action"] == "env.destroy"]


async def test_a_failing_ttl_destroy_asked_again_ends_once_per_outcome_naming_its_request(store: Store):
    world, clock = DownWorld(), FakeClock(tick_s=1.0)   # each read moves it: a step's timeout without waiting
    lstore = LifecycleStore(store)
    engine = LifecycleEngine(store, lstore, world.factory, holder="rec@test:1", clock=clock, poll=(0, 0))
    await lstore.insert(managed_env(ENV, _steps(), ttl_s=3600), requested_by="ann", origin="cli")
    token = AUDIT_ENDS.set(True)   # as the reconciler's lifecycle loop drives
    try:
        created = await engine.drive(ENV)
        assert created.state == EnvLifecycleState.READY
        world.down["kubernetes"] = "connection refused"
        clock.advance(3600)
        for attempt in range(RETRIES):
            assert await engine.expire_due() == [ENV], attempt
            with pytest.raises(LifecycleFailed):
                await engine.drive(ENV)
            assert (await lstore.get(ENV)).state == EnvLifecycleState.FAILED
        rows = await _destroy_rows(store)
        [request] = [r for r in rows if r["origin"] == "ttl"]
        assert (request["user"], request["result"]) == ("envdeck", "succeeded"), request
        assert request["message"].startswith("expired at "), request
        ends = [r for r in rows if r["origin"] == "reconciler"]
        assert len(ends) == 1, rows                                  # not one per attempt
        [first] = ends
        assert first["result"] == "failed" and "cannot reach kubernetes" in first["message"], first
        assert first["params"]["request"] == request["id"]
        assert (first["user"], first["params"]["requested_origin"]) == ("envdeck", "ttl")
        # the step attempts are all there: each retry did run
        deletes = [r for r in await store.audit_entries(ENV, limit=1000)
                   if r["action"] == "lifecycle.destroy" and r["target"] == f"{ENV}/ns"]
        assert len(deletes) == RETRIES, deletes

        # the outcome changes: the backend is back, the next round destroys it
        world.down.clear()
        assert await engine.expire_due() == [ENV]
        assert (await engine.drive(ENV)).state == EnvLifecycleState.DESTROYED
    finally:
        AUDIT_ENDS.reset(token)
    rows = await _destroy_rows(store)
    assert [r["origin"] for r in rows] == ["ttl", "reconciler", "reconciler"], rows
    last = rows[-1]
    assert (last["result"], last["message"].split(" (by ")[0]) == ("succeeded", "destroyed"), last
    assert last["params"]["request"] == request["id"]               # the request, not the previous end row
    assert world.live(ENV) == []


async def test_a_new_expiry_after_a_destroy_asked_by_hand_is_a_request_of_its_own(store: Store):
    world, clock = DownWorld(), FakeClock(tick_s=1.0)
    lstore = LifecycleStore(store)
    engine = LifecycleEngine(store, lstore, world.factory, holder="rec@test:1", clock=clock, poll=(0, 0))
    await lstore.insert(managed_env(ENV, _steps(), ttl_s=3600), requested_by="ann", origin="cli")
    token = AUDIT_ENDS.set(True)
    try:
        await engine.drive(ENV)
        world.down["kubernetes"] = "connection refused"
        clock.advance(3600 + 1)
        assert await engine.expire_due() == [ENV]
        with pytest.raises(LifecycleFailed):
            await engine.drive(ENV)
        # ann asks the destroy herself (recorded as the service does, with its request row)
        await store.audit_record(user="ann", env=ENV, target=ENV, action="env.destroy", params={"wait": False},
                                 origin="cli", result="succeeded", message="handed over to the reconciler")
        world.down["kubernetes"] = "connection reset"
        clock.advance(timedelta(minutes=1).total_seconds())
        assert await engine.expire_due() == [ENV]
        with pytest.raises(LifecycleFailed):
            await engine.drive(ENV)
    finally:
        AUDIT_ENDS.reset(token)
    rows = await _destroy_rows(store)
    requests = [r for r in rows if r["origin"] != "reconciler"]
    assert [(r["origin"], r["user"]) for r in requests] == [("ttl", "envdeck"), ("cli", "ann"), ("ttl", "envdeck")]
    ends = [r for r in rows if r["origin"] == "reconciler"]
    assert [e["params"]["request"] for e in ends] == [requests[0]["id"], requests[2]["id"]], rows
