"""The reconciler core, with the in-memory backend as its collaborator."""

from __future__ import annotations

import asyncio

import pytest

from tests.memory_backend import World
from tui.core.config import parse_config
from tui.core.env_state import BackendStatusChanged, RepairPerformed, ResourcesChanged
from tui.core.model import Health, Origin


async def wait_for(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("mode,flag,repaired", [
    ("observe", False, False), ("observe", True, False),
    ("propose", False, False), ("propose", True, True),
    ("auto", False, True),
])
async def test_repair_modes(make_reconciler, mode, flag, repaired):
    world = World()
    world.replicas["web"] = 1
    rec, store = await make_reconciler(world, repair=mode)
    records = await rec.run_once(repair=flag)
    env = rec.envs["staging"]
    assert [d.to_json() for d in env.all_drifts()] == [
        {"resource": "aws/app/web", "field": "replicas", "desired": 3, "actual": 1}]
    assert env.resource("aws/app/web").drift == "Drifted"
    assert env.resource("aws/app/api").drift is None
    assert (world.replicas["web"] == 3) is repaired
    assert len(records["staging"]) == (1 if repaired else 0)
    audit = await store.audit_entries()
    if repaired:
        assert audit[0]["action"] == "scale" and audit[0]["result"] == "succeeded"
        assert audit[0]["origin"] == (Origin.RECONCILER if mode == "auto" else Origin.CLI)
    else:
        assert audit == []


async def test_repair_needs_admin_and_denial_is_audited_once(make_reconciler):
    world = World()
    world.replicas["web"] = 1
    rec, store = await make_reconciler(world, repair="auto", user="alice",
                                      access="access: {operator: [alice]}")
    await rec.run_once()
    await rec.pass_once("staging", "aws")
    await rec.pass_once("staging", "aws")
    assert world.replicas["web"] == 1 and world.repair_calls == 0
    audit = await store.audit_entries()
    assert [(a["result"], a["user"]) for a in audit] == [("denied", "alice")]
    assert "admin" in audit[0]["message"]


async def test_read_only_blocks_auto_repair(make_reconciler):
    world = World()
    world.replicas["web"] = 1
    rec, store = await make_reconciler(world, repair="auto", read_only=True)
    records = await rec.run_once()
    assert records["staging"][0].result == "denied" and world.replicas["web"] == 1


async def test_failed_repair_is_not_retried_in_a_hot_loop(make_reconciler):
    world = World()
    world.replicas["web"] = 1
    world.fail_repairs = True
    rec, store = await make_reconciler(world, repair="auto")
    for _ in range(5):
        await rec.pass_once("staging", "aws")
    assert world.repair_calls == 1
    audit = await store.audit_entries()
    assert [a["result"] for a in audit] == ["failed"] and audit[0]["message"] == "quota exceeded"
    # asking explicitly still tries again
    await rec.repair("staging", user="bob", origin=Origin.TUI)
    assert world.repair_calls == 2


async def test_unreachable_backend_keeps_last_state_as_unknown_and_backs_off(make_reconciler):
    world = World()
    rec, store = await make_reconciler(world)
    assert await rec.pass_once("staging", "aws")
    env = rec.envs["staging"]
    observed = env.backends["aws"].observed_at
    assert env.health() == Health.HEALTHY
    world.down = True
    backoffs = []
    for _ in range(4):
        assert not await rec.pass_once("staging", "aws")
        backoffs.append(env.backends["aws"].backoff_s)
    state = env.backends["aws"]
    assert state.reachable is False and "connection refused" in state.error and state.failures == 4
    assert env.health() == Health.UNKNOWN
    web = env.resource("aws/app/web")
    assert web.health == Health.UNKNOWN and web.observed_at is not None and web.observed_at <= observed
    assert "unreachable" in web.health_reason
    assert all(0 < b <= 2.0 for b in backoffs)  # capped by max_backoff (2s in this config)
    # exponential with full jitter: attempt n waits within [c/2, c], c = base * 2**(n-1)
    assert 0.5 <= rec._backoff(1, 1.0) <= 1.0 and 1.0 <= rec._backoff(2, 1.0) <= 2.0
    world.down = False
    assert await rec.pass_once("staging", "aws")
    assert env.health() == Health.HEALTHY and state.failures == 0 and state.backoff_s == 0


async def test_passes_never_overlap(make_reconciler):
    world = World()
    world.observe_delay = 0.05
    rec, store = await make_reconciler(world)
    await asyncio.gather(*[rec.pass_once("staging", "aws") for _ in range(5)])
    assert world.observe_calls == 5 and world.max_concurrent == 1


async def test_background_loop_publishes_and_keeps_observing_while_paused(make_reconciler):
    world = World()
    rec, store = await make_reconciler(world, interval="50ms")
    changes = []
    rec.subscribe(changes.append)
    rec.subscribe(lambda change: 1 / 0)  # a broken subscriber must not stop anything
    await rec.start()
    await wait_for(lambda: world.observe_calls >= 3)
    assert any(isinstance(c, ResourcesChanged) for c in changes)
    assert any(isinstance(c, BackendStatusChanged) for c in changes)
    rec.pause("staging")  # repairs only: observing goes on (what the screen shows stays true)
    paused_at = world.observe_calls
    await wait_for(lambda: world.observe_calls >= paused_at + 3)
    rec.pause("staging", False)
    await wait_for(lambda: world.observe_calls >= paused_at + 5)


async def test_auto_repair_in_the_background_loop(make_reconciler):
    world = World()
    world.replicas["web"] = 0
    rec, store = await make_reconciler(world, repair="auto", interval="50ms")
    changes = []
    rec.subscribe(changes.append)
    await rec.start()
    await wait_for(lambda: any(isinstance(c, RepairPerformed) for c in changes))
    await wait_for(lambda: rec.envs["staging"].resource("aws/app/web").drift == "InSync")
    assert rec.envs["staging"].all_drifts() == []


async def test_unchanged_resources_are_not_republished(make_reconciler):
    world = World()
    rec, store = await make_reconciler(world)
    changes = []
    rec.subscribe(lambda c: changes.append(c) if isinstance(c, ResourcesChanged) else None)
    await rec.pass_once("staging", "aws")
    await rec.pass_once("staging", "aws")
    world.replicas["api"] = 5
    await rec.pass_once("staging", "aws")
    assert [sorted(r.id for r in c.changed) for c in changes] == [["aws/app/api", "aws/app/web"],
                                                                   ["aws/app/api"]]


async def test_last_known_state_is_shown_after_a_restart(make_reconciler):
    world = World()
    rec, store = await make_reconciler(world)
    await rec.pass_once("staging", "aws")
    await make_reconciler.close(rec, store)

    world.down = True
    rec2, store2 = await make_reconciler(world)
    await rec2.load_last_known()
    web = rec2.envs["staging"].resource("aws/app/web")
    assert web is not None and web.health == Health.UNKNOWN and web.observed_at is not None
    assert rec2.envs["staging"].backends["aws"].observed_at is not None


async def test_rollup_is_the_worst_health(make_reconciler):
    world = World()
    world.replicas["api"] = 0
    rec, store = await make_reconciler(world)
    await rec.run_once()
    env = rec.envs["staging"]
    assert env.health() == Health.SUSPENDED
    assert [f.reason for f in env.all_faults()] == ["Stopped"]
    data = env.to_json()
    assert data["health"] == "Suspended" and data["backends"]["aws"]["reachable"] is True


async def test_a_failing_store_does_not_kill_the_loop(make_reconciler):
    world = World()
    rec, store = await make_reconciler(world, interval="50ms")
    real = store.record_observation  # every write of a pass, in one transaction
    calls = {"n": 0}

    async def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("disk on fire")
        return await real(*args, **kwargs)

    store.record_observation = flaky  # the store is the collaborator here; the loop is under test
    await rec.start()
    await wait_for(lambda: calls["n"] >= 3 and rec.envs["staging"].backends["aws"].error is None)
    assert rec.envs["staging"].resource("aws/app/web") is not None


async def test_concurrent_passes_share_one_store_safely(make_reconciler):
    world = World()
    world.replicas = {f"app{i}": i % 3 for i in range(200)}
    world.desired = {f"app{i}": 1 for i in range(0, 200, 7)}
    cfg = parse_config("""
environments:
  a: {aws: {region: us-east-1, tags: {env: a}}}
  b: {aws: {region: us-east-1, tags: {env: b}}}
  c: {aws: {region: us-east-1, tags: {env: c}}}
""")
    rec, store = await make_reconciler(world, config=cfg)
    for _ in range(5):
        await rec.run_once()
    assert await store.integrity_check() == "ok"
    snap = await store.load_snapshot("b")
    assert len(snap["aws"]) == 200


async def test_a_pass_requested_during_a_pass_follows_it(make_reconciler):
    """Backend.request_pass (e.g. an edge node reconnected in the background) made while a
    pass runs is not lost when the loop goes back to sleep: the next pass follows at once,
    not at the interval (an hour here)."""
    world = World()
    world.observe_delay = 0.5
    rec, store = await make_reconciler(world, interval="1h")
    backend = rec.backends["staging"]["aws"]
    await rec.start()
    await wait_for(lambda: world.concurrent == 1)  # the first pass is observing
    assert backend.request_pass is not None
    backend.request_pass()
    await wait_for(lambda: world.observe_calls >= 2, timeout=60.0)
    assert rec.envs["staging"].backends["aws"].failures == 0


async def test_health_is_unknown_until_every_backend_answered(make_reconciler):
    """A fresh state directory: no resource yet, so the roll-up of nothing must not read Healthy."""
    world = World()
    rec, store = await make_reconciler(world)
    env = rec.envs["staging"]
    await rec.load_last_known()
    assert env.health() == Health.UNKNOWN and env.to_json()["health"] == "Unknown"
    await rec.pass_once("staging", "aws")
    assert env.health() == Health.HEALTHY


async def test_pause_stops_repairs_but_the_loop_keeps_observing(make_reconciler):
    world = World()
    rec, store = await make_reconciler(world, repair="auto", interval="50ms")
    await rec.start()
    env = rec.envs["staging"]
    await wait_for(lambda: env.resource("aws/app/web") is not None)
    rec.pause("staging")
    world.replicas["web"] = 1
    await wait_for(lambda: [(d.resource, d.actual) for d in env.all_drifts()] == [("aws/app/web", 1)])
    assert env.resource("aws/app/web").drift == "Drifted"
    assert world.replicas["web"] == 1 and await store.audit_entries() == []
    rec.pause("staging", False)
    await wait_for(lambda: world.replicas["web"] == 3)
