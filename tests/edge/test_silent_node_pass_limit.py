"""`envdeck status` on a silent edge node (accepts TCP, never answers) whose `edge.connect_timeout`
(10 s, the default) is longer than the reconciler lets an observe pass run (max(3 ×
defaults.timeout, 5 s): 5 s here): the edge pass ends 0.5 s before that cut itself and the error
names the node and the limit it met, instead of the reconciler's "no answer within 5s" that named
no node (backends/edge/backend.py `_pass_budget`). One connection reached the listener."""

from __future__ import annotations

import pytest

from tests.helpers import envdeck_inproc
from tests.silent_listener import SilentListener, status_json, unreachable


@pytest.fixture(scope="module")
def silent():
    listener = SilentListener()
    yield listener
    listener.close()


def test_status_names_the_silent_node_and_the_pass_limit(silent, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    before = len(silent.first_lines())
    code, report = status_json(envdeck_inproc, tmp_path, {"defaults": {"timeout": "1s"}, "environments": {"dead": {
        "edge": {"known_hosts": str(known),   # connect_timeout: the default 10 s
                 "nodes": [{"name": "dead-1", "host": "127.0.0.1", "port": silent.port, "user": "nobody"}]}}}})
    assert code == 1
    edge = unreachable(report, "edge")
    assert "node dead-1: no answer within 4.5s (the observe pass's limit" in edge["error"], edge["error"]
    assert "edge.connect_timeout is 10s" in edge["error"], edge["error"]
    assert len(silent.first_lines()[before:]) == 1, "one connection attempt"
