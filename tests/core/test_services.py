"""Session services: every action passes the policy and the audit trail."""

from __future__ import annotations

import asyncio

import pytest

from tests.memory_backend import World, memory_factory
from tui.core.config import parse_config
from tui.core.errors import InvalidRequest, PolicyDenied
from tui.core.model import Origin
from tui.core.session import Session
from tui.core.store import Store

CFG = parse_config("""
environments:
  staging:
    access: {viewer: ["*"], operator: [alice], admin: [bob]}
    aws: {region: us-east-1, tags: {env: staging}}
  prod:
    access: {admin: [bob]}
    aws: {region: us-east-1, tags: {env: prod}}
""")


async def session(tmp_path, user, world=None, read_only=False, envs=None):
    return await Session.open(CFG, tmp_path, origin=Origin.TUI, user=user, read_only=read_only, envs=envs,
                              backends_factory=memory_factory(world or World()))


async def test_allowed_action_is_audited_pending_then_succeeded(tmp_path):
    world = World()
    s = await session(tmp_path, "alice", world)
    try:
        result = await s.act("staging", "aws/app/web", "scale", {"replicas": "5"})
        assert result.ok and world.replicas["web"] == 5
        [entry] = await s.store.audit_entries()
        assert (entry["user"], entry["env"], entry["target"], entry["action"], entry["origin"], entry["result"]) == (
            "alice", "staging", "aws/app/web", "scale", "tui", "succeeded")
        assert entry["params"] == {"replicas": "5"}
    finally:
        await s.close()


@pytest.mark.parametrize("user,action,read_only", [
    ("carol", "restart", False),   # viewer
    ("alice", "delete", False),    # destructive needs admin
    ("bob", "restart", True),      # --read-only
])
async def test_denied_action_never_reaches_the_backend_and_is_audited(tmp_path, user, action, read_only):
    world = World()
    s = await session(tmp_path, user, world, read_only=read_only)
    try:
        with pytest.raises(PolicyDenied):
            await s.act("staging", "aws/app/web", action)
        assert world.performed == []
        [entry] = await s.store.audit_entries()
        assert entry["result"] == "denied" and entry["user"] == user and entry["action"] == action
    finally:
        await s.close()


async def test_actions_for_lists_disabled_actions_with_reason(tmp_path):
    s = await session(tmp_path, "carol")
    try:
        resource = await s.resource("staging", "aws/app/web")
        choices = {c.spec.name: c.decision for c in s.actions_for("staging", resource)}
        assert set(choices) == {"restart", "scale", "delete"}
        assert not choices["restart"].allowed and "operator" in choices["restart"].reason
    finally:
        await s.close()


async def test_hidden_environment_and_unknown_names(tmp_path):
    s = await session(tmp_path, "alice")
    try:
        assert s.environments() == ["staging"]  # no role in prod: not shown at all
        with pytest.raises(PolicyDenied, match="aws/app/nope is not a resource of environment staging"):
            await s.act("staging", "aws/app/nope", "restart")
        with pytest.raises(InvalidRequest, match="no action 'explode'"):
            await s.act("staging", "aws/app/web", "explode")
    finally:
        await s.close()
    # an environment without a role and one that does not exist: the same refusal, both audited
    with pytest.raises(PolicyDenied) as hidden:
        await session(tmp_path, "alice", envs=["prod"])
    with pytest.raises(PolicyDenied) as unknown:
        await session(tmp_path, "alice", envs=["nope"])
    assert str(hidden.value) == "no environment 'prod' that you can see"
    assert str(unknown.value) == "no environment 'nope' that you can see"
    store = await Store.open(tmp_path)
    rows = [e for e in await store.audit_entries() if e["action"] == "access"]
    await store.close()
    assert sorted((e["env"], e["result"]) for e in rows) == [("nope", "denied"), ("prod", "denied")]


async def test_logs_need_operator(tmp_path):
    s = await session(tmp_path, "carol")
    try:
        with pytest.raises(PolicyDenied):
            async for _ in s.logs("staging", "aws/app/web"):
                pass
    finally:
        await s.close()
    s = await session(tmp_path, "alice")
    try:
        lines = [line.text async for line in s.logs("staging", "aws/app/web", tail=3)]
        assert lines == ["line 7", "line 8", "line 9"]
    finally:
        await s.close()


