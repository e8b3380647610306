"""Every body envdeck reads from an API server is bounded: a watch event (one line), a log line, any
other answer. Large but legitimate ones pass whole (reassembled across many chunks); past the limit a
watch event and an answer are refused with an error saying so, a log line is cut and marked."""

from __future__ import annotations

import asyncio

import pytest

from backends.kubernetes.api import MIB, KubeApi
from backends.kubernetes.connection import load_connection
from tests.kubernetes.support import NS, WAIT_S, eventually
from tui.core.config import KubernetesConfig
from tui.core.errors import BackendUnreachable


@pytest.fixture
async def api(kubeconfig):
    api = KubeApi(load_connection(KubernetesConfig(kubeconfig=str(kubeconfig), context="emulator", namespace=NS)),
                  5.0)
    try:
        yield api
    finally:
        await api.close()


async def test_a_large_watch_event_within_the_limit_arrives_whole(emulator, api):
    api.watch_line_max = 1 * MIB
    big = "x" * 700_000  # many socket reads for one line
    path = f"/api/v1/namespaces/{NS}/configmaps"
    _, version = await api.list_all(path)

    async def first_added() -> dict:
        async for event in api.watch(path, version, timeout_s=20):
            if event["type"] == "ADDED":
                return event["object"]
        raise AssertionError("the watch ended without the event")

    task = asyncio.create_task(first_added())
    await asyncio.sleep(0.2)
    emulator.create_configmap(NS, "big", {"blob": big})
    obj = await asyncio.wait_for(task, WAIT_S)
    assert obj["metadata"]["name"] == "big" and obj["data"]["blob"] == big


async def test_an_answer_longer_than_the_limit_is_refused_with_a_clear_error(emulator, api):
    for n in range(2):
        emulator.create_configmap(NS, f"big-{n}", {"blob": "y" * 700_000})
    path = f"/api/v1/namespaces/{NS}/configmaps"
    items, _ = await api.list_all(path)  # within the default bound (1 GiB): read whole
    assert {"big-0", "big-1"} <= {i["metadata"]["name"] for i in items}
    api.body_max = 1 * MIB
    with pytest.raises(BackendUnreachable) as caught:
        await api.get(path)
    assert str(caught.value) == f"GET {path}: the API server's answer is longer than 1 MiB; refused"
    assert (await api.get(f"{path}/big-0"))["metadata"]["name"] == "big-0", "a shorter answer is still read"


async def test_a_log_line_longer_than_the_limit_is_cut_and_the_next_one_is_whole(emulator, api):
    emulator.create_deployment(NS, "web", replicas=1)

    async def the_pod():
        names = emulator.pod_names(NS, "app=web")
        return names[0] if names else None
    pod = await eventually(the_pod, "the web pod")
    api.log_line_max = 64 * 1024
    path = f"/api/v1/namespaces/{NS}/pods/{pod}/log"
    long_line = "".join(chr(ord("a") + i % 26) for i in range(300_000))
    for line in ("before", long_line, "after é"):
        emulator.append_log(NS, pod, line)
    cut = long_line[:64 * 1024] + " [line cut at 0.0625 MiB]"

    lines = [line async for line in api.stream_lines(path)]
    assert lines[-3:] == ["before", cut, "after é"]

    followed: list[str] = []

    async def follow() -> None:
        async for line in api.stream_lines(path, follow="true", tailLines=3):
            followed.append(line)
            if line.startswith("tail"):
                return
    task = asyncio.create_task(follow())
    await eventually(lambda: _true(len(followed) >= 3), "the three lines followed")
    emulator.append_log(NS, pod, long_line)  # written while followed: many chunks
    emulator.append_log(NS, pod, "tail")
    await asyncio.wait_for(task, WAIT_S)
    assert followed == ["before", cut, "after é", cut, "tail"]


async def _true(value: bool) -> bool:
    return value
