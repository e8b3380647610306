"""`envdeck run ENV -- CMD | head -1` against three real sshd nodes: the reader goes away
after the first line. Each node's audit row records the node's own result (its exit
code), not our broken pipe; no "Broken pipe" or traceback on stderr; the exit
status is the nodes' (0: all succeeded).

The command makes the order certain without timing assertions: the first node to run
it claims a directory and answers at once, the others answer 2 s later, long after
`head` has read its line and exited."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.edge.lab import chown
from tests.edge.test_cli_edge import envdeck, write_config
from tests.helpers import envdeck_env, repo_root


def test_run_into_head_records_every_node_s_own_result(edge_lab, tmp_path):
    servers = [edge_lab.start_sshd(name) for name in ("a", "b", "c")]
    for s in servers:
        edge_lab.trust(s)
    cfg = write_config(edge_lab, tmp_path, servers)
    state = str(tmp_path / "state")
    race = edge_lab.workdir / "race"  # the nodes log in as the lab user: a folder it can reach
    race.mkdir()
    chown(race, edge_lab.user)
    command = f"mkdir {race}/first 2>/dev/null && echo first && exit 0; sleep 2; echo later"

    run = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--config", cfg, "--state-dir", state, "lab",
                            "--", command],
                           cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=run.stdout, stdout=subprocess.PIPE)
    assert run.stdout is not None
    run.stdout.close()  # head alone reads it, as in a shell pipeline
    shown, _ = head.communicate(timeout=180)
    _, err = run.communicate(timeout=180)

    assert shown.split()[1:3] == [b"exit", b"0"] and shown.rstrip().endswith(b"first"), shown
    said = err.decode(errors="replace")
    assert "Broken pipe" not in said and "Traceback" not in said and "Exception ignored" not in said, said
    assert run.returncode == 0

    audit = envdeck("audit", "--config", cfg, "--state-dir", state, "--json")
    rows = [e for e in json.loads(audit.stdout)["entries"] if e["action"] == "run"]
    assert sorted(e["target"] for e in rows) == ["edge/node/n0", "edge/node/n1", "edge/node/n2"]
    for row in rows:
        assert row["result"] == "succeeded" and row["message"].startswith("exit 0 in "), row
