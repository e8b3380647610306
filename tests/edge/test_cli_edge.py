"""`envdeck reconcile` and `envdeck run` against a real sshd: run in the test process
(`envdeck_inproc`: the CLI's main(), its output and exit code), except the confirmation
on a terminal, which needs a pty of its own."""

from __future__ import annotations

import json

import yaml

from tests.helpers import envdeck_inproc as envdeck


def write_config(lab, tmp_path, servers) -> str:
    nodes = [{"name": f"n{i}", "host": s.address, "port": s.port, "user": lab.user,
              "identity_file": str(lab.client_key), "services": ["web", "db"]} for i, s in enumerate(servers)]
    edge = {"known_hosts": str(lab.known_hosts), "ssh_config": str(lab.ssh_config), "nodes": nodes,
            "commands": lab.commands(), "connect_timeout": "10s", "command_timeout": "30s"}
    path = tmp_path / "envdeck.yaml"
    path.write_text(yaml.safe_dump({"environments": {"lab": {"repair": "propose", "edge": edge}}}))
    return str(path)


def test_reconcile_once_repairs_a_stopped_service(edge_lab, tmp_path):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    edge_lab.activate("web")
    cfg = write_config(edge_lab, tmp_path, [server])
    state = str(tmp_path / "state")
    proc = envdeck("reconcile", "--config", cfg, "--state-dir", state, "--once", "--repair", "--json")
    assert proc.returncode == 0, proc.stderr
    (env,) = json.loads(proc.stdout)["environments"]
    assert [(d["resource"], d["field"], d["desired"], d["actual"]) for d in env["drifts"]] == [
        ("edge/service/n0:db", "active", True, False)]
    assert [(r["resource"], r["field"], r["action"], r["result"]) for r in env["repairs"]] == [
        ("edge/service/n0:db", "active", "start", "succeeded")]
    assert edge_lab.is_active("db")

    again = envdeck("reconcile", "--config", cfg, "--state-dir", state, "--once", "--json")
    assert again.returncode == 0, again.stderr
    (env,) = json.loads(again.stdout)["environments"]
    assert env["drifts"] == [] and env["repairs"] == []

    audit = envdeck("audit", "--config", cfg, "--state-dir", state, "--json")
    assert any(e["target"] == "edge/service/n0:db" and e["action"] == "start" and e["result"] == "succeeded"
               for e in json.loads(audit.stdout)["entries"])


def test_run_json_over_the_nodes(edge_lab, tmp_path):
    servers = [edge_lab.start_sshd("a"), edge_lab.start_sshd("b")]
    for s in servers:
        edge_lab.trust(s)
    cfg = write_config(edge_lab, tmp_path, servers)
    state = str(tmp_path / "state")
    proc = envdeck("run", "--config", cfg, "--state-dir", state, "--json", "lab", "--", "cat", "/proc/loadavg")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"] == {"ok": 2, "failed": 0, "unreachable": 0}
    assert [r["node"] for r in doc["results"]] == ["n0", "n1"]
    for r in doc["results"]:
        assert list(r) == ["node", "exit_code", "duration_s", "stdout", "stderr", "error"]
        assert r["exit_code"] == 0 and len(r["stdout"].split()) == 5 and r["error"] is None

    failing = envdeck("run", "--config", cfg, "--state-dir", state, "--nodes", "n1", "--json", "lab", "--",
                      "exit 4")
    assert failing.returncode == 1
    doc = json.loads(failing.stdout)
    assert [(r["node"], r["exit_code"]) for r in doc["results"]] == [("n1", 4)]
    assert doc["summary"] == {"ok": 0, "failed": 1, "unreachable": 0}

    # --nodes repeated (and written before and after ENV): a node matching any glob runs, none is dropped
    for words in (["--nodes", "n0", "--nodes", "n1", "lab"], ["--nodes", "n0", "lab", "--nodes", "n1"]):
        both = envdeck("run", "--config", cfg, "--state-dir", state, "--json", *words, "--", "true")
        assert both.returncode == 0, both.stderr
        assert [r["node"] for r in json.loads(both.stdout)["results"]] == ["n0", "n1"]


def test_run_options_after_env_as_documented(edge_lab, tmp_path):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    cfg = write_config(edge_lab, tmp_path, [server])
    proc = envdeck("run", "--config", cfg, "--state-dir", str(tmp_path / "state"), "lab", "--nodes", "n*",
                   "--json", "--", "cat", "/proc/loadavg")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"] == {"ok": 1, "failed": 0, "unreachable": 0}


def test_run_asks_on_a_terminal_unless_yes(edge_lab, tmp_path):
    """`run` on a terminal asks "Run CMD on N node(s) of ENV? [y/N]" as `act` does: no runs
    nothing on any node (counted on the node side), yes runs it on each; without a terminal
    (the tests above, scripts, pipes) it runs without asking."""
    from tests.terminal import envdeck_on_pty

    servers = [edge_lab.start_sshd("a"), edge_lab.start_sshd("b")]
    for s in servers:
        edge_lab.trust(s)
    cfg = write_config(edge_lab, tmp_path, servers)
    state = str(tmp_path / "state")
    ran = edge_lab.state / "ran.log"  # written by the nodes (the lab user)
    command = f"echo ran >> {ran}"

    def asked(output: bytes) -> bool:
        return b"[y/N]" in output

    refused = envdeck_on_pty("run", "--config", cfg, "--state-dir", state, "lab", "--", command,
                             input_bytes=b"n\n", stop_when=asked)
    assert refused.returncode == 1, refused.text
    assert f"Run {command} on 2 node(s) of lab? [y/N]" in refused.text
    assert "not confirmed; nothing was run" in refused.text
    assert not ran.exists(), "no node ran the command"

    accepted = envdeck_on_pty("run", "--config", cfg, "--state-dir", state, "lab", "--", command,
                              input_bytes=b"y\n", stop_when=asked)
    assert accepted.returncode == 0, accepted.text
    assert ran.read_text().splitlines() == ["ran", "ran"], "each node ran it once"

    unasked = envdeck_on_pty("run", "--config", cfg, "--state-dir", state, "lab", "--yes", "--", command)
    assert unasked.returncode == 0 and "[y/N]" not in unasked.text, unasked.text
    assert len(ran.read_text().splitlines()) == 4


def test_ctrl_c_at_the_run_prompt_ends_the_command_at_once(edge_lab, tmp_path):
    """The first Ctrl-C at "Run CMD ...? [y/N]" ends envdeck with 130 and runs nothing (the
    prompt waits inside asyncio.run, whose own SIGINT handler could not interrupt it: the
    first ^C was echoed and ignored)."""
    from tests.terminal import envdeck_on_pty

    server = edge_lab.start_sshd("a")
    edge_lab.trust(server)
    cfg = write_config(edge_lab, tmp_path, [server])
    ran = edge_lab.state / "ran.log"
    interrupted = envdeck_on_pty("run", "--config", cfg, "--state-dir", str(tmp_path / "state"), "lab", "--",
                                 f"echo ran >> {ran}", input_bytes=b"\x03", stop_when=lambda out: b"[y/N]" in out,
                                 timeout=30)
    assert interrupted.returncode == 130, interrupted.text
    assert not ran.exists(), "no node ran the command"
