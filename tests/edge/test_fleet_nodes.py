"""Several nodes: each a real sshd in its own network namespace (or, where
namespaces are unavailable, on its own loopback port). Fan-out results per
node, a node whose link is cut goes Unknown with its age while the others carry
on and comes back when the link returns, and a node that accepts TCP but never
speaks SSH does not stall the rest."""

from __future__ import annotations

import asyncio
import socket
import time
import warnings
from dataclasses import dataclass

import pytest

from backends.edge import EdgeBackend, FleetResult, fleet_summary
from tests.edge.netns import (
    NamespacedHost,
    create_hosts,
    fresh_connect,
    netns_unavailable_reason,
    remove_hosts,
    start_sshd_in,
)
from tests.edge.sshd import Sshd
from tui.core.config import EdgeNode
from tui.core.model import Health

NODES = 3


@dataclass
class Fleet:
    servers: list[Sshd]
    hosts: list[NamespacedHost]  # empty on loopback
    no_netns_reason: str | None


@pytest.fixture
def fleet(edge_lab):
    reason = netns_unavailable_reason()
    hosts: list[NamespacedHost] = []
    try:
        if reason is None:
            hosts = create_hosts(NODES)
            servers = [start_sshd_in(h, edge_lab) for h in hosts]
        else:
            warnings.warn(f"no network namespaces ({reason}): using {NODES} sshd on loopback ports", stacklevel=1)
            servers = [edge_lab.start_sshd(f"n{i}") for i in range(NODES)]
        for server in servers:
            edge_lab.trust(server)
        yield Fleet(servers, hosts, reason)
    finally:
        for server in edge_lab.servers:
            server.stop()
        remove_hosts(hosts)


@pytest.fixture
def silent_listener():
    """Accepts TCP connections (the kernel completes the handshake) and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


def nodes_of(lab, fleet: Fleet) -> list[EdgeNode]:
    return [lab.node(f"n{i}", s, services=["web"]) for i, s in enumerate(fleet.servers)]


async def observe_until(backend: EdgeBackend, predicate, deadline_s: float = 120.0):
    deadline = time.monotonic() + deadline_s
    while True:
        obs = await backend.observe()
        res = {r.id: r for r in obs.resources}
        if predicate(res):
            return res
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached; last: {[(r.id, r.health, r.health_reason) for r in obs.resources]}")
        await asyncio.sleep(0.5)


async def test_fan_out_gives_one_result_per_node(edge_lab, fleet, defaults):
    edge_lab.activate("web")
    backend = EdgeBackend("test", edge_lab.config(nodes_of(edge_lab, fleet)), defaults)
    live: list[str] = []
    try:
        results = await backend.run_fleet("echo $SSH_CONNECTION; cat /proc/loadavg",
                                          on_result=lambda r: live.append(r.node))
        obs = await backend.observe()
    finally:
        await backend.close()
    assert sorted(live) == [r.node for r in results] == ["n0", "n1", "n2"]
    assert fleet_summary(results) == {"ok": 3, "failed": 0, "unreachable": 0}
    for result, server in zip(results, fleet.servers, strict=True):
        _, _, server_addr, server_port = result.stdout.splitlines()[0].split()
        assert (server_addr, int(server_port)) == (server.address, server.port)  # each answered by its own sshd
        assert len(result.stdout.splitlines()[1].split()) == 5
    assert {r.health for r in obs.resources} == {Health.HEALTHY}


async def test_a_node_that_never_speaks_does_not_stall_the_others(edge_lab, fleet, silent_listener, defaults):
    edge_lab.activate("web")
    silent = EdgeNode(name="silent", host="127.0.0.1", port=silent_listener, user=edge_lab.user,
                      identity_file=str(edge_lab.client_key))
    cfg = edge_lab.config([*nodes_of(edge_lab, fleet), silent], connect_timeout=4)
    backend = EdgeBackend("test", cfg, defaults)
    order: list[FleetResult] = []
    try:
        results = await backend.run_fleet("echo ok", on_result=order.append)
        res = {r.id: r for r in (await backend.observe()).resources}
    finally:
        await backend.close()
    assert [r.node for r in order][-1] == "silent"  # every live node reported before the timeout hit
    by_node = {r.node: r for r in results}
    assert all(by_node[f"n{i}"].stdout == "ok\n" for i in range(NODES))
    assert by_node["silent"].outcome == "unreachable" and "no SSH answer" in by_node["silent"].error
    assert fleet_summary(results) == {"ok": 3, "failed": 0, "unreachable": 1}
    assert [res[f"edge/node/n{i}"].health for i in range(NODES)] == [Health.HEALTHY] * NODES
    assert res["edge/node/silent"].health == Health.UNKNOWN
    assert "never seen" in res["edge/node/silent"].health_reason


async def test_cut_link_makes_that_node_unknown_with_age_and_it_recovers(edge_lab, fleet, defaults):
    if fleet.no_netns_reason:
        pytest.skip(f"cutting a link needs network namespaces: {fleet.no_netns_reason}")
    edge_lab.activate("web")
    cfg = edge_lab.config(nodes_of(edge_lab, fleet), connect_timeout=5, command_timeout=3, keepalive=3)
    backend = EdgeBackend("test", cfg, defaults)
    try:
        before = {r.id: r for r in (await backend.observe()).resources}
        assert {r.health for r in before.values()} == {Health.HEALTHY}
        seen = before["edge/node/n1"].attributes["last_seen"]

        fleet.hosts[1].cut()
        refused = await fresh_connect(fleet.hosts[1].node_addr, fleet.servers[1].port)
        # a partition: a new connect is neither accepted nor refused (nothing answers)
        assert refused is not None and not isinstance(refused, ConnectionRefusedError), refused
        res = {r.id: r for r in (await backend.observe()).resources}
        n1 = res["edge/node/n1"]
        assert n1.health == Health.UNKNOWN and n1.status == "offline"
        assert "last seen" in n1.health_reason and seen in n1.health_reason
        assert n1.attributes["last_seen"] == seen and n1.attributes["reachable"] is False
        assert n1.attributes["load1"] is not None  # the last good metrics are kept
        assert res["edge/service/n1:web"].health == Health.UNKNOWN
        for other in ("n0", "n2"):
            assert res[f"edge/node/{other}"].health == Health.HEALTHY
            assert res[f"edge/service/{other}:web"].health == Health.HEALTHY
        results = {r.node: r for r in await backend.run_fleet("true")}
        assert results["n0"].ok and results["n2"].ok
        # the new connect found no route or no answer (not an SSH server that misbehaved)
        assert "cannot connect" in results["n1"].error or "no SSH answer" in results["n1"].error, results["n1"]

        fleet.hosts[1].restore()
        await observe_until(backend, lambda r: r["edge/node/n1"].health == Health.HEALTHY)
    finally:
        fleet.hosts[1].restore()
        await backend.close()
