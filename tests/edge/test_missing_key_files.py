"""An edge `identity_file` or `known_hosts` that does not exist is named, never a bare "No such
file or directory" nor a traceback: `envdeck check` places it in the config (PATH:LINE:COL, like
every config problem: a missing identity_file is an error, exit 2; a missing known_hosts a warning,
trust-host-key creates it), and at run time the node's error names the file (a real sshd)."""

from __future__ import annotations

import json

import yaml

from tests.helpers import envdeck_inproc


def _write(tmp_path, environments: dict) -> str:
    path = tmp_path / "envdeck.yaml"
    path.write_text(yaml.safe_dump({"environments": environments}, sort_keys=False))
    path.chmod(0o600)
    return str(path)


def _edge(lab, server, *, name: str, identity: str, known_hosts: str) -> dict:
    return {"known_hosts": known_hosts, "ssh_config": str(lab.ssh_config), "connect_timeout": "10s",
            "commands": lab.commands(),
            "nodes": [{"name": name, "host": server.address, "port": server.port, "user": lab.user,
                       "identity_file": identity, "services": ["web"]}]}


def test_check_and_status_name_the_missing_identity_file_and_known_hosts(edge_lab, tmp_path):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    no_key = tmp_path / "keys" / "id_missing"
    no_known = tmp_path / "ssh" / "known_hosts_missing"
    cfg = _write(tmp_path, {
        "nokey": {"edge": _edge(edge_lab, server, name="k1", identity=str(no_key),
                                known_hosts=str(edge_lab.known_hosts))},
        "nokh": {"edge": _edge(edge_lab, server, name="h1", identity=str(edge_lab.client_key),
                               known_hosts=str(no_known))},
    })
    state = str(tmp_path / "state")
    lines = open(cfg).read().splitlines()
    key_line = next(i for i, line in enumerate(lines, 1) if "id_missing" in line)
    kh_line = next(i for i, line in enumerate(lines, 1) if "known_hosts_missing" in line)

    check = envdeck_inproc("check", "--config", cfg, "--state-dir", state)
    assert check.returncode == 2, (check.stdout, check.stderr)
    assert "Traceback" not in check.stderr
    assert (f"{cfg}:{key_line}:" in check.stderr
            and f"environments.nokey.edge.nodes.0.identity_file: no such file '{no_key}'" in check.stderr), check.stderr
    assert (f"envdeck: warning: {cfg}:{kh_line}:" in check.stderr
            and f"environments.nokh.edge.known_hosts: no such file '{no_known}'" in check.stderr), check.stderr

    status = envdeck_inproc("status", "--json", "--config", cfg, "--state-dir", state)
    assert status.returncode == 1, status.stderr
    assert "Traceback" not in status.stderr
    envs = {e["name"]: e["backends"]["edge"] for e in json.loads(status.stdout)["environments"]}
    assert envs["nokey"]["reachable"] is False
    assert f"node k1: cannot connect: its identity_file {no_key} does not exist" in envs["nokey"]["error"], envs
    assert envs["nokh"]["reachable"] is False
    assert f"is not in {no_known} (unknown host; {no_known} does not exist yet)" in envs["nokh"]["error"], envs
