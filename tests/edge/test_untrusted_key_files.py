"""At run time envdeck refuses, as OpenSSH does, an edge `identity_file` others can read
("UNPROTECTED PRIVATE KEY FILE") and a `known_hosts` another user can write (it decides which host
keys are trusted): `check`, `run` and `status` exit 2 like any config error, naming the file and
its place in the config (PATH:LINE:COL), and no node is contacted. Counted on the server side: the
node is a TCP relay in front of a real sshd that counts the connections it accepts; the same
config with the files fixed runs the command there."""

from __future__ import annotations

import os

from tests.helpers import envdeck_inproc as envdeck
from tests.tcp_relay import CountingRelay


def _line_of(path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def test_a_readable_key_and_a_writable_known_hosts_are_refused_before_any_connect(edge_lab, tmp_path):
    server = edge_lab.start_sshd()
    relay = CountingRelay(server.port)
    key = edge_lab.copy_client_key(tmp_path / "keys")
    known = key.parent / "known_hosts"
    known.write_text(f"[127.0.0.1]:{relay.port} {server.public_host_key}\n")
    cfg = tmp_path / "envdeck.yaml"
    edge_lab.write_one_node_config(cfg, relay.port, key, known, edge_lab.ssh_config)
    state = str(tmp_path / "state")
    key_at = f"{cfg}:{_line_of(cfg, 'identity_file')}:"
    known_at = f"{cfg}:{_line_of(cfg, 'known_hosts')}:"

    def run():  # in this process: a file fixed since the last call counts at once (the answer follows its stat)
        return envdeck("run", "e", "--yes", "--config", str(cfg), "--state-dir", state, "--", "echo", "ran-here")

    # a private key its group and others can read
    key.chmod(0o644)
    check = envdeck("check", "--config", str(cfg), "--state-dir", state)
    assert check.returncode == 2, (check.stdout, check.stderr)
    assert any(line.startswith(key_at) and "environments.e.edge.nodes.0.identity_file" in line
               and "UNPROTECTED PRIVATE KEY FILE" in line for line in check.stderr.splitlines()), check.stderr
    proc = run()
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "ran-here" not in proc.stdout
    [line] = [ln for ln in proc.stderr.splitlines() if "UNPROTECTED PRIVATE KEY FILE" in ln]
    assert line.startswith(key_at) and "environments.e.edge.nodes.0.identity_file" in line, line
    assert f"{key}: a private key readable by others (mode 0644)" in line and "refused" in line, line
    status = envdeck("status", "--json", "--config", str(cfg), "--state-dir", state)
    assert status.returncode == 2 and "UNPROTECTED PRIVATE KEY FILE" in status.stderr, status.stderr
    assert relay.accepted == 0, "a refused key: no node is contacted"

    # a known_hosts its group can write
    key.chmod(0o600)
    os.chown(known, 0, 65534)  # a group of others (the owner's private group would be his alone)
    known.chmod(0o664)
    proc = run()
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    [line] = [ln for ln in proc.stderr.splitlines() if "environments.e.edge.known_hosts" in ln]
    assert line.startswith(known_at) and f"{known}: is group-writable" in line, line
    assert "decides which host keys envdeck trusts" in line and "refused" in line, line
    assert relay.accepted == 0, "a refused known_hosts: no node is contacted"

    # both fixed: the same config runs the command on the node
    known.chmod(0o644)
    proc = run()
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "ran-here" in proc.stdout
    assert relay.accepted >= 1
