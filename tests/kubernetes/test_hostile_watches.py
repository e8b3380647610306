"""Watches from a server (or a proxy in front of it) that never behaves: an endless line without a
newline, and an ERROR 504/410 answered to every watch for ever. The emulator's fault switches play
that server; what envdeck sends is counted on the emulator's side."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from backends.kubernetes.api import MIB, KubeApi, WatchEventTooLong
from backends.kubernetes.connection import load_connection
from tests.kubernetes.support import NS, by_id, eventually, list_requests
from tui.core.config import KubernetesConfig

WINDOW_S = 4.0


def _relisting(obs) -> list:
    return [f for f in obs.faults if f.reason == "WatchRelisting"]


async def _observed(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend()
    backend.metrics_interval_s = 3600.0
    watch = watching(backend)
    await watch.next(lambda o: "kubernetes/Deployment/web" in by_id(o), "web observed")
    return backend, watch


async def test_a_watch_line_without_end_is_refused_at_its_limit(emulator, kubeconfig):
    connection = load_connection(KubernetesConfig(kubeconfig=str(kubeconfig), context="emulator", namespace=NS))
    api = KubeApi(connection, 5.0)
    api.watch_line_max = 1 * MIB
    emulator.set_failure(endless_watch_line=True)
    try:
        with pytest.raises(WatchEventTooLong) as caught:
            async for _ in api.watch(f"/api/v1/namespaces/{NS}/pods", "1", timeout_s=30):
                pass
        assert "an event from the API server longer than 1 MiB; ignored, relisting" in str(caught.value)
        assert str(caught.value).startswith(f"watch /api/v1/namespaces/{NS}/pods: ")

        async def stopped() -> bool:  # the connection was dropped: the server's writes stop
            sent = emulator.failure.watch_lines_sent
            await asyncio.sleep(0.3)
            return sent == emulator.failure.watch_lines_sent
        await eventually(stopped, "the endless stream dropped")
        # what the server managed to push: the 1 MiB read, plus what the sockets' buffers held
        assert emulator.failure.watch_lines_sent < 64 * MIB, emulator.failure.watch_lines_sent
    finally:
        emulator.set_failure()
        await api.close()


def _deployments_relisting(obs):
    return [f for f in _relisting(obs) if f.resource == "kubernetes/Deployment"]


async def test_an_endless_watch_line_relists_with_backoff_and_the_rows_stay_fresh(emulator, make_backend, watching):
    backend, watch = await _observed(emulator, make_backend, watching)
    backend.api.watch_line_max = 1 * MIB
    emulator.bookmark_interval_s = 0.5  # once healed, a bookmark soon tells every informer watches deliver
    deployments = next(i for i in backend.inventory.informers if i.spec.kind == "Deployment")
    emulator.set_failure(endless_watch_line=True)  # every watch: 200, then "AAAA..." with no newline
    try:
        emulator.create_deployment(NS, "api", replicas=1)  # only a relist can bring it now
        # the fault comes with a kind's second failure in a row (the first only relists, which
        # brings api): wait for Deployment's own, not any kind's that failed twice sooner
        obs = await watch.next(lambda o: "kubernetes/Deployment/api" in by_id(o) and _deployments_relisting(o),
                               "api from a relist, and the Deployments' watch shown as failing")
        fault = _deployments_relisting(obs)[0]
        assert fault.message.startswith("watch of deployments.apps: an event from the API server longer "
                                        "than 1 MiB; relisting every "), fault.message
        assert deployments.failed_in_a_row >= 2
        assert not watch.task.done(), "an endless line is no outage"
    finally:
        emulator.set_failure()
    emulator.create_deployment(NS, "worker", replicas=1)
    obs = await watch.next(lambda o: "kubernetes/Deployment/worker" in by_id(o) and not _relisting(o),
                           "watches deliver again once healed, the fault gone")
    assert deployments.failed_in_a_row == 0 and not deployments.degraded


@pytest.mark.parametrize("code", [504, 410])
async def test_a_watch_error_for_ever_relists_with_backoff_not_in_a_loop(emulator, make_backend, watching, code):
    backend, watch = await _observed(emulator, make_backend, watching)
    emulator.bookmark_interval_s = 0.5  # once healed, a bookmark soon tells the informers watches deliver
    inv = backend.inventory
    kinds = [i for i in inv.informers if not i.disabled]
    deployment_informer = next(i for i in kinds if i.spec.kind == "Deployment")
    before = Counter(p.split("?", 1)[0] for p in list_requests(emulator) if "continue=" not in p)
    emulator.set_failure(watch_error=code)  # every watch: 200 + one ERROR event, at once, for ever
    started = time.monotonic()
    try:
        if code == 504:  # (the 410 variant checks only what is shown: the same backoff, a shorter test)
            await asyncio.sleep(WINDOW_S)
            elapsed = time.monotonic() - started
            lists = Counter(p.split("?", 1)[0] for p in list_requests(emulator) if "continue=" not in p) - before
            deployments = lists[f"/apis/apps/v1/namespaces/{NS}/deployments"]
            # Relists at once, then after 2 s, 4 s, 8 s (x0.8-1.2): within 4 s at most 2 of one kind
            # (a load can only make fewer); relisting once a second, as before, made 4-5.
            bound = 2 + int(elapsed > 1.6 + 3.2)
            assert 1 <= deployments <= bound, (elapsed, lists)
            assert max(lists.values()) <= bound, (elapsed, lists)
            assert sum(lists.values()) <= bound * len(kinds), (elapsed, lists)
        word = "504 Too large resource version" if code == 504 else "410 Gone (too old resource version)"
        obs = await watch.next(lambda o: any(f.resource == "kubernetes/Deployment" for f in _relisting(o)),
                               "the failing watches shown")
        fault = next(f for f in _relisting(obs) if f.resource == "kubernetes/Deployment")
        assert fault.message.startswith(f"watch of deployments.apps: the API server keeps answering {word}; "
                                        "relisting every "), fault.message
        assert not watch.task.done(), "a watch error for ever is no outage"
    finally:
        emulator.set_failure()
    if code == 410:  # (once is enough: the 504 variant's informers sleep longer, up to 4.8 s)
        await watch.next(lambda o: not _relisting(o), "the fault gone once a watch delivers again")
        assert deployment_informer.failed_in_a_row == 0 and deployment_informer.degraded == ""
