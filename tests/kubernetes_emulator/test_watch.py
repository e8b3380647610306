"""Watch: the official client's watch.Watch (resume, 410), raw streams (bookmarks, timeouts,
selector transitions, `watch=True|1`), and injected failures."""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException

from backends.sim.k8s_emulator import Emulator
from backends.sim.k8s_emulator.resources import lookup
from tests.kubernetes_emulator.support import Cluster, wait_for


def test_watch_stream_sees_added_modified_deleted_in_order(cluster: Cluster):
    core = cluster.core
    rv = core.list_namespaced_config_map("staging").metadata.resource_version
    events: list[tuple[str, str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        for ev in w.stream(core.list_namespaced_config_map, "staging", resource_version=rv, timeout_seconds=60):
            events.append((ev["type"], ev["object"].metadata.name, (ev["object"].data or {}).get("k", "")))
            if ev["type"] == "DELETED":
                w.stop()

    reader = threading.Thread(target=consume)
    reader.start()
    cluster.emu.create_configmap("staging", "c1", {"k": "1"})
    cluster.emu.patch("configmaps", "staging", "c1", {"data": {"k": "2"}})
    cluster.emu.delete("configmaps", "staging", "c1")
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert events == [("ADDED", "c1", "1"), ("MODIFIED", "c1", "2"), ("DELETED", "c1", "2")]


def test_watch_resumes_from_resource_version_without_losing_changes(cluster: Cluster):
    core = cluster.core
    cluster.emu.create_configmap("staging", "before", {"k": "0"})
    rv = core.list_namespaced_config_map("staging").metadata.resource_version
    cluster.emu.create_configmap("staging", "missed-1", {"k": "1"})  # happen while no one watches
    cluster.emu.create_configmap("staging", "missed-2", {"k": "2"})
    w = watch.Watch()
    names = []
    for ev in w.stream(core.list_namespaced_config_map, "staging", resource_version=rv, timeout_seconds=5):
        names.append((ev["type"], ev["object"].metadata.name))
        if len(names) == 2:
            w.stop()
    assert names == [("ADDED", "missed-1"), ("ADDED", "missed-2")]


def test_watch_without_resource_version_starts_with_current_state(cluster: Cluster):
    cluster.emu.create_configmap("staging", "a", {"k": "1"})
    w = watch.Watch()
    first = next(iter(w.stream(cluster.core.list_namespaced_config_map, "staging", timeout_seconds=5)))
    w.stop()
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "a")


def test_too_old_resource_version_yields_410_error_event(cluster: Cluster):
    core = cluster.core
    old_rv = core.list_namespaced_config_map("staging").metadata.resource_version
    cluster.emu.create_configmap("staging", "x", {"k": "1"})
    cluster.emu.compact()
    w = watch.Watch()
    with pytest.raises(ApiException) as gone:
        # timeout_seconds disables the client's one automatic retry, so the 410 surfaces
        for _ in w.stream(core.list_namespaced_config_map, "staging", resource_version=old_rv, timeout_seconds=5):
            pass
    assert gone.value.status == 410
    # relisting gives a fresh resourceVersion from which watching works again
    fresh = core.list_namespaced_config_map("staging").metadata.resource_version
    cluster.emu.create_configmap("staging", "y", {"k": "2"})
    ev = next(iter(w.stream(core.list_namespaced_config_map, "staging", resource_version=fresh, timeout_seconds=5)))
    w.stop()
    assert ev["object"].metadata.name == "y"


def test_history_limit_compacts_old_versions():
    emu = Emulator(history_limit=5)
    emu.add_namespace("staging")
    rv = emu.resource_version
    for i in range(10):
        emu.create_configmap("staging", f"c{i}", {"k": str(i)})
    configmaps = lookup("configmaps")
    assert emu.store.events_since(configmaps, rv) is None  # → 410 for a watch from rv
    recent = emu.store.events_since(configmaps, emu.resource_version - 2)
    assert [e.entry.obj["metadata"]["name"] for e in recent] == ["c8", "c9"]


async def _read_events(resp: aiohttp.ClientResponse, count: int) -> list[dict]:
    out = []
    while len(out) < count:
        line = await asyncio.wait_for(resp.content.readline(), timeout=30)
        if not line:
            break
        out.append(json.loads(line))
    return out


@pytest.mark.parametrize("flag", ["true", "True", "1"])
async def test_watch_flag_spellings_and_timeout_seconds(emu_server: Emulator, flag: str):
    emu_server.create_configmap("staging", "a", {"k": "1"})
    async with aiohttp.ClientSession() as s, s.get(
            f"{emu_server.url}/api/v1/namespaces/staging/configmaps",
            params={"watch": flag, "timeoutSeconds": "1"}) as resp:
        assert resp.status == 200
        body = await asyncio.wait_for(resp.read(), timeout=30)  # ends by itself after ~1 s
    lines = [json.loads(x) for x in body.splitlines() if x.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "a"),
                                                                              ("ADDED", "kube-root-ca.crt")]


