"""The bytes held in unfinished watch lines are bounded for the whole process, not only per read
(backends/kubernetes/api.py WatchLineBudget): every watch streaming an endless line (the emulator's
`endless_watch_line` switch, a hostile proxy) together holds at most the budget; the watch whose
line would pass it is dropped and its kind relisted, with a WatchRelisting fault naming it at once."""

from __future__ import annotations

import asyncio

import pytest

from backends.kubernetes.api import MIB, KubeApi, WatchLineBudget, WatchLinesOverBudget
from backends.kubernetes.connection import load_connection
from tests.kubernetes.support import NS, by_id, eventually
from tui.core.config import KubernetesConfig

KINDS = ("pods", "configmaps", "services", "secrets")


async def test_endless_lines_on_many_watches_hold_at_most_the_shared_budget(emulator, kubeconfig):
    api = KubeApi(load_connection(KubernetesConfig(kubeconfig=str(kubeconfig), context="emulator", namespace=NS)),
                  5.0)
    budget = WatchLineBudget(limit=1 * MIB)  # each read alone may still grow to 16 MiB
    api.watch_line_budget = budget
    emulator.set_failure(endless_watch_line=True)

    async def watch(kind: str) -> None:
        async for _ in api.watch(f"/api/v1/namespaces/{NS}/{kind}", "1", timeout_s=30):
            pass

    try:
        outcomes = await asyncio.wait_for(asyncio.gather(*(watch(k) for k in KINDS), return_exceptions=True), 30)
        assert all(isinstance(o, WatchLinesOverBudget) for o in outcomes), outcomes
        for kind, outcome in zip(KINDS, outcomes, strict=True):
            assert str(outcome).startswith(f"watch /api/v1/namespaces/{NS}/{kind}: unfinished watch lines would "
                                           "hold more than 1 MiB across all watches"), outcome
        assert budget.peak <= budget.limit, (budget.peak, budget.limit)
        assert budget.held == 0, "every dropped watch gave its bytes back"
        assert budget.refused == len(KINDS)

        async def stopped() -> bool:  # the connections were dropped: the server's writes stop
            sent = emulator.failure.watch_lines_sent
            await asyncio.sleep(0.3)
            return sent == emulator.failure.watch_lines_sent
        await eventually(stopped, "the endless streams dropped")
        assert emulator.failure.watch_lines_sent < len(KINDS) * 16 * MIB, emulator.failure.watch_lines_sent
    finally:
        emulator.set_failure()
        await api.close()


async def test_a_watch_dropped_for_the_budget_is_named_at_once_and_relisted(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend()
    backend.metrics_interval_s = 3600.0
    watch = watching(backend)
    await watch.next(lambda o: "kubernetes/Deployment/web" in by_id(o), "web observed")
    backend.api.watch_line_budget = WatchLineBudget(limit=1 * MIB)
    emulator.set_failure(endless_watch_line=True)
    try:
        emulator.create_deployment(NS, "api", replicas=1)  # only a relist can bring it now

        def over_budget(obs) -> list:
            return [f for f in obs.faults if f.reason == "WatchRelisting" and "across all watches" in f.message]
        obs = await watch.next(lambda o: "kubernetes/Deployment/api" in by_id(o) and over_budget(o),
                               "api from a relist, a watch named as dropped for the budget")
        fault = over_budget(obs)[0]
        assert fault.message.startswith("watch of ") and "unfinished watch lines would hold more than 1 MiB" \
            in fault.message, fault.message
        assert not watch.task.done(), "a watch dropped for the budget is no outage"
        assert backend.api.watch_line_budget.peak <= 1 * MIB
    finally:
        emulator.set_failure()
    # once healed the fault goes as after any failed watch: test_hostile_watches.py (the same _delivered path)


@pytest.mark.parametrize("sizes", [(600_000, 300_000), (900_000,)])
def test_the_budget_refuses_only_growth_past_its_limit(sizes):
    budget = WatchLineBudget(limit=1_000_000)
    held = 0
    for size in sizes:
        assert budget.resize(0, size)
        held += size
    assert not budget.resize(0, 200_000), "past the limit"
    assert budget.held == held and budget.refused == 1
    assert budget.resize(sizes[0], 0) and budget.held == held - sizes[0], "shrinking is always allowed"
