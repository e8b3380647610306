"""Two reconcilers (two store connections, two holders) on one store, both engines (`any_store`):
the first to need a repair takes the lease and repairs, the other observes and says who leads; when
the lease is taken from the leader behind its back (it still trusts its local deadline), its next
repair is refused by the store (`Fenced`): the backend is not called, no audit row is written, and
the environment says it was fenced. The status bar shows another leader."""

from __future__ import annotations

import random
from datetime import timedelta

from tests.memory_backend import World, memory_factory
from tui.core.config import parse_config
from tui.core.model import now_utc
from tui.core.policy import Policy
from tui.core.reconciler import Reconciler
from tui.widgets.status_bar import leader_text

CONFIG = """
environments:
  staging:
    repair: auto
    aws: {region: us-east-1, tags: {env: staging}}
defaults: {interval: 30s, max_backoff: 2s}
"""


class _Palette:
    def style(self, *_a, **_k) -> str:
        return ""


async def _reconciler(any_store, world: World, holder: str):
    store = await any_store.open()
    cfg = parse_config(CONFIG)
    rec = Reconciler(cfg, store, Policy(cfg, "bob"), backends_factory=memory_factory(world), rng=random.Random(1))
    rec.leadership.holder = holder
    return rec, store


async def test_one_repairs_the_other_observes_and_a_stale_leader_is_fenced(any_store):
    world = World()
    a, store_a = await _reconciler(any_store, world, "alice@ops-1:11")
    b, store_b = await _reconciler(any_store, world, "bob@ops-2:22")
    try:
        world.replicas["web"] = 1
        await a.pass_once("staging", "aws")
        assert world.repair_calls == 1 and a.leadership.leads("staging")
        assert a.envs["staging"].to_json()["leader"] == "you"

        world.replicas["web"] = 1
        await b.pass_once("staging", "aws")
        assert world.repair_calls == 1  # b observed the drift, did not repair it
        shown = b.envs["staging"].to_json()
        assert shown["leader"] == "alice@ops-1:11" and shown["epoch"] == 1
        assert "env staging is led by alice@ops-1:11" in shown["lease_note"]
        assert "led by alice@ops-1" in leader_text(b.envs["staging"], _Palette()).plain
        assert leader_text(a.envs["staging"], _Palette()).plain == ""  # a single user sees nothing new

        # the lease moves to b while a still trusts it (a frozen process, clocks apart)
        taken = await store_b.acquire_lease("staging", "bob@ops-2:22", 15, now=now_utc() + timedelta(seconds=60))
        assert taken is not None and taken.epoch == 2
        rows = len(await store_a.audit_entries("staging"))
        await a.pass_once("staging", "aws")
        assert world.repair_calls == 1, "a fenced leader called the backend"
        assert len(await store_a.audit_entries("staging")) == rows
        assert not a.leadership.leads("staging")
        assert "fenced" in a.envs["staging"].lease_note and "epoch 1 is refused" in a.envs["staging"].lease_note
        assert leader_text(a.envs["staging"], _Palette()).plain.startswith("  not leading: fenced")
    finally:
        for rec, store in ((a, store_a), (b, store_b)):
            await rec.stop()
            await store.close()
