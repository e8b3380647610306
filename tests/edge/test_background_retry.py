"""A node's link keeps trying by itself after an attempt that did not reach the node
(refused, no answer): the next attempt follows its backoff (1, 2, 4 … s with jitter,
capped by `max_backoff`), so a node that comes back is reconnected without a pass or
an action, and the reconciler (passes an hour apart) shows it Healthy through the early
pass the reconnect asks for. Nodes that stay down cost no more attempts than the
backoff allows; a refusal (host key) is not retried; close() cancels a scheduled retry
and a retry's attempt in flight without leaving a task or a socket.

The loopback tests use a port where nothing listens (refused) and a real sshd that is
started there later; the black-hole tests need network namespaces (root) and are
skipped otherwise."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.edge import EdgeBackend
from tests.edge.netns import our_sockets_to, syn_sent_to
from tests.edge.sshd import Sshd, free_port, keygen
from tests.edge.waiting import WAIT_S, attempts_allowed, pass_until, shown, wait_for
from tui.core.config import EdgeNode
from tui.core.errors import BackendDenied, BackendUnreachable
from tui.core.model import Health

MAX_BACKOFF = 4.0  # the `defaults` fixture and HOUR (the reconciler tests) both cap it at 4 s


def connect_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("envdeck-edge-connect")]


def refused_node(edge_lab, name: str) -> EdgeNode:
    """A node on a loopback port where nothing listens (yet)."""
    return EdgeNode(name=name, host="127.0.0.1", port=free_port(), user=edge_lab.user,
                    identity_file=str(edge_lab.client_key), services=["web"])


def start_sshd_for(edge_lab, node: EdgeNode, *, trusted: bool = True) -> Sshd:
    """A real sshd on the node's port, its host key trusted before it listens (so that
    no retry of the link can meet it untrusted)."""
    workdir = edge_lab.workdir / f"sshd-{node.name}"
    workdir.mkdir()
    server = Sshd(workdir, edge_lab.authorized_keys, port=node.port, host_key=keygen(workdir / "host_ed25519", "host"))
    if trusted:
        edge_lab.trust(server)
    edge_lab.servers.append(server)
    return server.start()


async def test_nodes_that_stay_down_are_retried_with_backoff_and_one_that_returns_reconnects(
        edge_lab, defaults, asyncio_errors):
    assert defaults.max_backoff == MAX_BACKOFF
    nodes = [refused_node(edge_lab, "a"), refused_node(edge_lab, "b")]
    edge_lab.activate("web")
    backend = EdgeBackend("test", edge_lab.config(nodes, connect_timeout=5), defaults)
    links = backend.links
    try:
        with pytest.raises(BackendUnreachable, match="all 2 edge nodes unreachable"):
            await backend.observe()
        start = {n: (links[n].attempts, links[n].failures) for n in links}
        t0 = time.monotonic()
        assert all(links[n].retry_scheduled for n in links)

        # nothing calls the backend from here on: every further attempt is the link's own
        await wait_for(lambda: all(link.failures >= 4 for link in links.values()), "three retries of each link")
        elapsed = time.monotonic() - t0
        for name, link in links.items():
            attempts, failures = start[name]
            made = link.attempts - attempts
            assert made >= 3  # it did retry by itself
            assert made <= attempts_allowed(failures, elapsed, MAX_BACKOFF) + 1, (name, made, elapsed)
            assert link.failures == link.attempts and "cannot connect" in (link.error or "")

        # node a comes back: its link reconnects within its backoff, no pass and no action needed
        start_sshd_for(edge_lab, nodes[0])
        await wait_for(lambda: links["a"].connected, "a reconnected by its link alone")
        assert not links["a"].retry_scheduled and links["b"].retry_scheduled
        res = {r.id: r for r in (await backend.observe()).resources}
        assert res["edge/node/a"].health == Health.HEALTHY
        assert res["edge/service/a:web"].health == Health.HEALTHY
        assert res["edge/node/b"].health == Health.UNKNOWN

        elapsed = time.monotonic() - t0
        attempts, failures = start["b"]
        made = links["b"].attempts - attempts
        assert made <= attempts_allowed(failures, elapsed, MAX_BACKOFF) + 1, (made, elapsed)
    finally:
        await backend.close()
    assert not any(link.retry_scheduled or link.connecting for link in links.values())
    assert connect_tasks() == []
    assert asyncio_errors() == []


async def test_close_cancels_a_scheduled_retry(edge_lab, defaults, asyncio_errors):
    node = refused_node(edge_lab, "a")
    backend = EdgeBackend("test", edge_lab.config([node]), defaults)
    link = backend.links["a"]
    try:
        with pytest.raises(BackendUnreachable, match="cannot connect"):
            await link.connection()
        assert link.retry_scheduled and not link.connecting
        timer = link._retry  # the scheduled retry, looked at only to see that it is cancelled
        assert timer is not None
    finally:
        await backend.close()
    assert timer.cancelled() and not link.retry_scheduled
    assert link.attempts == 1 and not link.connecting
    assert connect_tasks() == []
    assert our_sockets_to(f"127.0.0.1:{node.port}") == []
    assert asyncio_errors() == []


async def test_a_refused_host_key_is_not_retried(edge_lab, defaults, asyncio_errors):
    node = refused_node(edge_lab, "a")
    start_sshd_for(edge_lab, node, trusted=False)
    backend = EdgeBackend("test", edge_lab.config([node]), defaults)
    link = backend.links["a"]
    try:
        with pytest.raises(BackendDenied, match="host key"):
            await link.connection()
        # trying again changes nothing until someone acts (trust-host-key, known_hosts)
        assert not link.retry_scheduled and not link.connecting and link.refusal is not None
    finally:
        await backend.close()
    assert asyncio_errors() == []


# -- black-holed nodes (network namespaces) ------------------------------------
async def test_a_node_back_after_its_attempts_gave_up_shows_healthy_without_any_action(
        edge_lab, spaced, reconciling, asyncio_errors):
    hosts, nodes = spaced
    rec, backend, calls = await reconciling(nodes, connect_timeout=2, command_timeout=3, keepalive=2)
    link = backend.links["n1"]
    try:
        await wait_for(lambda: all(getattr(shown(rec, f"edge/node/n{i}"), "health", None) == Health.HEALTHY
                                   for i in range(3)), "every node Healthy in the first pass")
        hosts[1].black_hole()
        await pass_until(rec, lambda: shown(rec, "edge/node/n1").status == "connecting", "n1 shown connecting")
        # no pass is asked for from here on (the scheduled one is an hour away)
        await wait_for(lambda: link.retry_scheduled, "n1's attempt given up (2 s) and its retry scheduled")
        t0, attempts, failures = time.monotonic(), link.attempts, link.failures
        await wait_for(lambda: link.attempts >= attempts + 2 and link.retry_scheduled,
                       "two more attempts of the link's own, given up too")
        assert calls == [] and shown(rec, "edge/node/n1").health == Health.UNKNOWN
        passes = rec.envs["dev"].backends["edge"].last_pass

        hosts[1].unblock()
        down_s, made = time.monotonic() - t0, link.attempts - attempts
        assert made <= attempts_allowed(failures, down_s, MAX_BACKOFF) + 1, (made, down_s)
        await wait_for(lambda: shown(rec, "edge/node/n1").health == Health.HEALTHY,
                       "n1 Healthy through the early pass its reconnect asked for")
        assert rec.envs["dev"].backends["edge"].last_pass > passes
        assert shown(rec, "edge/service/n1:web").health == Health.HEALTHY
        assert len(calls) == 1  # one request for one reconnect
        assert link.connected and not link.retry_scheduled
        made = link.attempts - attempts
        assert made <= attempts_allowed(failures, time.monotonic() - t0, MAX_BACKOFF) + 1, made
    finally:
        hosts[1].unblock()
    assert asyncio_errors() == []


async def test_close_during_a_retry_attempt_leaves_no_task_or_socket(edge_lab, spaced, defaults, asyncio_errors):
    hosts, nodes = spaced
    dead_addr = nodes[1].host
    hosts[1].black_hole()
    backend = EdgeBackend("test", edge_lab.config(nodes[:2], connect_timeout=5), defaults)
    backend.connect_wait_s = 0.5  # the pass below waits this briefly for the attempt in flight
    link = backend.links["n1"]
    fleet_task = None
    try:
        obs = await backend.observe()  # n1's first connect is waited for in full: it gives up
        assert {r.id: r.health for r in obs.resources}["edge/node/n0"] == Health.HEALTHY
        assert link.attempts == 1 and link.failures == 1 and link.retry_scheduled
        await wait_for(lambda: link.attempts == 2 and link.connecting and syn_sent_to(dead_addr),
                       "the link's own retry, its SYN in flight")
        # a fleet command and a pass join that attempt: still one connect, one SYN
        fleet_task = asyncio.create_task(backend.run_fleet("true", ["n1"]))
        await asyncio.sleep(0)
        res = {r.id: r for r in (await backend.observe()).resources}
        assert "connecting (attempt 2" in res["edge/node/n1"].health_reason
        assert link.attempts == 2 and link.connecting and not fleet_task.done()
        assert len(syn_sent_to(dead_addr)) == 1, our_sockets_to(dead_addr)
    finally:
        await backend.close()
    assert not link.connecting and not link.retry_scheduled
    assert link.attempts == 2 and link.failures == 1  # the cancelled attempt is not a failure
    assert our_sockets_to(dead_addr) == []  # the half-open socket is closed, not leaked
    assert connect_tasks() == []
    if fleet_task is not None:
        (result,) = await asyncio.wait_for(fleet_task, WAIT_S)
        assert result.outcome == "unreachable" and "connection closed" in result.error
    assert asyncio_errors() == []