async def test_bookmarks_and_initial_events_end(emu_server: Emulator):
    emu_server.bookmark_interval_s = 0.2
    emu_server.create_configmap("staging", "a", {"k": "1"})
    async with aiohttp.ClientSession() as s, s.get(
            f"{emu_server.url}/api/v1/namespaces/staging/configmaps",
            params={"watch": "1", "allowWatchBookmarks": "true", "sendInitialEvents": "true",
                    "resourceVersionMatch": "NotOlderThan", "timeoutSeconds": "30"}) as resp:
        events = await _read_events(resp, 4)
    assert [e["type"] for e in events[:2]] == ["ADDED", "ADDED"]  # a, kube-root-ca.crt (every namespace's)
    events = events[1:]
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[2]["type"] == "BOOKMARK"  # periodic
    assert int(events[2]["object"]["metadata"]["resourceVersion"]) >= emu_server.resource_version


async def test_selector_transitions_become_added_and_deleted(emu_server: Emulator):
    emu_server.create_configmap("staging", "c", {"k": "1"})
    rv = emu_server.resource_version
    async with aiohttp.ClientSession() as s, s.get(
            f"{emu_server.url}/api/v1/namespaces/staging/configmaps",
            params={"watch": "true", "resourceVersion": str(rv), "labelSelector": "team=a",
                    "timeoutSeconds": "30"}) as resp:
        emu_server.patch("configmaps", "staging", "c", {"metadata": {"labels": {"team": "a"}}})
        emu_server.patch("configmaps", "staging", "c", {"data": {"k": "2"}})
        emu_server.patch("configmaps", "staging", "c", {"metadata": {"labels": {"team": "b"}}})
        events = await _read_events(resp, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


async def test_gone_watches_and_injected_status(emu_server: Emulator):
    url = f"{emu_server.url}/api/v1/namespaces/staging/pods"
    emu_server.set_failure(gone_watches=True)
    async with aiohttp.ClientSession() as s:
        async with s.get(url, params={"watch": "true", "resourceVersion": "1"}) as resp:
            events = await _read_events(resp, 1)
        assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
        emu_server.set_failure(status=503)
        async with s.get(url) as resp:
            assert resp.status == 503
            assert (await resp.json())["code"] == 503
        emu_server.set_failure()
        async with s.get(url) as resp:
            assert resp.status == 200


async def test_close_watches_ends_open_streams(emu_server: Emulator):
    async with aiohttp.ClientSession() as s, s.get(
            f"{emu_server.url}/api/v1/namespaces/staging/pods", params={"watch": "true"}) as resp:
        await asyncio.sleep(0)  # the stream is open (no events: no pods)
        emu_server.close_watches()
        rest = await asyncio.wait_for(resp.read(), timeout=30)
    assert rest == b""


def test_watch_over_restart_resumes_from_last_version(cluster: Cluster):
    core = cluster.core
    rv = core.list_namespaced_config_map("staging").metadata.resource_version
    cluster.thread.restart()  # same port, state kept: like an apiserver restart
    cluster.emu.create_configmap("staging", "after-restart", {"k": "1"})
    w = watch.Watch()
    ev = next(iter(w.stream(core.list_namespaced_config_map, "staging", resource_version=rv, timeout_seconds=10)))
    w.stop()
    assert ev["object"].metadata.name == "after-restart"
    wait_for(lambda: core.read_namespaced_config_map("after-restart", "staging"), what="read after restart")
