"""`envdeck run` starts connecting the nodes before the session is open (tui/cli/fleet.py,
issue 19): the session adopts those connections (each node sees one connection, not
two), a node that refused the early connection is not tried a second time by the run
(the same results as without early connections), and a user whose role does not allow
the run contacts no node at all. Counted on
the server side: each node is a TCP relay in front of a real sshd that counts what it
accepts."""

from __future__ import annotations

import json
import re
import socket
import threading

import pytest

from tests.helpers import envdeck_inproc as envdeck
from tests.security.access_setup import access, audit_rows, write_config
from tests.tcp_relay import CountingRelay


class RefusingNode(CountingRelay):
    """A TCP port that counts the connections it accepts and answers each with an SSH version
    the client refuses (a node that fails fast, always with the same error)."""

    def _handle(self, client: socket.socket) -> None:
        threading.Thread(target=self._refuse, args=(client,), daemon=True).start()

    @staticmethod
    def _refuse(client: socket.socket) -> None:
        with client:
            try:
                client.sendall(b"SSH-1.0-refusing\r\n")
                while client.recv(65536):  # until the client hangs up
                    pass
            except OSError:
                pass


@pytest.fixture
def relayed(edge_lab):
    """Two nodes, each a counting relay to one sshd (trusted under the relay's port)."""
    server = edge_lab.start_sshd("n1")
    relays = [CountingRelay(server.port) for _ in range(2)]
    with edge_lab.known_hosts.open("a") as fh:
        for relay in relays:
            fh.write(f"[127.0.0.1]:{relay.port} {server.public_host_key}\n")
    nodes = [{"name": f"gw-{i}", "host": "127.0.0.1", "port": relay.port, "user": edge_lab.user,
              "identity_file": str(edge_lab.client_key)} for i, relay in enumerate(relays)]
    edge = {"known_hosts": str(edge_lab.known_hosts), "ssh_config": str(edge_lab.ssh_config), "nodes": nodes,
            "connect_timeout": "10s", "command_timeout": "30s"}
    yield edge, relays
    for relay in relays:
        relay.close()


def test_run_connects_each_node_once_and_audits_each(tmp_path, edge_lab, relayed):
    edge, relays = relayed
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access("operator"), "edge": edge}})
    state = tmp_path / "state"
    marker = edge_lab.state / "ran-early"
    proc = envdeck("run", "dev", "--json", "--config", str(cfg), "--state-dir", str(state), "--",
                   f"echo x >> {marker}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"] == {"ok": 2, "failed": 0, "unreachable": 0}
    assert [r.accepted for r in relays] == [1, 1], "the session must adopt the early connections"
    assert marker.read_text() == "x\nx\n"  # the command ran once on each node
    rows = audit_rows(state)
    assert sorted((r["action"], r["target"], r["result"]) for r in rows) == [
        ("run", "edge/node/gw-0", "succeeded"), ("run", "edge/node/gw-1", "succeeded")]


@pytest.mark.parametrize("role,read_only", [("viewer", False), ("operator", True)])
def test_a_run_the_role_denies_contacts_no_node(tmp_path, edge_lab, relayed, role, read_only):
    edge, relays = relayed
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access(role), "edge": edge}})
    state = tmp_path / "state"
    args = ["run", "dev", "--json", "--config", str(cfg), "--state-dir", str(state)]
    proc = envdeck(*args, *(["--read-only"] if read_only else []), "--", "true")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert [r.accepted for r in relays] == [0, 0], "a denied run opens no connection"
    rows = audit_rows(state)
    assert sorted((r["action"], r["target"], r["result"]) for r in rows) == [
        ("run", "edge/node/gw-0", "denied"), ("run", "edge/node/gw-1", "denied")]


