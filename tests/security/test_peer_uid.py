"""tui/core/peer_uid.py on real sockets: the owner of a loopback connection's other end is
read from the kernel's /proc/net/tcp{,6} (IPv4, IPv6 ::1, a dual-stack client to an IPv4
listener, another OS user's client), and where it cannot be told the answer is "unknown"
with the reason (no /proc, a closed peer in TIME_WAIT, rows that disagree): fail closed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.other_user import PYTHON, USER, needs_other_user, other_user
from tui.core.peer_uid import Peer, describe_uid, peer_uid


def _pair(family: int, listen: str, connect: str,
          client_family: int | None = None) -> tuple[socket.socket, socket.socket, socket.socket]:
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((listen, 0))
    server.listen()
    client = socket.socket(client_family or family, socket.SOCK_STREAM)
    client.connect((connect, server.getsockname()[1]))
    accepted, _ = server.accept()
    return server, client, accepted


def _close(*sockets: socket.socket) -> None:
    for s in sockets:
        s.close()


def test_an_ipv4_connection_of_this_process_is_its_own_uid():
    server, client, accepted = _pair(socket.AF_INET, "127.0.0.1", "127.0.0.1")
    try:
        assert peer_uid(accepted.getsockname(), accepted.getpeername()) == Peer(os.geteuid())
        # the other direction is the listener's side: the client's view finds the accepted socket
        assert peer_uid(client.getsockname(), client.getpeername()) == Peer(os.geteuid())
    finally:
        _close(server, client, accepted)


@pytest.mark.skipif(not socket.has_ipv6 or not os.path.exists("/proc/net/tcp6"), reason="no IPv6 on this host")
def test_ipv6_loopback_and_a_dual_stack_client_are_found_in_tcp6():
    try:
        server, client, accepted = _pair(socket.AF_INET6, "::1", "::1")
    except OSError as exc:
        pytest.skip(f"no ::1 here: {exc}")
    try:
        assert peer_uid(accepted.getsockname(), accepted.getpeername()) == Peer(os.geteuid())
    finally:
        _close(server, client, accepted)
    # an IPv6 socket connecting to an IPv4 listener: its row (tcp6) holds v4-mapped addresses
    server, client, accepted = _pair(socket.AF_INET, "127.0.0.1", "::ffff:127.0.0.1", socket.AF_INET6)
    try:
        assert accepted.getpeername()[0] == "127.0.0.1"
        assert peer_uid(accepted.getsockname(), accepted.getpeername()) == Peer(os.geteuid())
    finally:
        _close(server, client, accepted)


@needs_other_user
def test_another_users_client_is_its_uid_not_ours():
    user = other_user()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(60)
    hold = ("import socket, sys; s = socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
            "sys.stdin.read()")
    process = subprocess.Popen(["runuser", "-u", USER, "--", PYTHON, "-c", hold, str(server.getsockname()[1])],
                               stdin=subprocess.PIPE, cwd="/")
    try:
        accepted, _ = server.accept()
        peer = peer_uid(accepted.getsockname(), accepted.getpeername())
        assert peer == Peer(user.pw_uid) and user.pw_uid != os.geteuid()
        assert peer.label == f"uid {user.pw_uid} (user {USER})"
        accepted.close()
    finally:
        process.communicate(b"", timeout=60)
        server.close()


def test_a_closed_peer_in_time_wait_is_unknown():
    server, client, accepted = _pair(socket.AF_INET, "127.0.0.1", "127.0.0.1")
    own, peer = accepted.getsockname(), accepted.getpeername()
    client.close()  # the client closes first: its socket ends in TIME_WAIT, owned by nobody
    accepted.close()
    server.close()
    deadline = time.monotonic() + 30
    answer = peer_uid(own, peer)
    while answer.uid is not None and time.monotonic() < deadline:
        time.sleep(0.02)
        answer = peer_uid(own, peer)
    assert answer.uid is None and ("TIME_WAIT" in answer.reason or "no socket" in answer.reason)
    assert answer.label.startswith("an unknown uid (")


def test_a_peer_that_sent_and_closed_first_is_unknown_not_root():
    """Connect, send, close while we still hold the accepted socket: the peer's orphaned socket sits
    in FIN_WAIT2 and its row reads uid 0 — never taken for root."""
    server, client, accepted = _pair(socket.AF_INET, "127.0.0.1", "127.0.0.1")
    try:
        own, peer = accepted.getsockname(), accepted.getpeername()
        client.sendall(b"hello")
        client.close()
        assert accepted.recv(5) == b"hello"
        deadline = time.monotonic() + 30
        answer = peer_uid(own, peer)
        while answer.uid is not None and time.monotonic() < deadline:
            time.sleep(0.02)
            answer = peer_uid(own, peer)
        assert answer.uid is None and "FIN_WAIT" in answer.reason, answer
        assert "root" not in answer.label
    finally:
        accepted.close()
        server.close()


@pytest.mark.parametrize(("state", "name"), [("04", "FIN_WAIT1"), ("05", "FIN_WAIT2"), ("06", "TIME_WAIT"),
                                             ("07", "CLOSE"), ("08", "CLOSE_WAIT"), ("09", "LAST_ACK"),
                                             ("0A", "LISTEN"), ("0B", "CLOSING"), ("0C", "state 0C")])
def test_a_peer_row_in_a_closing_or_odd_state_is_unknown(tmp_path, state, name):
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    ours, theirs = f"{_hex_v4('127.0.0.1')}:1F90", f"{_hex_v4('127.0.0.1')}:C350"
    (tmp_path / "tcp").write_text(header + _row(theirs, ours, state, 0) + "\n")
    answer = peer_uid(("127.0.0.1", 8080), ("127.0.0.1", 50000), proc_net=tmp_path)
    assert answer.uid is None and name in answer.reason
    for live in ("01", "02", "03"):  # ESTABLISHED, SYN_SENT, SYN_RECV: the owner is there
        (tmp_path / "tcp").write_text(header + _row(theirs, ours, live, 1002) + "\n")
        assert peer_uid(("127.0.0.1", 8080), ("127.0.0.1", 50000), proc_net=tmp_path) == Peer(1002)


def test_without_proc_the_owner_is_unknown_and_says_why(tmp_path):
    answer = peer_uid(("127.0.0.1", 8080), ("127.0.0.1", 50000), proc_net=tmp_path / "absent")
    assert answer.uid is None and f"no {tmp_path / 'absent'}/tcp" in answer.reason


def _hex_v4(address: str) -> str:
    return f"{int.from_bytes(socket.inet_aton(address), sys.byteorder):08X}"


def _row(local: str, remote: str, state: str, uid: int) -> str:
    return f"   0: {local} {remote} {state} 00000000:00000000 00:00000000 00000000 {uid:>5} 0 123 1 0 20 4 30 10 -1"


def test_rows_are_matched_by_both_ends_and_disagreeing_rows_are_refused(tmp_path):
    """A written table (the kernel's layout): the peer row is the one whose local end is the
    peer and remote end is us — not our accepted socket's row, not the listener's."""
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    ours, theirs = f"{_hex_v4('127.0.0.1')}:1F90", f"{_hex_v4('127.0.0.1')}:C350"  # 8080, 50000
    rows = [_row(ours, f"{_hex_v4('0.0.0.0')}:0000", "0A", 0),  # our listener
            _row(ours, theirs, "01", 0),  # our accepted socket
            _row(theirs, ours, "01", 1002)]  # the peer's socket
    (tmp_path / "tcp").write_text(header + "\n".join(rows) + "\n")
    assert peer_uid(("127.0.0.1", 8080), ("127.0.0.1", 50000), proc_net=tmp_path) == Peer(1002)
    assert peer_uid(("127.0.0.1", 8080), ("127.0.0.1", 50001), proc_net=tmp_path).uid is None

    (tmp_path / "tcp").write_text(header + "\n".join([*rows, _row(theirs, ours, "01", 1003)]) + "\n")
    answer = peer_uid(("127.0.0.1", 8080), ("127.0.0.1", 50000), proc_net=tmp_path)
    assert answer.uid is None and "several uids (1002, 1003)" in answer.reason

    (tmp_path / "tcp").write_text(header + _row(theirs, ours, "06", 0) + "\n")  # TIME_WAIT: uid 0 means nothing
    answer = peer_uid(("127.0.0.1", 8080), ("127.0.0.1", 50000), proc_net=tmp_path)
    assert answer.uid is None and "TIME_WAIT" in answer.reason


def test_a_uid_without_a_user_is_described_as_such():
    assert describe_uid(0) == "uid 0 (user root)"
    assert describe_uid(4_000_000_000) == "uid 4000000000 (no user of that uid)"
