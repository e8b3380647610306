"""The lifecycle engine (tui/core/lifecycle/engine.py) against the in-memory provisioner
(tests/lifecycle/memory_provisioner.py, which counts what was really created): waves and
parallelism, health gating by fresh observation, timeouts, on_failure destroy, resume after a
crash at each point, destroy in reverse order with the sweep and orphans, sleep/wake, the
lease, edge claims, TTL expiry. The same engine on real servers: tests/lifecycle (helper C's
CLI tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.helpers import repo_root
from tests.lifecycle.memory_provisioner import Crash, FakeClock, MemoryWorld, managed_env
from tui.core.config import EdgeConfig, EdgeNode
from tui.core.errors import LifecycleFailed
from tui.core.lifecycle.engine import LeaseBusy, LifecycleEngine
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import EnvLifecycleState, Operation, StepSpec, StepState
from tui.core.lifecycle.template import EdgePoolConfig
from tui.core.store import Store

ENV = "pr-7"


def steps(timeout_s: float = 30.0) -> list[StepSpec]:
    """bucket, sg, ns in wave 0; web (needs sg and bucket) and deploy (needs ns) in wave 1."""
    return [StepSpec("bucket", "aws", "s3-bucket", {"name": "pr-7-assets"}, timeout_s=timeout_s),
            StepSpec("sg", "aws", "security-group", {"name": "pr-7-web"}, timeout_s=timeout_s),
            StepSpec("ns", "kubernetes", "Namespace", {"name": "pr-7"}, timeout_s=timeout_s),
            StepSpec("web", "aws", "ec2-instance", {"security_groups": ["{sg}"]}, depends_on=("sg", "bucket"),
                     timeout_s=timeout_s),
            StepSpec("deploy", "kubernetes", "Deployment", {"replicas": 2}, depends_on=("ns",),
                     timeout_s=timeout_s)]


class Harness:
    def __init__(self, store: Store, world: MemoryWorld, clock: FakeClock):
        self.store, self.world, self.clock = store, world, clock
        self.lstore = LifecycleStore(store)
        self.changes: list = []

    def engine(self, holder: str = "ann@test:1", **kw) -> LifecycleEngine:
        async def on_change(managed):
            self.changes.append(managed)

        return LifecycleEngine(self.store, self.lstore, self.world.factory, holder=holder, clock=self.clock,
                               on_change=kw.pop("on_change", on_change), poll=(0, 0), **kw)

    async def insert(self, name: str = ENV, step_list: list[StepSpec] | None = None, **kw) -> None:
        await self.lstore.insert(managed_env(name, step_list if step_list is not None else steps(), **kw),
                                 requested_by="ann", origin="cli")

    async def rows(self, name: str = ENV) -> dict[str, object]:
        return {r.id: r for r in await self.lstore.steps(name)}

    def calls(self, method: str) -> list[str]:
        return [key for m, key in self.world.calls if m == method]


@pytest.fixture
async def h(tmp_path):
    store = await Store.open(tmp_path)
    try:
        yield Harness(store, MemoryWorld(), FakeClock(tick_s=1.0))
    finally:
        await store.close()


def index(calls: list[tuple[str, str]], call: tuple[str, str], last: bool = False) -> int:
    found = [i for i, c in enumerate(calls) if c == call]
    assert found, f"{call} never happened"
    return found[-1] if last else found[0]


# -- create ---------------------------------------------------------------------------------------
async def test_create_runs_waves_in_order_with_parallel_steps(h):
    await h.insert()
    managed = await h.engine().drive(ENV)
    assert managed.state == EnvLifecycleState.READY and managed.operation is None
    assert dict(h.world.creates) == {"bucket": 1, "sg": 1, "ns": 1, "web": 1, "deploy": 1}
    calls = h.world.calls
    for dep, step in (("sg", "web"), ("bucket", "web"), ("ns", "deploy")):
        # the dependency was healthy before the dependent was created
        assert index(calls, ("health", dep)) < index(calls, ("create", step))
    assert h.world.max_running >= 2                    # a wave's steps overlapped
    things = {t.step: t for t in h.world.live(ENV)}
    assert things["web"].fields["security_groups"] == [things["sg"].native_id]   # {sg} resolved at start
    rows = await h.rows()
    assert all(r.state == StepState.HEALTHY and r.native_id and r.token for r in rows.values())
    assert {t.native_id for t in h.world.live(ENV)} == {r.native_id for r in rows.values()}
    audit = await h.store.audit_entries(ENV)
    created = {(a["target"], a["result"], a["user"], a["origin"]) for a in audit if a["action"] == "lifecycle.create"}
    assert created == {(f"{ENV}/{s}", "succeeded", "ann", "cli") for s in ("bucket", "sg", "ns", "web", "deploy")}
    timeline = await h.store.timeline(ENV)
    assert {"Created", "Healthy", "Ready"} <= {t["reason"] for t in timeline}
    assert h.changes and h.changes[-1].state == EnvLifecycleState.READY and len(h.changes[-1].steps) == 5


async def test_slow_health_is_polled_until_healthy(h):
    h.world.slow["deploy"] = 4
    await h.insert()
    assert (await h.engine().drive(ENV)).state == EnvLifecycleState.READY
    assert h.world.health_calls["deploy"] >= 5
    # while it waited, its row said why (the steps view's LAST MESSAGE)
    waiting = [next(r for r in m.steps if r.id == "deploy") for m in h.changes]
    assert {r.message for r in waiting if r.state == StepState.WAITING} >= {"starting"}


async def test_a_dependent_starts_on_its_dependencys_own_healthy_answer_asked_of_the_backend(h):
    """In one drive, sg's last health() (an answer of the backend, counted on the world) said
    Healthy: web starts on that answer, with no second health() of sg in between, and never
    before that answer."""
    await h.insert()
    assert (await h.engine().drive(ENV)).state == EnvLifecycleState.READY
    calls = h.world.calls
    for dep, step in (("sg", "web"), ("bucket", "web"), ("ns", "deploy")):
        asked = [i for i, c in enumerate(calls) if c == ("health", dep)]
        assert len(asked) == 1 and asked[0] < index(calls, ("find", step)), (dep, calls)


async def test_a_dependency_found_healthy_in_the_store_is_checked_fresh_when_the_step_starts(h):
    """A resumed create: sg's row says healthy (the first run died after it); then sg breaks.
    web must not start on the row's word."""
    h.world.crash_at.add(("create-before", "web"))
    await h.insert()
    with pytest.raises(Crash):
        await h.engine(holder="ann@test:1").drive(ENV)
    assert (await h.rows())["sg"].state == StepState.HEALTHY
    h.world.terminal["sg"] = "security group deleted outside envdeck"
    asked = h.world.health_calls["sg"]
    with pytest.raises(LifecycleFailed) as failed:
        await h.engine(holder="ann@test:2").drive(ENV)
    assert failed.value.step == "web" and "sg is not healthy: security group deleted" in failed.value.reason
    assert h.world.health_calls["sg"] == asked + 1
    assert h.world.creates["web"] == 0
    managed = await h.lstore.get(ENV)
    assert managed.state == EnvLifecycleState.FAILED and managed.step == "web"


