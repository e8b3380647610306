"""Retention (tui/core/retention.py): old metric samples and timeline rows are deleted from the
real store (SQLite and PostgreSQL), in batches, by the leader only; the audit trail stays."""

from __future__ import annotations

import random
from datetime import timedelta

from tests.memory_backend import World, memory_factory
from tui.core import retention
from tui.core.config import parse_config
from tui.core.model import TimelineEntry, now_utc
from tui.core.policy import Policy
from tui.core.reconciler import Reconciler

ENV = "staging"
CONFIG = """
environments:
  staging:
    repair: observe
    aws: {region: us-east-1, tags: {env: staging}}
state: {retention: {samples: 24h, gone_samples: 10m, timeline: 30d}}
"""


async def _count(store, table: str, where: str = "", args: tuple = ()) -> int:
    row = await store._db.fetchone(f"SELECT count(*) AS n FROM {table}" + (f" WHERE {where}" if where else ""), args)
    return int(row["n"])


async def test_old_rows_and_gone_resources_samples_are_pruned_audit_kept(any_store):
    store = await any_store.open()
    world = World()
    world.replicas.update({f"p{i}": 1 for i in range(5)})  # pods that will go
    config = parse_config(CONFIG)
    rec = Reconciler(config, store, Policy(config, "bob"), backends_factory=memory_factory(world),
                     rng=random.Random(1))
    try:
        now = now_utc()
        old, recent = now - timedelta(hours=25), now - timedelta(hours=1)
        rows = retention.BATCH_ROWS * 2 + 100  # three batches
        await store.add_samples(ENV, [("aws/app/web", "cpu", float(i)) for i in range(rows)], old)
        await store.add_samples(ENV, [("aws/app/web", "cpu", 1.0), ("aws/app/p0", "cpu", 2.0)], recent)
        await store.add_timeline(ENV, [TimelineEntry(now - timedelta(days=31), "aws/app/web", "event", "info",
                                                     "Old", "a month ago")] * 3)
        await store.add_timeline(ENV, [TimelineEntry(now - timedelta(days=2), "aws/app/web", "event", "info",
                                                     "Recent", "two days ago")])
        await store.audit_record(user="bob", env=ENV, target="aws/app/web", action="scale", params={},
                                 origin="cli", result="succeeded")
        await store._db.execute("UPDATE audit SET at = ?", ((now - timedelta(days=400)).isoformat(),))
        rec.retention.now = lambda: now

        # not the leader of the environment: nothing is deleted
        assert await rec.retention.prune_round(pause_s=0) == retention.PruneCounts()
        assert await _count(store, "metric_samples") == rows + 2

        rec.subscribe(rec.retention.observe)
        assert await rec.leadership.claim(ENV)  # as a running reconciler does
        await rec.pass_once(ENV, "aws")  # the pods' samples recorded now
        for i in range(5):
            del world.replicas[f"p{i}"]
        await rec.pass_once(ENV, "aws")  # the pods are gone
        assert rec.retention.gone_queued() == 5
        live_samples = await _count(store, "metric_samples", "at > ?", ((now - timedelta(hours=2)).isoformat(),))

        counts = await rec.retention.prune_round(pause_s=0)
        assert (counts.samples, counts.timeline, counts.gone_samples) == (rows, 3, 0)  # not gone for 10 min yet
        assert await _count(store, "metric_samples") == live_samples
        assert await _count(store, "timeline", "reason = ?", ("Old",)) == 0
        assert await _count(store, "timeline", "reason = ?", ("Recent",)) == 1
        assert await _count(store, "audit") == 1  # the record is never pruned

        rec.retention.now = lambda: now_utc() + timedelta(minutes=11)
        counts = await rec.retention.prune_round(pause_s=0)
        assert counts.gone_samples >= 6  # p0's recent one and each pod's observed one
        assert await _count(store, "metric_samples", "resource_id LIKE ?", ("aws/app/p%",)) == 0
        assert await _count(store, "metric_samples", "resource_id = ?", ("aws/app/web",)) >= 2  # live: kept
        assert rec.retention.gone_queued() == 0
    finally:
        await rec.stop()
        await store.close()


async def test_a_fenced_leader_prunes_nothing_and_stops_leading(any_store):
    store = await any_store.open()
    config = parse_config(CONFIG)
    rec = Reconciler(config, store, Policy(config, "bob"), backends_factory=memory_factory(World()),
                     rng=random.Random(1))
    try:
        now = now_utc()
        await store.add_samples(ENV, [("aws/app/web", "cpu", 1.0)] * 10, now - timedelta(days=2))
        assert await rec.leadership.claim(ENV)
        await store._db.execute("UPDATE leases SET epoch = epoch + 1, holder = ? WHERE env = ?", ("other", ENV))
        assert await rec.retention.prune_round(pause_s=0) == retention.PruneCounts()
        assert await _count(store, "metric_samples") == 10
        assert not rec.leadership.leads(ENV)
    finally:
        await rec.stop()
        await store.close()
