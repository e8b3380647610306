"""watch() under server faults that do not look like an outage: every watch
answered `410 Gone` (changes must still be published, from the relists), and
an API server that hangs (it must be noticed, not waited on for minutes)."""

from __future__ import annotations

import pytest

from tests.kubernetes.support import NS, WAIT_S, by_id, eventually, list_requests
from tui.core.errors import BackendUnreachable

API = "kubernetes/Deployment/api"


async def test_changes_are_published_while_every_watch_gets_410(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=1)
    for n in range(1200):  # three pages: this kind relists slower, out of step with the others
        emulator.create_secret(NS, f"s-{n}", {"k": "v"})
    backend = make_backend()
    backend.metrics_interval_s = 3600.0
    watch = watching(backend)
    await watch.next(lambda obs: "kubernetes/Deployment/web" in by_id(obs), "web observed")

    inv = backend.inventory
    for informer in inv.informers:  # relists about once a second: what each publishes is tested here,
        informer.relist_backoff_max_s = 1.0  # their backoff in test_hostile_watches.py
    emulator.set_failure(gone_watches=True)  # every watch now answers 410 Gone, and keeps doing so
    lists_before = len(list_requests(emulator, "deployments"))
    watches_before = len(_watch_requests(emulator))
    informers = [i for i in inv.informers if i.spec.kind in ("Deployment", "Pod")]
    lists = {id(i): i.lists for i in informers}

    async def relisted(times: int):
        return all(i.lists >= lists[id(i)] + times for i in informers)
    # The storm is established (every kind relisting about once a second) before the change.
    await eventually(lambda: relisted(2), "relists of deployments and pods after the 410s")
    lists = {id(i): i.lists for i in informers}
    emulator.create_deployment(NS, "api", replicas=1)

    def api_and_its_pod(obs) -> bool:
        found = by_id(obs)
        return API in found and any(r.kind == "Pod" and r.name.startswith("api-") for r in found.values())

    await eventually(lambda: relisted(3), "three relists of deployments and pods during the 410 storm")
    # Each relist publishes what it saw (a yield follows within `coalesce_s`; the next relist of
    # an informer whose watch got 410 waits >= 1 s), so the change was yielded by now, while
    # other kinds kept failing too.
    published = [obs for obs in _drain(watch.queue) if not isinstance(obs, Exception) and api_and_its_pod(obs)]
    assert published, "the new deployment and its pod were published during the 410 storm"
    assert emulator.failure.gone_watches, "the watches were failing all along"
    assert len(list_requests(emulator, "deployments")) > lists_before, "it came from a relist"
    assert "kubernetes/Deployment/web" in by_id(published[-1]), "the other objects stayed in the observation"
    assert len(_watch_requests(emulator)) > watches_before, "watches were being retried (and got 410)"

    emulator.delete("deployments", NS, "api")  # a deletion is published by a relist too
    await watch.next(lambda o: API not in by_id(o), "the deleted deployment gone during the 410 storm")


async def test_quiet_healthy_watches_raise_no_alarm_and_a_hung_server_is_noticed(
        emulator, make_backend, watching):
    emulator.bookmark_interval_s = 3600.0  # no bookmarks: the quietest a healthy watch can be
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend(timeout=2.0)
    backend.silence_floor_s = 6.0  # reads silent for 6 s mean a hung server (30 s outside tests)
    backend.metrics_interval_s = 3600.0
    # the watches' own bound, the backstop of the liveness probe (test_frozen_api_server.py): no probe here
    backend.liveness_interval_s = 3600.0
    watch = watching(backend)
    await watch.next(lambda obs: "kubernetes/Deployment/web" in by_id(obs), "web observed")
    inv = backend.inventory
    started = {id(i): i.watches for i in inv.informers if not i.disabled}

    async def every_watch_ended_by_the_server_and_reopened():
        if watch.task.done():
            return True  # reported below
        return all(i.watches >= started[id(i)] + 2 for i in inv.informers if id(i) in started)
    await eventually(every_watch_ended_by_the_server_and_reopened, "watch cycles on a quiet namespace")
    errors = [item for item in _drain(watch.queue) if isinstance(item, Exception)]
    assert not errors and not watch.task.done(), f"a quiet healthy watch raised no alarm: {errors}"
    assert inv.failure() is None

    emulator.set_failure(delay_s=3600.0)  # every new request hangs; open watches run to their end
    try:
        error = await watch.error(timeout=WAIT_S * 3)
    finally:
        emulator.set_failure()
    assert isinstance(error, BackendUnreachable)
    assert "no answer for" in str(error), error


@pytest.mark.parametrize("timeout, silence", [(1.0, 30.0), (10.0, 30.0), (20.0, 60.0)])
async def test_watches_end_well_before_they_count_as_silent(make_backend, timeout, silence):
    backend = make_backend(timeout=timeout)
    await backend._ensure()
    api = backend.api
    assert api.watch_silence_s == silence
    for _ in range(200):
        t = api.watch_timeout_s()
        assert silence / 2 - 1 <= t <= silence * 2 / 3
        assert silence - t >= max(timeout, 10.0)


def _watch_requests(emulator) -> list[str]:
    return [p for m, p in list(emulator.request_log) if m == "GET" and "watch=true" in p]


def _drain(queue) -> list:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
