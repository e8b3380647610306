"""The edge backend works on an event loop of its own, in a thread of its own
(backends/edge/loop_thread.py): the SSH connections, their channels and the parsing of
every probe live there, and the caller's loop (the TUI's) only receives finished
results. What belongs to the caller stays on its loop: fleet `on_result` callbacks, the
lines of logs(), request_pass(). Cancelling a caller cancels the work on the backend's
loop; close() stops that loop and leaves no thread behind. No timing is asserted: where
the work ran is."""

from __future__ import annotations

import asyncio
import threading

import pytest

from backends.edge import EdgeBackend
from backends.sim.edge.simulator import EdgeSimulator
from tests.edge.test_background_retry import refused_node, start_sshd_for
from tests.edge.waiting import WAIT_S, wait_for
from tui.core.config import EdgeConfig
from tui.core.errors import BackendUnreachable
from tui.core.model import Health


def edge_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("envdeck-edge-")]


class SampleThreads(EdgeBackend):
    """The production backend, noting the thread each node's probe was taken on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sampled_on: set[int] = set()

    async def _sample(self, node):
        self.sampled_on.add(threading.get_ident())
        await super()._sample(node)


@pytest.fixture
async def sim():
    simulator = await EdgeSimulator(nodes=["gw-01", "gw-02", "gw-03"], services=("nginx",),
                                    scenario="clean", seed=5, log_interval_s=0.05).start()
    yield simulator
    await simulator.close()


async def backend_tasks(backend: EdgeBackend) -> list[str]:
    """The names of the tasks on the backend's loop (this call's own excepted)."""
    async def names() -> list[str]:
        me = asyncio.current_task()
        return sorted(t.get_name() for t in asyncio.all_tasks() if t is not me)
    return await backend.remote.call(names())


async def test_the_connections_live_on_the_backends_own_loop_and_close_leaves_no_thread(sim, defaults,
                                                                                     asyncio_errors):
    assert edge_threads() == []
    backend = SampleThreads("test", EdgeConfig.model_validate(sim.edge_config_dict()), defaults)
    assert backend.remote.thread is None  # nothing started before the first call
    ui_loop, ui_thread = asyncio.get_running_loop(), threading.get_ident()
    try:
        obs = await backend.observe()
        assert {r.id: r.health for r in obs.resources}["edge/node/gw-02"] == Health.HEALTHY
        assert sum(1 for r in obs.resources if r.kind == "node") == 3
        thread, loop = backend.remote.thread, backend.remote.loop
        assert thread is not None and thread.is_alive() and thread.ident != ui_thread
        assert loop is not None and loop is not ui_loop
        assert edge_threads() == [thread]
        # every probe ran in the backend's thread, none on the caller's loop
        assert backend.sampled_on == {thread.ident}
        for link in backend.links.values():
            assert link.connected and link._conn._loop is loop  # the asyncssh connection's loop
        # the connect tasks were the backend loop's, the caller's loop never had one
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("envdeck-edge-connect")]
        assert backend.owner_loop is ui_loop

        # a fleet command: the work there, each result shown here (on_result on the caller's thread)
        shown_on: list[tuple[str, int]] = []
        results = await backend.run_fleet("hostname", on_result=lambda r: shown_on.append(
            (r.node, threading.get_ident())))
        assert [(r.node, r.ok, r.stdout.strip()) for r in results] == [
            ("gw-01", True, "gw-01"), ("gw-02", True, "gw-02"), ("gw-03", True, "gw-03")]
        assert sorted(shown_on) == [(n, ui_thread) for n in ("gw-01", "gw-02", "gw-03")]
        assert sum(c == "hostname" for n in sim.nodes.values() for c in n.commands_seen) == 3  # server side

        # log lines cross over in batches and the stream ends on the node when the reader stops
        stream = backend.logs("edge/node/gw-01", follow=True, tail=5)
        lines = []
        async with asyncio.timeout(WAIT_S):
            async for line in stream:
                lines.append(line)
                if len(lines) == 12:
                    break
        await stream.aclose()
        assert len(lines) == 12 and {ln.source.split(":")[0] for ln in lines} == {"gw-01"}
        await wait_for(lambda: sim.active_streams == 0, "the node's log stream closed")
        assert "envdeck-edge-log-relay" not in await backend_tasks(backend)

        # a caller cancelled mid-pass: the pass is cancelled on the backend's loop too
        # a caller cancelled while its commands run: they are cancelled on the backend's loop too
        fleet_task = asyncio.create_task(backend.run_fleet("svc-log nginx 5"))  # followers: never end
        await wait_for(lambda: sim.active_streams == 3, "the followers running on the three nodes")
        fleet_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fleet_task
        assert await backend_tasks(backend) == []  # nothing of the fleet command is left running there
        await wait_for(lambda: sim.active_streams == 0, "the cancelled commands' channels closed on the nodes")
    finally:
        await backend.close()
    assert not thread.is_alive() and loop.is_closed()
    assert backend.remote.thread is None and edge_threads() == []
    assert not any(link.connected for link in backend.links.values())
    assert asyncio_errors() == []


async def test_close_ends_the_work_still_running_and_its_callers_hear_of_it(sim, defaults, asyncio_errors):
    backend = EdgeBackend("test", EdgeConfig.model_validate(sim.edge_config_dict()), defaults)
    try:
        await backend.check()
        follower = asyncio.create_task(backend.links["gw-03"].run("svc-log nginx 5", timeout=600))
        # work that would outlive the close (not ended by closing a connection): cancelled after
        # the grace; its caller, who was not cancelled, hears it as BackendUnreachable
        sleeper = asyncio.create_task(backend.remote.call(asyncio.sleep(3600)))
        await wait_for(lambda: sim.active_streams >= 1, "the follower running on gw-03")
    finally:
        await backend.close()
    with pytest.raises(BackendUnreachable, match="closed while this ran"):
        await sleeper
    assert not sleeper.cancelled()
    # the follower ended with its connection (what it had read so far), it did not hang
    out = await asyncio.wait_for(follower, 30)
    assert "nginx" in out.stdout and sim.active_streams == 0
    assert edge_threads() == []
    assert asyncio_errors() == []


async def test_request_pass_is_called_on_the_callers_loop(edge_lab, defaults, asyncio_errors):
    node = refused_node(edge_lab, "a")
    edge_lab.activate("web")
    backend = EdgeBackend("test", edge_lab.config([node], connect_timeout=5), defaults)
    backend.pass_request_delay_s = 0.0
    called_on: list[tuple[int, asyncio.AbstractEventLoop]] = []
    backend.request_pass = lambda: called_on.append((threading.get_ident(), asyncio.get_running_loop()))
    try:
        with pytest.raises(BackendUnreachable, match="all 1 edge nodes unreachable"):
            await backend.observe()  # shown without a fresh sample: a reconnect asks for a pass
        start_sshd_for(edge_lab, node)
        await wait_for(lambda: called_on, "the early pass asked for after the background reconnect")
        assert called_on == [(threading.get_ident(), asyncio.get_running_loop())]
        assert backend.links["a"].connected and backend.remote.thread.ident != threading.get_ident()
    finally:
        await backend.close()
    assert edge_threads() == []
    assert asyncio_errors() == []
