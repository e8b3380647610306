"""A frozen API server behind open watches (its process stopped, a network that drops packets
while the TCP connections stay open): the watches say nothing, as on a quiet namespace. The
backend's liveness probe (`GET /version` every `liveness_interval_s`, backends/kubernetes/
liveness.py) notices: it reports the answer overdue while frozen, fresh again once thawed, and
the change made meanwhile arrives through the watches; no answer for the hung-server bound ends
watch() with BackendUnreachable. The emulator's freeze() keeps connections open and answers
nothing (no event, no bookmark, no end of a watch) while its state still changes."""

from __future__ import annotations

from datetime import datetime

from tests.kubernetes.support import NS, eventually, now, watched_prod
from tui.core.errors import BackendUnreachable


def _names(obs, kind: str) -> set[str]:
    return {r.name for r in obs.resources if r.kind == kind}


def _probes(emulator) -> int:
    return sum(1 for method, path in list(emulator.request_log) if method == "GET" and path == "/version")


async def test_a_frozen_api_server_reads_overdue_and_fresh_again_once_thawed(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend()
    backend.metrics_interval_s = 3600.0
    backend.liveness_interval_s = 0.3
    reports: list[datetime | None] = []
    backend.report_answer_due = reports.append
    watch = watching(backend)
    await watch.next(lambda o: "web" in _names(o, "Deployment"), "the deployment")
    await eventually(lambda: now(_probes(emulator) >= 2), "the probe to have been answered twice")
    assert backend.answer_due is None
    lists_before = backend.inventory.informers[0].lists

    emulator.freeze()
    await eventually(lambda: now(backend.answer_due is not None), "the answer reported overdue")
    assert reports == [backend.answer_due], reports
    assert backend.liveness is not None and backend.liveness.late
    emulator.create_configmap(NS, "made-while-frozen", {"k": "v"})  # the cluster goes on changing

    emulator.thaw()
    obs = await watch.next(lambda o: "made-while-frozen" in _names(o, "ConfigMap"), "the change made while frozen")
    assert "web" in _names(obs, "Deployment")
    await eventually(lambda: now(backend.answer_due is None), "the server reported answering again")
    assert reports[-1] is None and len(reports) == 2, reports
    # the watches resumed from their resourceVersion: no probe made the inventory list again
    assert backend.inventory.informers[0].lists == lists_before


async def test_a_server_frozen_past_the_bound_ends_the_watch_unreachable(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend(timeout=1)
    backend.silence_floor_s = 2.0  # the hung-server bound: max(3 x timeout, this) = 3 s
    backend.metrics_interval_s = 3600.0
    backend.liveness_interval_s = 0.3
    watch = watching(backend)
    await watch.next(lambda o: "web" in _names(o, "Deployment"), "the deployment")

    emulator.freeze()
    error = await watch.error()
    assert isinstance(error, BackendUnreachable), repr(error)
    assert "has not answered" in str(error), str(error)  # the probe, before the watches notice
    assert backend.liveness is not None and backend.liveness.late
    emulator.create_configmap(NS, "made-while-frozen", {"k": "v"})

    emulator.thaw()  # the reconciler watches again after its backoff: so does this test
    again = watching(backend)
    obs = await again.next(lambda o: "made-while-frozen" in _names(o, "ConfigMap"), "the change made while frozen")
    assert "web" in _names(obs, "Deployment")
    assert backend.answer_due is None


async def test_the_reconciler_shows_a_frozen_server_overdue_then_unreachable_on_the_timeline(
        emulator, kubeconfig, tmp_path, monkeypatch):
    """Through the session the TUI reads: overdue (a polled backend's late pass: not `watching`,
    `next_pass` the answer's due time, still reachable), then unreachable with a timeline entry
    naming the unanswered probe; thawed, reachable and watching again with the change made meanwhile."""
    async with watched_prod(emulator, kubeconfig, tmp_path, monkeypatch) as (session, env, state):
        overdue: list[tuple[bool, bool | None]] = []
        session.reconciler.subscribe(lambda change: overdue.append((state.watching, state.reachable))
                                     if not state.watching and state.reachable else None)

        emulator.freeze()
        await eventually(lambda: now(state.reachable is False), "unreachable")
        assert overdue, "never shown overdue before unreachable"

        async def unreachable_on_the_timeline():
            return [t for t in await session.store.timeline("prod")
                    if t.get("reason") == "Unreachable" and "has not answered" in str(t.get("message"))]
        await eventually(unreachable_on_the_timeline, "the timeline entry naming the unanswered probe")
        emulator.create_configmap(NS, "made-while-frozen", {"k": "v"})

        emulator.thaw()
        await eventually(lambda: now(state.reachable and state.watching
                                        and env.resource("kubernetes/ConfigMap/made-while-frozen")),
                         "reachable and watching again, with the change made while frozen")