async def test_a_step_that_never_becomes_healthy_times_out_with_its_reason(h):
    h.world.never["deploy"] = "0/2 replicas available"
    await h.insert(step_list=steps(timeout_s=5))
    with pytest.raises(LifecycleFailed) as failed:
        await h.engine().drive(ENV)
    assert failed.value.step == "deploy"
    assert "not healthy after 5s: 0/2 replicas available" in failed.value.reason
    managed = await h.lstore.get(ENV)
    assert (managed.state, managed.step, managed.operation) == (EnvLifecycleState.FAILED, "deploy", None)
    assert "0/2 replicas available" in managed.reason
    assert (await h.rows())["deploy"].state == StepState.FAILED
    failed_rows = [a for a in await h.store.audit_entries(ENV) if a["result"] == "failed"]
    assert [a["target"] for a in failed_rows] == [f"{ENV}/deploy"]


async def test_a_terminal_answer_fails_at_once(h):
    h.world.terminal["ns"] = "namespace is terminating"
    await h.insert()
    with pytest.raises(LifecycleFailed, match="namespace is terminating"):
        await h.engine().drive(ENV)
    assert h.world.health_calls["ns"] == 1 and h.world.creates["deploy"] == 0


async def test_on_failure_destroy_tears_it_down(h):
    h.world.terminal["deploy"] = "ImagePullBackOff"
    await h.insert(on_failure="destroy")
    with pytest.raises(LifecycleFailed, match="ImagePullBackOff"):
        await h.engine().drive(ENV)
    managed = await h.lstore.get(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED and managed.operation is None
    assert managed.step == "deploy" and "ImagePullBackOff" in managed.reason
    assert h.world.live(ENV) == [] and managed.orphans == []


async def test_a_refused_create_fails_the_step_with_the_backend_reason(h):
    h.world.refuse["bucket"] = "BucketAlreadyExists: pr-7-assets is taken"
    await h.insert()
    with pytest.raises(LifecycleFailed) as failed:
        await h.engine().drive(ENV)
    assert (failed.value.step, failed.value.reason) == ("bucket", "BucketAlreadyExists: pr-7-assets is taken")
    assert h.world.creates["web"] == 0
    managed = await h.lstore.get(ENV)
    assert (managed.state, managed.step) == (EnvLifecycleState.FAILED, "bucket")


async def test_a_backend_without_a_provisioner_fails_its_step(h):
    from tui.core.errors import InvalidRequest

    def factory(backend, env, config, template):
        if backend == "kubernetes":
            raise InvalidRequest("this envdeck was started without provisioners", backend=backend)
        return h.world.factory(backend, env, config, template)

    await h.insert()
    engine = LifecycleEngine(h.store, h.lstore, factory, holder="ann@test:1", clock=h.clock, poll=(0, 0))
    with pytest.raises(LifecycleFailed, match="ns.*without provisioners"):
        await engine.drive(ENV)
    await h.lstore.request(ENV, Operation.DESTROY, "ann", "cli")
    managed = await engine.drive(ENV)         # the aws steps go; the kubernetes sweep is an orphan
    assert managed.state == EnvLifecycleState.DESTROYED
    assert [(o.backend, o.resource) for o in managed.orphans] == [("kubernetes", "*")]
    assert [t for t in h.world.live(ENV) if t.backend == "aws"] == []


async def test_a_plan_the_engine_cannot_order_fails_at_step_plan(h):
    circle = [StepSpec("a", "aws", "s3-bucket", {}, depends_on=("b",)),
              StepSpec("b", "aws", "s3-bucket", {}, depends_on=("a",))]
    await h.insert(step_list=circle)
    with pytest.raises(LifecycleFailed) as failed:
        await h.engine().drive(ENV)
    assert failed.value.step == "plan" and "circle" in failed.value.reason
    assert h.world.calls == []
    await h.lstore.request(ENV, Operation.DESTROY, "ann", "cli")
    assert (await h.engine().drive(ENV)).state == EnvLifecycleState.DESTROYED


# -- resume -------------------------------------------------------------------------------------
@pytest.mark.parametrize("point", [("create-before", "web"), ("create-after", "web"), ("create-after", "ns"),
                                   ("health", "web"), ("health", "deploy")])
async def test_create_resumes_after_a_crash_with_no_duplicate(h, point):
    h.world.crash_at.add(point)
    await h.insert()
    with pytest.raises(Crash):
        await h.engine(holder="ann@test:1").drive(ENV)
    assert (await h.lstore.get(ENV)).state == EnvLifecycleState.PROVISIONING
    managed = await h.engine(holder="ann@test:2").drive(ENV)        # a fresh process
    assert managed.state == EnvLifecycleState.READY
    assert set(h.world.creates.values()) == {1}, h.world.creates       # counted on the "server"
    assert {t.native_id for t in h.world.live(ENV)} == {r.native_id for r in managed.steps}
    if point[0] == "create-after":
        assert ("find", point[1]) in h.world.calls[index(h.world.calls, ("create", point[1]), last=True):]


@pytest.mark.parametrize("point", [("delete-after", "web"), ("delete-after", "ns"), ("sweep", "aws"),
                                   ("sweep", "kubernetes")])
async def test_destroy_resumes_after_a_crash_with_no_orphan(h, point):
    await h.insert()
    await h.engine().drive(ENV)
    await h.lstore.request(ENV, Operation.DESTROY, "ann", "cli")
    h.world.crash_at.add(point)
    with pytest.raises(Crash):
        await h.engine(holder="ann@test:1").drive(ENV)
    assert (await h.lstore.get(ENV)).state == EnvLifecycleState.DESTROYING
    managed = await h.engine(holder="ann@test:2").drive(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED and managed.orphans == []
    assert h.world.live(ENV) == []
    assert all(r.state == StepState.DELETED for r in managed.steps)


async def test_a_crash_right_after_create_is_destroyed_by_adoption(h):
    """Killed between create and its row; destroy (not create) comes next: find() adopts it."""
    h.world.crash_at.add(("create-after", "bucket"))
    await h.insert()
    with pytest.raises(Crash):
        await h.engine().drive(ENV)
    assert (await h.rows())["bucket"].native_id is None
    await h.lstore.request(ENV, Operation.DESTROY, "ann", "cli")
    managed = await h.engine(holder="ann@test:2").drive(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED and h.world.live(ENV) == []


# -- destroy ----------------------------------------------------------------------------------------
async def test_destroy_goes_in_reverse_order_then_sweeps_and_lists_orphans(h):
    await h.insert()
    await h.engine().drive(ENV)
    # more things of this environment's (instance, step) marks (a crash window's duplicates), one of
    # them envdeck may not delete; and one merely carrying its name (left alone, never deleted)
    from tests.lifecycle.memory_provisioner import Thing
    instance = (await h.lstore.require(ENV)).instance
    h.world.things["stray-1"] = Thing(ENV, "bucket", "aws", "s3-bucket", {}, "stray-1", instance=instance)
    h.world.things["stray-2"] = Thing(ENV, "bucket", "aws", "s3-bucket", {}, "stray-2", instance=instance)
    h.world.things["manual"] = Thing(ENV, "manual", "aws", "s3-bucket", {}, "manual", instance=instance)
    h.world.stuck["stray-2"] = "AccessDenied: bucket policy forbids deletion"
    h.world.slow_gone["web"] = 3
    await h.lstore.request(ENV, Operation.DESTROY, "bob", "tui")
    managed = await h.engine().drive(ENV)
    calls = h.world.calls
    for later, earlier in (("web", "sg"), ("web", "bucket"), ("deploy", "ns")):
        # the dependent is gone before what it depends on is deleted
        assert index(calls, ("gone", later), last=True) < index(calls, ("delete", earlier))
    assert index(calls, ("delete", "bucket")) < index(calls, ("sweep", "aws"))
    assert managed.state == EnvLifecycleState.DESTROYED
    assert [(o.backend, o.resource) for o in managed.orphans] == [("aws", "arn:stray-2")]
    assert "AccessDenied" in managed.orphans[0].reason
    assert sorted(t.native_id for t in h.world.live(ENV)) == ["manual", "stray-2"]
    assert managed.reason == "1 orphan(s) left"
    destroyed = [a for a in await h.store.audit_entries(ENV) if a["action"] == "lifecycle.destroy"]
    assert {a["user"] for a in destroyed} == {"bob"} and f"{ENV}/sweep:aws" in {a["target"] for a in destroyed}
    swept = next(a for a in destroyed if a["target"] == f"{ENV}/sweep:aws")["message"]
    assert "s3-bucket arn:stray-1" in swept and "left alone: s3-bucket arn:manual" in swept
    # destroying it again sweeps again: the orphan goes once it can be deleted; "manual" stays
    del h.world.stuck["stray-2"]
    await h.lstore.request(ENV, Operation.DESTROY, "bob", "tui")
    managed = await h.engine().drive(ENV)
    assert managed.orphans == [] and [t.native_id for t in h.world.live(ENV)] == ["manual"]


async def test_a_deletion_that_never_finishes_is_an_orphan(h):
    await h.insert(step_list=steps(timeout_s=4))
    await h.engine().drive(ENV)
    h.world.never_gone.add("deploy")
    await h.lstore.request(ENV, Operation.DESTROY, "ann", "cli")
    managed = await h.engine().drive(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED
    orphan = {o.resource: o.reason for o in managed.orphans}
    deploy_id = next(r.native_id for r in managed.steps if r.id == "deploy")
    assert "still there 4s after deletion" in orphan[deploy_id]


# -- sleep and wake -------------------------------------------------------------------------------
async def test_sleep_and_wake_restore_what_was_scaled_down(h):
    await h.insert()
    await h.engine().drive(ENV)
    deploy = next(t for t in h.world.live(ENV) if t.step == "deploy")
    deploy.replicas = 3
    await h.lstore.request(ENV, Operation.SLEEP, "ann", "cli")
    managed = await h.engine().drive(ENV)
    assert managed.state == EnvLifecycleState.SLEEPING
    assert {t.replicas for t in h.world.live(ENV)} == {0}
    memory = await h.lstore.sleep_memory(ENV)
    assert set(memory) == {"aws", "kubernetes"} and {"replicas": 3} in memory["kubernetes"].values()
    await h.lstore.request(ENV, Operation.WAKE, "ann", "cli")
    managed = await h.engine().drive(ENV)
    assert managed.state == EnvLifecycleState.READY and deploy.replicas == 3
    assert await h.lstore.sleep_memory(ENV) == {}
    woke = [a for a in await h.store.audit_entries(ENV) if a["action"] == "lifecycle.wake"]
    assert {a["target"] for a in woke} >= {f"{ENV}/aws", f"{ENV}/deploy"}


async def test_a_crash_mid_sleep_keeps_the_memory_already_saved(h):
    await h.insert()
    await h.engine().drive(ENV)
    await h.lstore.request(ENV, Operation.SLEEP, "ann", "cli")
    h.world.crash_at.add(("sleep-after", "kubernetes"))      # aws slept and saved, kubernetes not yet
    with pytest.raises(Crash):
        await h.engine().drive(ENV)
    assert set(await h.lstore.sleep_memory(ENV)) == {"aws"}
    assert (await h.engine(holder="ann@test:2").drive(ENV)).state == EnvLifecycleState.SLEEPING
    assert h.calls("sleep").count("aws") == 1                 # not slept again (its memory would be zeros)
    await h.lstore.request(ENV, Operation.WAKE, "ann", "cli")
    await h.engine().drive(ENV)
    assert {t.replicas for t in h.world.live(ENV) if t.backend == "aws"} == {2}


# -- lease ------------------------------------------------------------------------------------------
async def test_a_second_holder_gets_lease_busy_until_the_lease_expires(h):
    await h.insert()
    assert await h.lstore.take_lease(ENV, "bob@elsewhere:42", 60, now=h.clock.now) is None
    with pytest.raises(LeaseBusy, match="bob@elsewhere:42"):
        await h.engine().drive(ENV)
    assert h.world.calls == []
    h.clock.advance(61)
    assert (await h.engine().drive(ENV)).state == EnvLifecycleState.READY
    assert (await h.lstore.take_lease(ENV, "cy@x:1", 60, now=h.clock.now)) is None   # released at the end


async def test_the_lease_of_a_dead_process_of_this_host_is_taken_at_once(h):
    await h.insert()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = f"ann@{socket.gethostname()}:{int(gone.stdout)}"
    assert await h.lstore.take_lease(ENV, dead, 600, now=h.clock.now) is None
    assert (await h.engine(holder=f"ann@{socket.gethostname()}:{os.getpid()}").drive(ENV)).state == \
        EnvLifecycleState.READY


HOLD_LEASE = """
import asyncio, sys
from tui.core.store import Store
from tui.core.lifecycle.engine import default_holder
from tui.core.lifecycle.lifecycle_store import LifecycleStore

async def main():
    store = await Store.open(sys.argv[1])
    busy = await LifecycleStore(store).take_lease(sys.argv[2], default_holder(), 3600)
    print(default_holder() if busy is None else "BUSY " + busy, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_lease_held_by_another_process_is_busy_until_that_process_is_killed(h, tmp_path):
    """A real second process holds the lease: LeaseBusy names it; SIGKILLed, its lease is
    taken at once (no waiting for the hour it took)."""
    import asyncio

    await h.insert()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", HOLD_LEASE, str(tmp_path), ENV,
                                                stdout=subprocess.PIPE, cwd=repo_root())
    try:
        holder = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        assert holder.endswith(f":{proc.pid}"), holder
        engine = h.engine(holder=f"ann@{socket.gethostname()}:{os.getpid()}")
        with pytest.raises(LeaseBusy, match=holder):
            await engine.drive(ENV)
        assert h.world.calls == []
    finally:
        proc.kill()
        await proc.wait()
    assert (await engine.drive(ENV)).state == EnvLifecycleState.READY


async def test_one_engine_does_not_drive_one_environment_twice_at_once(h):
    import asyncio

    h.world.slow["deploy"] = 50
    await h.insert()
    engine = h.engine()
    results = await asyncio.gather(engine.drive(ENV), engine.drive(ENV), return_exceptions=True)
    assert sum(isinstance(r, LeaseBusy) for r in results) == 1
    assert set(h.world.creates.values()) == {1}


async def test_a_lease_taken_over_while_driving_stops_the_engine(h):
    """The renewal finds the lease is somebody else's (e.g. ours expired while the loop was
    blocked): the engine stops instead of driving beside the new holder."""
    async def on_change(managed):
        rows = {r.id: r for r in managed.steps}
        if rows["ns"].state == StepState.HEALTHY and not h.changes:
            h.changes.append("taken")
            assert await h.lstore.take_lease(ENV, "bob@elsewhere:1", 60, now=h.clock.now + timedelta(hours=1)) \
                is None

    h.world.slow["deploy"] = 10 ** 9
    await h.insert(step_list=steps(timeout_s=10 ** 9))
    with pytest.raises(LeaseBusy, match="taken over"):
        await h.engine(on_change=on_change, lease_s=3).drive(ENV)   # renewed every second
    assert "bob@elsewhere:1" in await h.lstore.take_lease(ENV, "cy@x:1", 60, now=h.clock.now)


# -- edge claims and TTL ---------------------------------------------------------------------------
async def test_edge_step_claims_distinct_nodes_and_releases_them(h):
    """The step as render makes it (pool, count, services); the nodes come from the config's
    edge_pools handed to the engine."""
    pools = {"gateways": EdgePoolConfig(nodes=[EdgeNode(name="gw-1", host="10.0.0.1"),
                                               EdgeNode(name="gw-2", host="10.0.0.2")])}
    edge = [StepSpec("edge", "edge", "edge-claim", {"pool": "gateways", "count": 1, "services": ["nginx"]})]
    seen = []
    factory = h.world.factory

    def recording(backend, env, config, template):
        seen.append((env, config))
        return factory(backend, env, config, template)

    h.world.factory = recording
    await h.insert("e1", edge, environment={"edge": {"nodes": []}})
    await h.insert("e2", edge, environment={"edge": {"nodes": []}})
    await h.engine(edge_pools=pools).drive("e1")
    await h.engine(edge_pools=lambda: pools).drive("e2")
    claims = {c.env: c.node for c in await h.lstore.claims(pool="gateways")}
    assert sorted(claims.values()) == ["gw-1", "gw-2"]
    e1 = await h.lstore.get("e1")
    [node] = e1.spec.environment["edge"]["nodes"]
    assert (node["name"], node["services"]) == (claims["e1"], ["nginx"])
    assert EdgeConfig.model_validate(e1.spec.environment["edge"]).nodes[0].name == claims["e1"]
    assert ("e1", e1.spec.environment["edge"]) in seen        # the provisioner got the claimed nodes
    await h.lstore.request("e1", Operation.DESTROY, "ann", "cli")
    await h.engine(edge_pools=pools).drive("e1")
    assert [c.env for c in await h.lstore.claims(pool="gateways")] == ["e2"]
    # a third environment finds the pool empty: failed, naming the pool
    await h.insert("e3", edge, environment={"edge": {"nodes": []}})
    await h.lstore.claim_nodes("gateways", "other", 1, ["gw-1"])
    with pytest.raises(LifecycleFailed, match="edge pool gateways: 0 free node"):
        await h.engine(edge_pools=pools).drive("e3")


async def test_an_edge_step_crashed_before_its_row_is_stopped_on_its_claimed_nodes(h):
    """Killed after the services were started and before the row kept the nodes: the edge
    provisioner's find() adopts only nodes running every service, so destroy takes the nodes
    from the claims in the store and stops them, instead of releasing the claim and leaving
    services running."""
    pools = {"gateways": EdgePoolConfig(nodes=[EdgeNode(name="gw-1", host="10.0.0.1")])}
    edge = [StepSpec("edge", "edge", "edge-claim", {"pool": "gateways", "count": 1, "services": ["nginx"]})]
    h.world.unfindable.add("edge")
    h.world.sweepless.add("edge")          # as the edge provisioner: the claims live in the store
    h.world.crash_at.add(("create-after", "edge"))
    await h.insert("e1", edge, environment={"edge": {"nodes": []}})
    with pytest.raises(Crash):
        await h.engine(edge_pools=pools).drive("e1")
    assert [t.native_id for t in h.world.live("e1")] == ["gw-1"]
    await h.lstore.request("e1", Operation.DESTROY, "ann", "cli")
    managed = await h.engine(holder="ann@test:2", edge_pools=pools).drive("e1")
    assert managed.state == EnvLifecycleState.DESTROYED and managed.orphans == []
    assert h.world.live("e1") == []                     # stopped on the node, not only released
    assert await h.lstore.claims("e1") == []


async def test_ttl_expiry_requests_destroy_with_origin_ttl(h):
    await h.insert(ttl_s=3600)
    managed = await h.engine().drive(ENV)
    assert managed.expires_at == managed.created_at + timedelta(seconds=3600)
    engine = h.engine()
    h.clock.now = managed.expires_at - timedelta(seconds=30)
    h.clock.tick = timedelta(0)
    assert await engine.expire_due() == []
    h.clock.advance(31)
    assert await engine.expire_due() == [ENV]
    assert await engine.expire_due() == []                       # requested once
    managed = await h.lstore.get(ENV)
    assert (managed.operation, managed.requested_by, managed.requested_origin) == (Operation.DESTROY, "envdeck", "ttl")
    assert (await engine.drive(ENV)).state == EnvLifecycleState.DESTROYED
    destroyed = [a for a in await h.store.audit_entries(ENV) if a["action"] == "lifecycle.destroy"]
    assert destroyed and {(a["user"], a["origin"]) for a in destroyed} == {("envdeck", "ttl")}


async def test_destroy_requested_before_the_first_step_starts_none_and_is_carried_out_next(h):
    seen = []

    async def on_change(managed):
        seen.append((managed.state, managed.operation))
        if managed.state == EnvLifecycleState.PROVISIONING and managed.operation == Operation.CREATE:
            await h.lstore.request(ENV, Operation.DESTROY, "bob", "cli")

    await h.insert()
    managed = await h.engine(on_change=on_change).drive(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED and managed.operation is None
    assert sum(h.world.creates.values()) == 0 and h.calls("find") == []
    # the create stopped there: it was not begun again (no second `provisioning`) before the destroy
    assert [st for st, _ in seen].count(EnvLifecycleState.PROVISIONING) == 1, seen


async def test_destroy_requested_while_creating_is_carried_out_next(h):
    async def on_change(managed):
        rows = {r.id: r for r in managed.steps}
        # ns created, not healthy yet (deploy, which waits for it, starts with ns's `healthy` row)
        if rows["ns"].state == StepState.WAITING and managed.operation == Operation.CREATE:
            await h.lstore.request(ENV, Operation.DESTROY, "bob", "cli")

    await h.insert()
    managed = await h.engine(on_change=on_change).drive(ENV)
    assert managed.state == EnvLifecycleState.DESTROYED and h.world.live(ENV) == []
    # deploy (after ns) asked after the request: not started, and no audit row of one
    assert h.world.creates["deploy"] == 0 and ("find", "deploy") not in h.world.calls
    created = {a["target"] for a in await h.store.audit_entries(ENV) if a["action"] == "lifecycle.create"}
    assert f"{ENV}/deploy" not in created and f"{ENV}/ns" in created, created
