"""A black-holed node (network namespaces: its SYNs are never answered, no RST, no
ICMP) must not hold up an observe pass: its reconnects run in the background, the
pass reports it Unknown ("connecting (attempt N)") with its last-known values while
the other nodes' fresh results are published, and it is picked up once the link
returns. One connect per node at a time; close() cancels a pending connect without
leaking its socket or a task. Under a real Reconciler (passes an hour apart), a
reconnect that succeeds in the background asks for one early pass, so the node shows
Healthy again without waiting for the schedule. Needs root (namespaces); skipped otherwise."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.edge import EdgeBackend
from tests.edge.netns import our_sockets_to, syn_sent_to
from tests.edge.waiting import WAIT_S, pass_until, shown, wait_for
from tui.core.model import Health


async def test_a_black_holed_node_does_not_hold_up_the_pass(edge_lab, spaced, defaults, asyncio_errors):
    hosts, nodes = spaced
    dead_addr = nodes[1].host
    cfg = edge_lab.config(nodes, connect_timeout=6, command_timeout=3, keepalive=2)
    backend = EdgeBackend("test", cfg, defaults)
    backend.connect_wait_s = 0.5  # a pass waits this briefly for a reconnect (2 s by default)
    link = backend.links["n1"]
    fleet_task = None
    try:
        first = {r.id: r for r in (await backend.observe()).resources}
        assert {r.health for r in first.values()} == {Health.HEALTHY}
        load_before = first["edge/node/n1"].attributes["load1"]

        hosts[1].black_hole()
        # Passes go on; one comes back while n1's reconnect is still pending (the
        # connect timeout is 6 s, the pass waits for it only 0.5 s).
        deadline = time.monotonic() + WAIT_S
        while True:
            obs = await backend.observe()
            pending_at_return = link.connecting
            res = {r.id: r for r in obs.resources}
            if pending_at_return and "connecting (attempt" in (res["edge/node/n1"].health_reason or ""):
                break
            assert time.monotonic() < deadline, [(r.id, r.health, r.health_reason) for r in obs.resources]
            await asyncio.sleep(0.5)

        n1 = res["edge/node/n1"]
        assert n1.health == Health.UNKNOWN and n1.status == "connecting"
        attempt = link.attempts
        assert attempt >= 2 and f"connecting (attempt {attempt}" in n1.health_reason
        assert "last error:" in n1.health_reason and "last seen" in n1.health_reason
        assert n1.attributes["reachable"] is False
        assert n1.attributes["load1"] == load_before  # last-known values are kept
        assert res["edge/service/n1:web"].health == Health.UNKNOWN
        for other in ("n0", "n2"):  # published fresh in that very pass
            assert res[f"edge/node/{other}"].health == Health.HEALTHY
            assert res[f"edge/service/{other}:web"].health == Health.HEALTHY
        sampled = {rid for rid, _, _ in obs.samples}
        assert sampled == {"edge/node/n0", "edge/node/n2"}
        assert [f.reason for f in obs.faults if f.resource == "edge/node/n1"] == ["NodeUnreachable"]

        # An explicit fleet command joins the attempt in progress rather than opening a
        # second connect; so does the next pass. The kernel shows one SYN, not more.
        fleet_task = asyncio.create_task(backend.run_fleet("true", ["n1"]))
        await asyncio.sleep(0)
        again = {r.id: r for r in (await backend.observe()).resources}
        assert link.connecting and link.attempts == attempt
        assert f"connecting (attempt {attempt}" in again["edge/node/n1"].health_reason
        assert len(syn_sent_to(dead_addr)) == 1, our_sockets_to(dead_addr)
        (result,) = await asyncio.wait_for(fleet_task, WAIT_S)
        # a connected node could not fail this way: the fleet result is the attempt's timeout
        assert result.outcome == "unreachable" and "no SSH answer within 6s" in result.error

        hosts[1].unblock()
        deadline = time.monotonic() + WAIT_S
        while True:
            res = {r.id: r for r in (await backend.observe()).resources}
            if res["edge/node/n1"].health == Health.HEALTHY:
                break
            assert time.monotonic() < deadline, res["edge/node/n1"].health_reason
            await asyncio.sleep(0.5)
        assert res["edge/service/n1:web"].health == Health.HEALTHY
        assert res["edge/node/n1"].attributes["reachable"] is True and not link.connecting
    finally:
        hosts[1].unblock()
        if fleet_task is not None and not fleet_task.done():
            fleet_task.cancel()
        await backend.close()
    assert asyncio_errors() == []


async def test_close_cancels_a_pending_connect_cleanly(edge_lab, spaced, defaults, asyncio_errors):
    hosts, nodes = spaced
    dead_addr = nodes[1].host
    hosts[1].black_hole()
    backend = EdgeBackend("test", edge_lab.config(nodes[:2], connect_timeout=60), defaults)
    link = backend.links["n1"]
    try:
        # A pass cut short (the reconciler's timeout cancels observe()) does not abort
        # the node's connect: it belongs to the link and goes on in the background.
        pass_task = asyncio.create_task(backend.observe())
        await wait_for(lambda: syn_sent_to(dead_addr), "the SYN towards the black-holed node")
        assert link.connecting
        pass_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pass_task
        assert link.connecting and len(syn_sent_to(dead_addr)) == 1
        # the live node's connect, begun by the cancelled pass, also goes on and completes
        await wait_for(lambda: backend.links["n0"].connected, "n0 connected in the background")
    finally:
        await backend.close()
    assert not link.connecting
    assert our_sockets_to(dead_addr) == []  # the half-open socket is closed, not leaked
    assert link.attempts == 1 and link.failures == 0  # cancelled, not counted as a failure
    assert asyncio_errors() == []


# -- under the real reconciler ------------------------------------------------
async def test_a_background_reconnect_wakes_the_reconciler(edge_lab, spaced, reconciling, asyncio_errors):
    hosts, nodes = spaced
    # connect_timeout is long so that the attempt begun while black-holed is still going
    # when the link returns: only that background attempt can bring the node back (the
    # next scheduled pass is an hour away)
    rec, backend, calls = await reconciling(nodes, connect_timeout=60, command_timeout=3, keepalive=2)
    try:
        await wait_for(lambda: all(getattr(shown(rec, f"edge/node/n{i}"), "health", None) == Health.HEALTHY
                                   for i in range(3)), "every node Healthy in the first pass")
        hosts[1].black_hole()
        await pass_until(rec, lambda: shown(rec, "edge/node/n1").status == "connecting", "n1 shown connecting")
        n1 = shown(rec, "edge/node/n1")
        assert n1.health == Health.UNKNOWN and "connecting (attempt" in n1.health_reason
        assert backend.links["n1"].connecting and calls == []
        passes = rec.envs["dev"].backends["edge"].last_pass

        hosts[1].unblock()  # no more wake() from here on: only the backend's request can bring a pass
        await wait_for(lambda: shown(rec, "edge/node/n1").health == Health.HEALTHY,
                       "n1 Healthy through the early pass (the scheduled one is an hour away)")
        assert rec.envs["dev"].backends["edge"].last_pass > passes
        assert shown(rec, "edge/service/n1:web").health == Health.HEALTHY
        assert len(calls) == 1  # one request for one reconnect
    finally:
        hosts[1].unblock()
    assert asyncio_errors() == []


async def test_a_running_reconciler_does_not_wait_for_a_first_connect(edge_lab, spaced, reconciling,
                                                                       asyncio_errors):
    """A node black-holed before envdeck ever reached it: under a running reconciler the
    first pass publishes the other nodes while that node's first connect is still pending
    (shown Unknown, "connecting (attempt 1"), instead of holding the whole edge backend for
    connect_timeout. (A one-shot `envdeck status` still waits: it has no second pass.)"""
    hosts, nodes = spaced
    hosts[1].black_hole()
    rec, backend, calls = await reconciling(nodes, connect_timeout=120, command_timeout=5, keepalive=2)
    try:
        await wait_for(lambda: all(getattr(shown(rec, f"edge/node/n{i}"), "health", None) == Health.HEALTHY
                                   for i in (0, 2)), "n0 and n2 Healthy in the first pass")
        assert backend.continuous
        link = backend.links["n1"]
        assert link.connecting and link.attempts == 1, "the first connect is still pending (120 s timeout)"
        n1 = shown(rec, "edge/node/n1")
        assert n1 is not None and n1.health == Health.UNKNOWN and "connecting (attempt 1" in n1.health_reason

        hosts[1].unblock()
        await wait_for(lambda: shown(rec, "edge/node/n1").health == Health.HEALTHY,
                       "n1 Healthy once its first connect succeeds (early pass)")
        assert len(calls) == 1
    finally:
        hosts[1].unblock()
    assert asyncio_errors() == []


async def test_nodes_reconnecting_together_get_one_early_pass(edge_lab, spaced, reconciling, asyncio_errors):
    hosts, nodes = spaced
    rec, backend, calls = await reconciling(nodes, connect_timeout=3, command_timeout=3, keepalive=2)
    backend.pass_request_delay_s = 5.0  # roomy: the two connects below run side by side
    try:
        await wait_for(lambda: all(getattr(shown(rec, f"edge/node/n{i}"), "health", None) == Health.HEALTHY
                                   for i in range(3)), "every node Healthy in the first pass")
        for h in hosts[1:]:
            h.black_hole()
        await pass_until(rec, lambda: all(shown(rec, f"edge/node/{n}").health == Health.UNKNOWN
                                          for n in ("n1", "n2")), "n1 and n2 shown Unknown")
        # their attempts give up (3 s) and the links try again after their backoff; at a
        # moment when neither is trying, both links return (no await in between: any attempt
        # from here on starts after that, so the fleet command below cannot join a doomed one)
        await wait_for(lambda: not any(backend.links[n].connecting for n in ("n1", "n2")),
                       "a moment without an attempt in flight")
        for h in hosts[1:]:
            h.unblock()
        assert calls == [] and shown(rec, "edge/node/n2").health == Health.UNKNOWN

        # an operator's fleet command reconnects both at once (or joins a retry of the link's
        # own begun since): one early pass shows both
        results = await backend.run_fleet("true", ["n1", "n2"])
        assert [r.outcome for r in results] == ["ok", "ok"]
        await wait_for(lambda: all(shown(rec, f"edge/node/{n}").health == Health.HEALTHY for n in ("n1", "n2")),
                       "n1 and n2 Healthy through one early pass")
        assert len(calls) == 1
    finally:
        for h in hosts[1:]:
            h.unblock()
    assert asyncio_errors() == []
