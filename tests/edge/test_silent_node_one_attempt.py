"""`envdeck status` on an edge node that accepts TCP connections and never answers (a hung
sshd, a stopped host behind a NAT that still accepts) or whose port is closed: the process
exits 1 saying the node is unreachable, after one connection attempt (asyncssh's
`connect_timeout` covers TCP connect, SSH handshake and authentication: no other
attempt is made within the pass). Counted on the listener's side."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import envdeck, envdeck_inproc
from tests.silent_listener import SilentListener, closed_port, status_json, unreachable


@pytest.fixture(scope="module")
def silent():
    listener = SilentListener()
    yield listener
    listener.close()


def status(tmp_path: Path, port: int, run=envdeck) -> tuple[int, dict]:
    """`envdeck status --json`; a real process by default (it must exit, no connect left pending)."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    return status_json(run, tmp_path, {"defaults": {"timeout": "1s"}, "environments": {"dead": {"edge": {
        "known_hosts": str(known), "connect_timeout": "1s",
        "nodes": [{"name": "dead-1", "host": "127.0.0.1", "port": port, "user": "nobody"}]}}}})


def test_status_on_a_silent_node_connects_once_and_says_unreachable(silent, tmp_path):
    before = len(silent.first_lines())
    code, report = status(tmp_path, silent.port)
    assert code == 1
    edge = unreachable(report, "edge")
    assert "dead-1" in edge["error"] and "no SSH answer within 1s" in edge["error"], edge["error"]
    seen = silent.first_lines()[before:]
    assert len(seen) == 1 and seen[0].startswith("SSH-2.0-"), seen  # one attempt: its client banner


def test_status_on_a_closed_port_says_unreachable(tmp_path):
    code, report = status(tmp_path, closed_port(), run=envdeck_inproc)
    assert code == 1
    edge = unreachable(report, "edge")
    assert "dead-1" in edge["error"] and "cannot connect" in edge["error"], edge["error"]
