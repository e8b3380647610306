"""A watch whose resourceVersion the API server no longer knows: the server was reset
(restarted with fresh state, etcd restored) so the last resourceVersion is one it has
never reached, or a watch stays open and silent. The emulator answers as kube-apiserver
does (504 "Too large resource version" for a future one, 410 for an expired one); the
informers relist once and the rows converge to the new server's truth."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs, urlsplit

import aiohttp

from backends.sim.k8s_emulator import Emulator
from tests.kubernetes.support import NS, by_id, eventually, list_requests
from tui.core.errors import BackendUnreachable


def _names(obs, kind: str) -> set[str]:
    return {r.name for r in obs.resources if r.kind == kind}


def _watch_versions(emulator, plural: str) -> list[int]:
    """The resourceVersion of each watch of `plural` the emulator received, in order."""
    out = []
    for method, path_qs in list(emulator.request_log):
        parts = urlsplit(path_qs)
        query = parse_qs(parts.query)
        if method == "GET" and parts.path.endswith(f"/namespaces/{NS}/{plural}") and query.get("watch"):
            out.append(int((query.get("resourceVersion") or ["0"])[0] or 0))
    return out


async def test_emulator_answers_future_and_expired_resource_versions_as_kube_apiserver():
    emu = Emulator()
    emu.too_large_wait_s = 0.2
    await emu.start(host="127.0.0.1", port=0)
    try:
        emu.add_namespace(NS)
        emu.create_configmap(NS, "c", {"k": "v"})
        url = f"{emu.url}/api/v1/namespaces/{NS}/configmaps"
        future = emu.store.rv + 1000
        async with aiohttp.ClientSession() as s:
            async with s.get(url, params={"watch": "true", "resourceVersion": str(future)}) as resp:
                assert resp.status == 200  # a watch's error comes as an ERROR event, as from the watch cache
                event = (await resp.json(content_type=None))
            status = event["object"]
            assert event["type"] == "ERROR" and status["code"] == 504 and status["reason"] == "Timeout"
            assert status["message"] == f"Timeout: Too large resource version: {future}, current: {emu.store.rv}"
            assert status["details"]["causes"] == [{"reason": "ResourceVersionTooLarge",
                                                    "message": "Too large resource version"}]
            async with s.get(url, params={"resourceVersion": str(future)}) as resp:
                assert resp.status == 504  # a LIST's error is the response's status
                assert (await resp.json())["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
            emu.create_configmap(NS, "d", {"k": "v"})
            emu.compact()
            async with s.get(url, params={"watch": "true", "resourceVersion": "2"}) as resp:
                event = await resp.json(content_type=None)
            assert event["type"] == "ERROR" and event["object"]["code"] == 410
            assert event["object"]["reason"] == "Expired"
            assert event["object"]["message"].startswith("too old resource version: 2 (")
    finally:
        await emu.stop()


async def test_rows_converge_after_the_api_server_is_reset_with_fresh_state(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=2)
    emulator.create_deployment(NS, "old", replicas=1)
    for n in range(40):  # the old server's resourceVersion runs well ahead of the fresh one's
        emulator.create_configmap(NS, f"c-{n}", {"k": "v"})
    backend = make_backend()
    backend.metrics_interval_s = 3600.0
    watch = watching(backend)
    await watch.next(lambda o: {"web", "old"} <= _names(o, "Deployment"), "the old server's deployments")
    inv = backend.inventory
    stale = min(int(i.resource_version) for i in inv.informers if i.resource_version)

    port = emulator.port
    await emulator.stop()
    fresh = Emulator()
    fresh.too_large_wait_s = 0.5  # kube-apiserver waits 3 s for its cache before answering 504
    await fresh.start(host="127.0.0.1", port=port)
    try:
        fresh.add_namespace(NS)
        fresh.create_deployment(NS, "web", replicas=1)
        fresh.create_deployment(NS, "new", replicas=1)
        assert fresh.store.rv < stale, "every resourceVersion envdeck holds is one the fresh server never reached"

        def converged(obs) -> bool:
            pods = _names(obs, "Pod")
            return _names(obs, "Deployment") == {"web", "new"} and "kubernetes/ConfigMap/c-0" not in by_id(obs) \
                and any(p.startswith("new-") for p in pods) and not any(p.startswith("old-") for p in pods)

        obs = None
        for _ in range(3):  # the server was down a moment: a watch may have failed meanwhile
            try:
                obs = await watch.next(converged, "the rows of the fresh server")
                break
            except BackendUnreachable:
                watch = watching(backend)  # what the reconciler does after its backoff
        assert obs is not None
        assert by_id(obs)["kubernetes/Deployment/web"].attributes["replicas"] == 1

        # Every informer went back to the fresh server with its stale resourceVersion, and listed
        # each collection once on the 504: one relist, not a storm.
        assert any(v >= stale for v in _watch_versions(fresh, "pods")), "a watch resumed with a stale version"

        async def watching_fresh_versions():
            return all(i.resource_version and int(i.resource_version) <= fresh.store.rv
                       for i in inv.informers if not i.disabled)
        await eventually(watching_fresh_versions, "every informer watching from the fresh server's versions")
        assert sum(i.too_large for i in inv.informers) >= 1
        lists = Counter(p.split("?", 1)[0] for p in list_requests(fresh) if "continue=" not in p)
        assert lists, "the fresh server was listed"
        assert max(lists.values()) == 1, f"each collection listed once: {lists}"
        assert lists[f"/apis/apps/v1/namespaces/{NS}/deployments"] == 1
        assert lists[f"/api/v1/namespaces/{NS}/pods"] == 1
    finally:
        await fresh.stop()


async def test_a_silent_watch_is_watched_again_then_relisted(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend(timeout=1.5)
    backend.silence_floor_s = 4.0  # watches of 2 s; one silent for 3.5 s is dropped (35 s outside tests)
    backend.metrics_interval_s = 3600.0
    watch = watching(backend)
    await watch.next(lambda o: "web" in _names(o, "Deployment"), "web observed")
    inv = backend.inventory
    deployments = next(i for i in inv.informers if i.spec.kind == "Deployment")
    lists_before = len(list_requests(emulator, "deployments"))
    watches_before = len(_watch_versions(emulator, "deployments"))

    emulator.set_failure(silent_watches=True)  # watches accepted, then nothing: no event, no bookmark, no end
    try:
        emulator.create_deployment(NS, "api", replicas=1)  # what only a relist can bring now
        obs = await watch.next(lambda o: "api" in _names(o, "Deployment"), "api, brought by a relist")
        assert deployments.silent_watches >= 2
        silent = _watch_versions(emulator, "deployments")[watches_before:]
        assert len(silent) >= 2 and silent[0] == silent[1], f"watched again from the last version: {silent}"
        assert len(list_requests(emulator, "deployments")) > lists_before, "then listed again"
        assert not watch.task.done(), "a silent watch is no outage"
    finally:
        emulator.set_failure()
    assert "web" in _names(obs, "Deployment")
    emulator.patch("deployments", NS, "api", {"spec": {"replicas": 2}})
    await watch.next(lambda o: (r := by_id(o).get("kubernetes/Deployment/api")) is not None
                     and r.attributes["replicas"] == 2, "watches deliver again once healed")
