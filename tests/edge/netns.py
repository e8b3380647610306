"""Several "hosts" for the fleet tests: network namespaces with a veth pair each
and sshd inside on an address of its own (10.251.X.0/30 per node, X from the
test process id). Only the network is isolated. A link can be cut (the node's
end of the veth down: no carrier, packets towards the node are lost, a new connect
fails with "No route to host" once ARP gives up) or black-holed (SYNs never
answered). Everything is removed in `remove_hosts()`. Where namespaces are
unavailable, tests use several sshd on loopback ports instead (and say so)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass

from tests.edge.sshd import Sshd


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    probe = f"edk-probe-{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass
class NamespacedHost:
    ns: str
    host_if: str
    host_addr: str
    node_addr: str
    node_if: str

    def cut(self) -> None:
        """The cable is pulled at the node's end. Our end stays up (no carrier), so its route
        to the node stays: packets go into the dead link and are lost. (Taking our end down
        instead would drop that route and send them out the default route, where this sandbox
        answers any TCP connect: not a partition.)"""
        _ip("-n", self.ns, "link", "set", self.node_if, "down")

    def restore(self) -> None:
        _ip("-n", self.ns, "link", "set", self.node_if, "up")

    def black_hole(self) -> None:
        """Nothing from the node reaches us any more: a blackhole route inside its namespace
        drops every packet towards this side, so a SYN is never answered (no RST, no ICMP)
        and an open connection goes silent."""
        _ip("-n", self.ns, "route", "add", "blackhole", f"{self.host_addr}/32")

    def unblock(self) -> None:
        _ip("-n", self.ns, "route", "del", "blackhole", f"{self.host_addr}/32", check=False)


def create_hosts(count: int) -> list[NamespacedHost]:
    pid = os.getpid()
    # Parallel test workers (pytest-xdist gwN) each get their own subnets: N picks the slot.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    subnet = 10 + (pid % 60) * 4 + worker % 4
    hosts: list[NamespacedHost] = []
    try:
        for i in range(count):
            h = NamespacedHost(f"edk-{pid}-{i}", f"edk{pid % 100000}h{i}", f"10.251.{subnet}.{4 * i + 1}",
                               f"10.251.{subnet}.{4 * i + 2}", f"edk{pid % 100000}n{i}")
            peer = h.node_if
            _ip("netns", "add", h.ns)
            hosts.append(h)
            _ip("link", "add", h.host_if, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", h.ns)
            _ip("addr", "add", f"{h.host_addr}/30", "dev", h.host_if)
            _ip("link", "set", h.host_if, "up")
            _ip("-n", h.ns, "addr", "add", f"{h.node_addr}/30", "dev", peer)
            _ip("-n", h.ns, "link", "set", peer, "up")
            _ip("-n", h.ns, "link", "set", "lo", "up")
    except BaseException:
        remove_hosts(hosts)
        raise
    return hosts


def remove_hosts(hosts: list[NamespacedHost]) -> None:
    for h in hosts:
        _ip("link", "del", h.host_if, check=False)  # removes the peer too
        _ip("netns", "del", h.ns, check=False)


def start_sshd_in(host: NamespacedHost, lab) -> Sshd:
    server = Sshd(lab.workdir / f"sshd-{host.ns}", lab.authorized_keys, address=host.node_addr, port=22,
                  netns=host.ns).start()
    lab.servers.append(server)
    return server


def our_sockets_to(addr: str) -> list[str]:
    """TCP sockets of this process towards addr (`ADDR` or `ADDR:PORT`), from the kernel (`ss`), any state."""
    out = subprocess.run(["ss", "-Htanp", "dst", addr], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if f"pid={os.getpid()}," in line]


def syn_sent_to(addr: str) -> list[str]:
    return [line for line in our_sockets_to(addr) if line.startswith("SYN-SENT")]


async def fresh_connect(addr: str, port: int, timeout: float = 30.0) -> BaseException | None:
    """What a new TCP connect to addr:port meets: None when it is accepted."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(addr, port), timeout)
    except (OSError, TimeoutError) as exc:
        return exc
    writer.close()
    await writer.wait_closed()
    return None