def test_run_turns_the_collector_back_on(tmp_path, edge_lab, relayed):
    """`run` loads its modules with the cyclic collector off (tui/cli/fleet.py): it is on
    again once the session is open (what start-up made frozen until the run is over), and
    after a start-up that failed."""
    import subprocess
    import sys
    from pathlib import Path

    edge, _ = relayed
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access("operator"), "edge": edge}})
    code = ("import gc, sys\nfrom tui.cli import main, fleet\nseen = []\nclose = fleet.Printer.__call__\n"
            "fleet.Printer.__call__ = lambda self, *a: (seen.append(gc.isenabled()), close(self, *a))[1]\n"
            "import tui.core.session as S\nrun_fleet = S.Session.run_fleet\n"
            "async def frozen_then(self, *a, **k):\n    seen.append(gc.get_freeze_count() > 0)\n"
            "    return await run_fleet(self, *a, **k)\nS.Session.run_fleet = frozen_then\n"
            "rc = main(sys.argv[1:])\nprint(rc, seen[:2], gc.isenabled(), gc.get_freeze_count(), file=sys.stderr)")
    root = Path(__file__).resolve().parents[2]
    for env, expected in (("dev", "0 [True, True] True 0"), ("nowhere", "3 [] True 0")):
        proc = subprocess.run([sys.executable, "-c", code, "run", "--config", str(cfg), "--state-dir",
                               str(tmp_path / "state"), "--json", env, "--", "true"], cwd=root, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert proc.stderr.strip().splitlines()[-1] == expected, proc.stderr


def test_a_node_that_refuses_the_early_connection_is_not_tried_again(tmp_path, edge_lab, relayed):
    """A node refusing the SSH version at once (unreachable) and one whose host key is not
    trusted (refused): each sees one connection per run, and the run's results are those of
    a run without early connections (`--nodes`, which connects as it goes)."""
    edge, relays = relayed
    closing = RefusingNode(0)
    untrusted = CountingRelay(relays[0].target_port)  # its port has no known_hosts line
    try:
        nodes = [*edge["nodes"],
                 {**edge["nodes"][0], "name": "gw-closing", "port": closing.port},
                 {**edge["nodes"][0], "name": "gw-untrusted", "port": untrusted.port}]
        cfg = write_config(tmp_path / "envdeck.yaml",
                           {"dev": {"access": access("operator"), "edge": {**edge, "nodes": nodes}}})
        seen = []
        for extra in ([], ["--nodes", "gw-*"]):  # early connections, then none (a glob turns them off)
            before = [closing.accepted, untrusted.accepted, *(r.accepted for r in relays)]
            proc = envdeck("run", "dev", "--json", "--config", str(cfg), "--state-dir", str(tmp_path / "state"),
                           *extra, "--", "echo hi")
            assert proc.returncode == 1, proc.stderr
            after = [closing.accepted, untrusted.accepted, *(r.accepted for r in relays)]
            assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1], (extra, before, after)
            out = json.loads(proc.stdout)
            seen.append(([{k: v for k, v in r.items() if k != "duration_s"} for r in out["results"]],
                         out["summary"]))
        (early, early_summary), (late, late_summary) = seen
        assert early_summary == late_summary == {"ok": 2, "failed": 0, "unreachable": 2}
        assert early == late
        errors = {r["node"]: r["error"] for r in early}
        assert errors["gw-0"] is None and "gw-closing" in errors["gw-closing"]
        assert "gw-untrusted" in errors["gw-untrusted"]
    finally:
        closing.close()
        untrusted.close()


@pytest.mark.parametrize("unsafe", ["a file", "writable by everyone", "under a directory writable by everyone"])
def test_a_run_refused_for_its_state_directory_contacts_no_node(tmp_path, edge_lab, relayed, unsafe):
    """The session refuses an unsafe state directory before any audit row: the early
    connections wait for the same checks, so no node sees a login that nothing audits."""
    edge, relays = relayed
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access("operator"), "edge": edge}})
    state = tmp_path / "state"
    if unsafe == "a file":
        state.write_text("")
    elif unsafe == "writable by everyone":
        state.mkdir()
        state.chmod(0o777)
    else:
        (tmp_path / "open").mkdir()
        (tmp_path / "open").chmod(0o777)
        state = tmp_path / "open" / "state"
    proc = envdeck("run", "dev", "--yes", "--config", str(cfg), "--state-dir", str(state), "--", "id")
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    expected = {"a file": "the state directory is a file", "writable by everyone": "writable by everyone"}
    assert expected.get(unsafe, "writable") in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert [r.accepted for r in relays] == [0, 0], "a run refused before its audit rows opens no connection"


def test_a_config_invalid_elsewhere_sends_nothing_on_the_early_connections(tmp_path, edge_lab, relayed):
    """The connections start from the YAML before the whole config is validated
    (tui/cli/fleet_early.py): a config whose environment reads well but which is invalid
    elsewhere ends the run with its PATH:LINE:COL line and exit 2; the early connections are
    closed with no command sent (the sshd side: the marker the command would write is not
    there), at most one connection per node, and nothing is audited."""
    edge, relays = relayed
    cfg = tmp_path / "envdeck.yaml"
    marker = edge_lab.state / "ran-invalid"
    cfg.write_text(json.dumps({"environments": {"dev": {"access": access("operator"), "edge": edge}},
                               "ui": {"log_buffer_lines": 10, "no-such-key": True}}, indent=2))
    cfg.chmod(0o600)
    proc = envdeck("run", "dev", "--json", "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--",
                   f"echo x >> {marker}")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert re.search(rf"^{re.escape(str(cfg))}:\d+:\d+: ui.log_buffer_lines: ", proc.stderr, re.M), proc.stderr
    assert re.search(rf"^{re.escape(str(cfg))}:\d+:\d+: ui.no-such-key: unknown key", proc.stderr, re.M), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists(), "no command may run on a node of an invalid config"
    assert all(r.accepted <= 1 for r in relays), [r.accepted for r in relays]
    assert audit_rows(tmp_path / "state") == []
