"""`Store.record_observation`: one observation's rows (snapshot, backend state, samples, drifts,
timeline) written in one transaction, on SQLite and a real PostgreSQL: the same rows as the
separate writes, and all or nothing when one of them fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tui.core.model import BackendState, DriftItem, Health, Resource, TimelineEntry, now_utc


def _resource(name: str) -> Resource:
    return Resource(id=f"kubernetes/Pod/{name}", backend="kubernetes", kind="Pod", name=name,
                    health=Health.HEALTHY, observed_at=now_utc())


async def test_one_transaction_writes_what_the_separate_writes_do(any_store):
    store = await any_store.open()
    try:
        at = now_utc()
        state = BackendState(name="kubernetes", reachable=True, observed_at=at, last_pass=at)
        drift = DriftItem("kubernetes/Deployment/web", "replicas", 3, 5)
        await store.record_observation(
            "prod", "kubernetes", upserts=[_resource("a"), _resource("b")], removed=[], full=False, state=state,
            samples=[("kubernetes/Pod/a", "cpu", 0.5)], samples_at=at, drifts=[drift], at=at,
            entries=[TimelineEntry(at, "kubernetes/Pod/a", "event", "info", "Started", "started", 1)])
        # the next observation: b gone, the drift resolved
        await store.record_observation(
            "prod", "kubernetes", upserts=[], removed=["kubernetes/Pod/b"], full=False, state=state,
            samples=[], samples_at=at, drifts=[], at=at + timedelta(seconds=1), entries=[])
        assert [r.id for r in (await store.load_snapshot("prod"))["kubernetes"]] == ["kubernetes/Pod/a"]
        assert (await store.load_backend_states("prod"))["kubernetes"].reachable is True
        assert [v for _, v in await store.samples("prod", "kubernetes/Pod/a", "cpu", at - timedelta(1))] == [0.5]
        assert await store.open_drifts("prod") == []
        assert [(t["resource"], t["reason"]) for t in await store.timeline("prod")] == [("kubernetes/Pod/a", "Started")]
    finally:
        await store.close()


async def test_a_failing_row_leaves_none_of_the_observation(any_store):
    store = await any_store.open()
    try:
        at = now_utc()
        state = BackendState(name="kubernetes", reachable=True, observed_at=at, last_pass=at)
        with pytest.raises(ValueError):  # a sample that is no number: after the snapshot rows were sent
            await store.record_observation(
                "prod", "kubernetes", upserts=[_resource("a")], removed=[], full=False, state=state,
                samples=[("kubernetes/Pod/a", "cpu", "not a number")], samples_at=at,  # type: ignore[list-item]
                drifts=[DriftItem("kubernetes/Deployment/web", "replicas", 3, 5)], at=at, entries=[])
        assert await store.load_snapshot("prod") == {}
        assert await store.load_backend_states("prod") == {}
        assert await store.open_drifts("prod") == []
        # the connection is usable afterwards
        await store.record_observation("prod", "kubernetes", upserts=[_resource("a")], removed=[], full=False,
                                       state=state, samples=[], samples_at=at, drifts=[], at=at, entries=[])
        assert list(await store.load_snapshot("prod")) == ["kubernetes"]
    finally:
        await store.close()


async def test_an_edge_backends_node_counts_are_stored_for_followers(any_store):
    """Scale tester, session 11: a follower showed `edge✓` while its leader showed `edge✗86/90` (the
    counts were not stored). The backend state keeps them; NULL for a backend of no hosts."""
    store = await any_store.open()
    try:
        at = now_utc()
        edge = BackendState(name="edge", reachable=True, observed_at=at, last_pass=at, nodes_total=90,
                            nodes_unreachable=86)
        await store.record_observation("prod", "edge", upserts=[], removed=[], full=False, state=edge,
                                       samples=[], samples_at=at, drifts=[], at=at, entries=[])
        await store.save_backend_state("prod", BackendState(name="kubernetes", reachable=True, observed_at=at))
        stored = await store.load_backend_states("prod")
        assert (stored["edge"].nodes_total, stored["edge"].nodes_unreachable) == (90, 86)
        assert stored["edge"].nodes_down() == (86, 90)
        assert (stored["kubernetes"].nodes_total, stored["kubernetes"].nodes_unreachable) == (None, None)
        assert stored["edge"].to_json()["nodes_unreachable"] == 86
    finally:
        await store.close()