async def test_pause_is_audited(tmp_path):
    s = await session(tmp_path, "alice")
    try:
        await s.set_paused("staging", True)
        assert s.reconciler.envs["staging"].paused
        [entry] = await s.store.audit_entries()
        assert entry["action"] == "pause" and entry["result"] == "succeeded"
    finally:
        await s.close()


async def test_an_action_finishing_during_a_pass_gets_its_own_pass(tmp_path):
    """After an action the reconciler looks again at once, so that its effect is shown.
    If a pass was running when the action finished, that pass may have read the state
    before the action: the next pass must follow it, not wait for the interval (1 h)."""
    config = parse_config("""
environments:
  staging:
    access: {operator: [alice]}
    aws: {region: us-east-1, tags: {env: staging}}
defaults: {interval: 1h}
""")
    world = World()
    s = await Session.open(config, tmp_path, origin=Origin.TUI, user="alice", backends_factory=memory_factory(world))
    try:
        await s.reconciler.start()
        deadline = asyncio.get_running_loop().time() + 60
        while s.reconciler.envs["staging"].resource("aws/app/web") is None:  # the first pass is done
            assert asyncio.get_running_loop().time() < deadline, "no first pass"
            await asyncio.sleep(0.01)
        world.observe_delay = 0.5
        # request_pass, not a bare wake(): a wake landing after the first pass published its
        # resources but before its loop went back to waiting is dropped (kept so on purpose)
        s.reconciler.request_pass("staging", "aws")
        while world.concurrent != 1:  # a (slow) pass is observing
            assert asyncio.get_running_loop().time() < deadline, "no pass started"
            await asyncio.sleep(0.01)
        calls = world.observe_calls
        result = await s.act("staging", "aws/app/web", "scale", {"replicas": "4"})
        assert result.ok and world.concurrent == 1, "the action finished while the pass ran"
        while world.observe_calls <= calls:
            assert asyncio.get_running_loop().time() < deadline, "no pass after the action"
            await asyncio.sleep(0.01)
        while s.reconciler.envs["staging"].resource("aws/app/web").attributes.get("replicas") != 4:
            assert asyncio.get_running_loop().time() < deadline, "the action's effect was not observed"
            await asyncio.sleep(0.01)
    finally:
        await s.close()


@pytest.mark.parametrize("user,read_only", [("carol", False), ("bob", True)], ids=["viewer", "admin-read-only"])
async def test_a_denial_never_waits_for_the_backend(tmp_path, user, read_only):
    """Deny first: the role and --read-only are decided before the resource is looked up,
    so a backend that is down (or never asked) changes nothing: refused, one `denied` row."""
    world = World()
    world.down = True
    s = await session(tmp_path, user, world, read_only=read_only)
    try:
        with pytest.raises(PolicyDenied):
            await s.act("staging", "aws/app/web", "restart")
        assert world.observe_calls == 0 and world.performed == []
        [entry] = await s.store.audit_entries()
        assert (entry["result"], entry["action"], entry["target"]) == ("denied", "restart", "aws/app/web")
    finally:
        await s.close()


async def test_parameters_an_action_does_not_take_are_refused(tmp_path):
    world = World()
    s = await session(tmp_path, "bob", world)
    try:
        with pytest.raises(InvalidRequest, match="'pwd'") as refused:
            await s.act("staging", "aws/app/web", "restart", {"pwd": "hunter2"})
        assert "restart" in str(refused.value)
        with pytest.raises(InvalidRequest, match="'colour'"):
            await s.act("staging", "aws/app/web", "scale", {"replicas": "2", "colour": "red"})
        assert world.performed == [] and await s.store.audit_entries() == []
    finally:
        await s.close()


async def test_a_denial_before_the_parameters_are_checked_keeps_their_names_only(tmp_path):
    world = World()
    s = await session(tmp_path, "carol", world)  # a viewer: refused before the spec is known
    try:
        with pytest.raises(PolicyDenied):
            await s.act("staging", "aws/app/web", "restart", {"note": "hunter2"})
        [entry] = await s.store.audit_entries()
        assert entry["result"] == "denied" and entry["params"] == {"note": "***"}
    finally:
        await s.close()


