"""logs(): tail, follow (order and completeness), container, previous, workloads
merged with a pod/container source; closing the iterator closes the stream."""

from __future__ import annotations

import asyncio

import pytest

from tests.kubernetes.support import NS, WAIT_S, eventually
from tui.core.errors import InvalidRequest, NotFound

TWO = [{"name": "app", "image": "nginx:1.27"}, {"name": "sidecar", "image": "envoy:1.30"}]


async def _pods(emulator, backend, app, n):
    async def ready():
        names = sorted(emulator.pod_names(NS, f"app={app}"))
        return names if len(names) == n else None
    return await eventually(ready, f"{n} pods of {app}")


async def _collect(agen, n, timeout=WAIT_S):
    out = []
    async def take():
        async for line in agen:
            out.append(line)
            if len(out) >= n:
                return
    await asyncio.wait_for(take(), timeout)
    return out


def _followers(emulator) -> int:
    return sum(len(queues) for queues in emulator.logs.followers.values())


async def test_tail_keeps_order_and_source(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=1)
    [pod] = await _pods(emulator, backend, "web", 1)
    for i in range(200):
        emulator.append_log(NS, pod, f"line {i:03d} \x1b[31mraw\x1b[0m")
    lines = [ln async for ln in backend.logs(f"kubernetes/Pod/{pod}", tail=50)]
    assert [ln.text for ln in lines] == [f"line {i:03d} \x1b[31mraw\x1b[0m" for i in range(150, 200)]
    assert {ln.source for ln in lines} == {f"{pod}/web"}
    assert all(ln.at is not None for ln in lines)


async def test_follow_delivers_every_line_in_order_and_close_ends_stream(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=1)
    [pod] = await _pods(emulator, backend, "web", 1)
    emulator.append_log(NS, pod, "before")
    stream = backend.logs(f"kubernetes/Pod/{pod}", follow=True, tail=1)
    first = await _collect(stream, 1)
    assert first[0].text == "before"
    assert _followers(emulator) == 1

    async def produce():
        for i in range(300):
            emulator.append_log(NS, pod, f"follow {i}")
            if i % 50 == 0:
                await asyncio.sleep(0)
    producer = asyncio.create_task(produce())
    got = await _collect(stream, 300)
    await producer
    assert [ln.text for ln in got] == [f"follow {i}" for i in range(300)]
    await stream.aclose()
    await eventually(lambda: _async(_followers(emulator) == 0), "the server to see the stream closed")


async def _async(value):
    return value


async def test_workload_logs_merge_all_pods_with_prefix(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=3)
    pods = await _pods(emulator, backend, "web", 3)
    for i in range(10):
        for pod in pods:
            emulator.append_log(NS, pod, f"{pod} says {i}")
    lines = [ln async for ln in backend.logs("kubernetes/Deployment/web", tail=None)]
    assert len([ln for ln in lines if " says " in ln.text]) == 30  # plus the pods' own start-up lines
    for pod in pods:
        own = [ln.text for ln in lines if ln.source == f"{pod}/web" and " says " in ln.text]
        assert own == [f"{pod} says {i}" for i in range(10)]
    stamps = [ln.at for ln in lines]
    assert stamps == sorted(stamps)
    # following a workload: lines from every pod arrive, tagged with their pod
    stream = backend.logs("kubernetes/Deployment/web", follow=True, tail=0)
    collector = asyncio.create_task(_collect(stream, 3))
    await eventually(lambda: _async(_followers(emulator) == 3), "3 follow streams")
    for pod in pods:
        emulator.append_log(NS, pod, f"live {pod}")
    live = await collector
    assert {(ln.source, ln.text) for ln in live} == {(f"{p}/web", f"live {p}") for p in pods}
    await stream.aclose()
    await eventually(lambda: _async(_followers(emulator) == 0), "all follow streams closed")


async def test_container_selection_and_all_containers(emulator, backend):
    emulator.create_deployment(NS, "duo", replicas=1, containers=TWO)
    [pod] = await _pods(emulator, backend, "duo", 1)
    emulator.append_log(NS, pod, "from app", container="app")
    emulator.append_log(NS, pod, "from sidecar", container="sidecar")
    only = [ln async for ln in backend.logs(f"kubernetes/Pod/{pod}", container="sidecar")]
    assert only[-1].text == "from sidecar" and {ln.source for ln in only} == {f"{pod}/sidecar"}
    assert "from app" not in [ln.text for ln in only]
    both = [ln async for ln in backend.logs(f"kubernetes/Pod/{pod}")]
    assert {(f"{pod}/app", "from app"), (f"{pod}/sidecar", "from sidecar")} <= {(ln.source, ln.text) for ln in both}
    assert {ln.source for ln in both} == {f"{pod}/app", f"{pod}/sidecar"}
    with pytest.raises(NotFound):
        [ln async for ln in backend.logs(f"kubernetes/Pod/{pod}", container="nope")]


async def test_previous_container_logs_after_a_crash(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=1)
    [pod] = await _pods(emulator, backend, "web", 1)
    emulator.append_log(NS, pod, "about to crash")
    emulator.inject_fault(NS, pod, "CrashLoopBackOff")
    previous = [ln.text async for ln in backend.logs(f"kubernetes/Pod/{pod}", previous=True, tail=None)]
    assert "about to crash" in previous
    assert any(text.startswith("panic:") for text in previous)


async def test_job_logs_and_errors(emulator, backend):
    emulator.create_job(NS, "migrate")
    pods = await eventually(lambda: _async(emulator.pod_names(NS, "job-name=migrate")), "job pod")
    emulator.append_log(NS, pods[0], "migrated 42 rows")
    lines = [ln async for ln in backend.logs("kubernetes/Job/migrate")]
    assert any(ln.text == "migrated 42 rows" and ln.source.startswith(pods[0] + "/") for ln in lines)
    with pytest.raises(InvalidRequest):
        [ln async for ln in backend.logs("kubernetes/Service/web")]
    with pytest.raises(NotFound):
        [ln async for ln in backend.logs("kubernetes/Pod/does-not-exist")]
