"""Who owns the other end of a loopback TCP connection (Linux).

A TCP connection carries no credentials (SO_PEERCRED is for Unix sockets), but on
127.0.0.1 / ::1 both ends are sockets of this host: the peer's socket is the row of
/proc/net/tcp (or tcp6: a dual-stack socket, ::1, a v4-mapped address) whose *local*
address is the accepted connection's peer address and whose *remote* address is the
accepted connection's own address; that row's `uid` column owns the peer's socket.

The kernel prints an address as the hex of its network-order bytes read as native 32-bit
words (IPv4 127.0.0.1 is `0100007F` on a little-endian host; IPv6 is four such words) and a
port as a plain hex number. Only a row in ESTABLISHED, SYN_SENT or SYN_RECV names its owner:
a socket its process has closed (FIN_WAIT1/2, CLOSING, LAST_ACK, TIME_WAIT, CLOSE) is orphaned
and its uid reads 0, so a peer that connects, sends and closes would otherwise look like root;
every other state (CLOSE_WAIT, LISTEN, anything unknown) is not trusted either.

Fail closed: when the owner cannot be told (no /proc, the row is gone, two rows disagree)
`Peer.uid` is None and `Peer.reason` says why; callers refuse such a connection.
"""

from __future__ import annotations

import ipaddress
import pwd
import sys
from dataclasses import dataclass
from pathlib import Path

PROC_NET = Path("/proc/net")
TABLES = ("tcp", "tcp6")
LIVE_STATES = frozenset({"01", "02", "03"})  # ESTABLISHED, SYN_SENT, SYN_RECV
STATE_NAMES = {"04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
               "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Peer:
    """The owner of a connection's other end: `uid`, or None and why not."""

    uid: int | None
    reason: str = ""

    @property
    def label(self) -> str:
        if self.uid is None:
            return f"an unknown uid ({self.reason})"
        return describe_uid(self.uid)


def describe_uid(uid: int) -> str:
    """`uid 1002 (user mallory)`; a uid without a passwd entry says so."""
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid} (no user of that uid)"
    return f"uid {uid} (user {name})"


def _address(text: str) -> Address:
    """A /proc/net/tcp{,6} address (hex of native-order 32-bit words); v4-mapped IPv6 → IPv4."""
    if len(text) not in (8, 32):
        raise ValueError(f"not an address: {text!r}")
    raw = b"".join(int(text[i:i + 8], 16).to_bytes(4, sys.byteorder) for i in range(0, len(text), 8))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _endpoint(text: str) -> tuple[Address, int]:
    host, _, port = text.rpartition(":")
    return _address(host), int(port, 16)


def _socket_address(address: tuple[object, ...]) -> tuple[Address, int]:
    """(host, port[, flowinfo, scope]) as asyncio reports it → normalised (IPv4 for v4-mapped)."""
    host = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    if isinstance(host, ipaddress.IPv6Address) and host.ipv4_mapped is not None:
        host = host.ipv4_mapped
    return host, int(address[1])  # type: ignore[call-overload]


def peer_uid(own: tuple[object, ...], peer: tuple[object, ...], proc_net: Path = PROC_NET) -> Peer:
    """The uid owning the socket at `peer` connected to our `own` address (an accepted
    connection's sockname and peername); see the module docstring."""
    try:
        ours, theirs = _socket_address(own), _socket_address(peer)
    except (ValueError, IndexError, TypeError):
        return Peer(None, f"not an IP connection ({peer!r})")
    uids: set[int] = set()
    closing: set[str] = set()
    read = False
    problems: list[str] = []
    for table in TABLES:
        path = proc_net / table
        try:
            lines = path.read_text(encoding="ascii", errors="replace").splitlines()[1:]
        except FileNotFoundError:
            continue  # no tcp6 without IPv6; no /proc/net at all off Linux
        except OSError as exc:
            problems.append(f"cannot read {path}: {exc.strerror or exc}")
            continue
        read = True
        for line in lines:
            fields = line.split()
            if len(fields) < 8:
                continue
            try:
                if _endpoint(fields[1]) != theirs or _endpoint(fields[2]) != ours:
                    continue
                uid = int(fields[7])
            except ValueError:
                continue
            if fields[3].upper() in LIVE_STATES:
                uids.add(uid)
            else:
                closing.add(STATE_NAMES.get(fields[3].upper(), f"state {fields[3][:4]}"))
    if len(uids) == 1:
        return Peer(uids.pop())
    if len(uids) > 1:
        return Peer(None, f"sockets of several uids ({', '.join(map(str, sorted(uids)))}) match {theirs}")
    if not read:
        return Peer(None, "; ".join(problems) or f"no {proc_net}/tcp on this system to find the peer's owner")
    if closing:
        return Peer(None, f"the peer's socket is closing or not connected ({', '.join(sorted(closing))}): "
                          "its owner cannot be told")
    return Peer(None, f"no socket at {theirs[0]}:{theirs[1]} in {proc_net}/tcp (gone, or in another network "
                      "namespace)")