async def test_each_log_stream_opened_is_one_read_row(tmp_path):
    world = World()
    s = await session(tmp_path, "alice", world)
    try:
        lines = [line.text async for line in s.logs("staging", "aws/app/web", tail=5)]
        assert len(lines) == 5
        stream = s.logs("staging", "aws/app/web", tail=5)
        async for _ in stream:
            break  # the reader stops early
        await stream.aclose()
        entries = await s.store.audit_entries()
        assert [(e["action"], e["target"], e["result"]) for e in entries] == [("read", "aws/app/web", "succeeded")] * 2
    finally:
        await s.close()


async def test_a_log_stream_the_reader_closes_is_a_read_that_succeeded(tmp_path, monkeypatch):
    """Esc on the log view, quitting the TUI, ctrl+c on `logs -f`: the reader's task is
    cancelled while it waits for the next line. Closing a stream you opened is a success
    ("closed"), not `interrupted` with `CancelledError`."""
    from tests.memory_backend import MemoryBackend
    from tui.core.model import LogLine

    async def following(self, resource_id, **_kwargs):
        yield LogLine("first", source=resource_id)
        await asyncio.Event().wait()  # a followed stream: no next line yet
        yield LogLine("never", source=resource_id)

    monkeypatch.setattr(MemoryBackend, "logs", following)
    s = await session(tmp_path, "alice", World())
    try:
        got = asyncio.Event()

        async def reader() -> None:
            async for _line in s.logs("staging", "aws/app/web", follow=True):
                got.set()

        task = asyncio.create_task(reader())
        await got.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        [entry] = await s.store.audit_entries()
        assert (entry["action"], entry["result"], entry["message"]) == ("read", "succeeded", "closed")
    finally:
        await s.close()


async def test_logs_of_an_id_outside_the_environment_are_refused(tmp_path):
    world = World()
    s = await session(tmp_path, "alice", world)
    try:
        for rid in ("aws/log-group//prod/db", "aws/app/prod-db", "kubernetes/Pod/x", "edge/node/gw-01"):
            with pytest.raises(PolicyDenied, match="not a resource of environment staging"):
                async for _ in s.logs("staging", rid):
                    pass
        entries = await s.store.audit_entries()
        assert [(e["action"], e["result"]) for e in entries] == [("logs", "denied")] * 4
    finally:
        await s.close()


async def test_observe_never_repairs(tmp_path):
    """`Session.observe` (what `envdeck status` runs) reports a drift in an `auto`
    environment but leaves it for the reconciler: no repair, no audit row."""
    config = parse_config("""
environments:
  staging:
    repair: auto
    access: {admin: [bob]}
    aws: {region: us-east-1, tags: {env: staging}}
""")
    world = World()
    world.replicas["web"] = 1
    s = await Session.open(config, tmp_path, origin=Origin.CLI, user="bob", backends_factory=memory_factory(world))
    try:
        await s.observe()
        assert [d.resource for d in s.reconciler.envs["staging"].all_drifts()] == ["aws/app/web"]
        assert world.repair_calls == 0 and world.replicas["web"] == 1
        assert await s.store.audit_entries() == []
    finally:
        await s.close()


async def test_a_resource_newer_than_the_last_pass_is_found_by_a_new_one(tmp_path):
    """Membership asks the inventory; a resource created after the last pass is not refused
    for that: one new pass finds it (and only one is made for an id that stays unknown)."""
    world = World()
    s = await session(tmp_path, "bob", world)
    try:
        await s.observe()
        world.replicas["worker"] = 1
        calls = world.observe_calls
        result = await s.act("staging", "aws/app/worker", "scale", {"replicas": "2"})
        assert result.ok and world.replicas["worker"] == 2 and world.observe_calls == calls + 1
        calls = world.observe_calls
        with pytest.raises(PolicyDenied, match="not a resource of environment staging"):
            await s.act("staging", "aws/app/nope", "restart")
        assert world.observe_calls == calls + 1
    finally:
        await s.close()
