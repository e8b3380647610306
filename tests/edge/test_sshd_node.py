"""One node behind a real OpenSSH sshd on 127.0.0.1: metrics from the real /proc,
services as shell scripts (state in files), drift and repair, actions, fleet
runs, the shell command line, and injection attempts."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from backends.edge import EdgeBackend, FleetResult, fleet_json
from tests.edge.sshd import free_port
from tui.core.config import EdgeNode
from tui.core.errors import BackendDenied, BackendUnreachable
from tui.core.model import Drift, Health, Role


@pytest.fixture
async def node_backend(edge_lab, defaults):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    backend = EdgeBackend("test", edge_lab.config([edge_lab.node("n1", server, services=["web", "db"])]),
                          defaults)
    yield backend, server
    await backend.close()


def _by_id(obs):
    return {r.id: r for r in obs.resources}


async def test_metrics_come_from_the_real_proc_in_one_round_trip(node_backend):
    backend, _ = node_backend
    first = _by_id(await backend.observe())
    node = first["edge/node/n1"]
    assert node.health == Health.HEALTHY, node.health_reason
    mem_total = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    assert node.attributes["memory_total_kb"] == mem_total
    local_uptime = float(Path("/proc/uptime").read_text().split()[0])
    assert 0 < node.attributes["uptime_s"] <= local_uptime
    assert "/" in node.attributes["disks"]
    assert node.attributes["cpu_percent"] is not None  # first pass: in-command delta
    assert abs(node.attributes["clock_skew_s"]) < 5
    assert not any(f.rule == "clock-skew" for f in node.findings)
    assert {"cpu", "memory", "load1", "disk"} <= set(node.metrics)

    obs = await backend.observe()  # second pass: CPU from the two passes
    names = {name for rid, name, _ in obs.samples if rid == "edge/node/n1"}
    assert {"load1", "load5", "load15", "cpu", "memory", "uptime", "disk:/"} <= names
    series = {s.name: s for s in await backend.metrics("edge/node/n1", 3600)}
    assert len(series["load1"].points) == 2 and series["memory"].unit == "%"
    # a single command per sample: exactly the probe channels were opened
    assert backend.links["n1"].connected


async def test_thresholds_make_a_node_degraded_with_the_reason(edge_lab, defaults):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    cfg = edge_lab.config([edge_lab.node("n1", server)], thresholds={"disk_percent": 0.01, "memory_percent": 0.01})
    backend = EdgeBackend("test", cfg, defaults)
    try:
        obs = await backend.observe()
    finally:
        await backend.close()
    (node,) = obs.resources
    assert node.health == Health.DEGRADED
    assert "disk / " in node.health_reason and "memory " in node.health_reason
    assert [(f.resource, f.reason) for f in obs.faults] == [("edge/node/n1", "NodePressure")]


async def test_service_status_drift_and_repair(node_backend, edge_lab):
    backend, _ = node_backend
    edge_lab.activate("web")
    obs = await backend.observe()
    res = _by_id(obs)
    assert res["edge/service/n1:web"].health == Health.HEALTHY
    db = res["edge/service/n1:db"]
    assert (db.health, db.status, db.drift) == (Health.DEGRADED, "inactive (dead)", Drift.DRIFTED)
    drifts = backend.diff(obs)
    assert [(d.resource, d.field, d.desired, d.actual) for d in drifts] == [
        ("edge/service/n1:db", "active", True, False)]
    assert backend.repair_action(drifts[0]) == "start"
    result = await backend.repair(drifts[0])
    assert result.ok, result.message
    assert edge_lab.is_active("db")
    obs = await backend.observe()
    assert backend.diff(obs) == []
    assert _by_id(obs)["edge/service/n1:db"].drift == Drift.IN_SYNC


async def test_service_actions_run_their_templates(node_backend, edge_lab):
    backend, _ = node_backend
    web = backend.resource_for("edge/service/n1:web")
    assert [a.name for a in backend.actions(web)] == ["start", "stop", "restart"]
    assert all(a.role == Role.OPERATOR for a in backend.actions(web))
    assert (await backend.perform(web, "start", {})).ok and edge_lab.is_active("web")
    assert (await backend.perform(web, "stop", {})).ok and not edge_lab.is_active("web")
    assert (await backend.perform(web, "restart", {})).ok and edge_lab.is_active("web")
    assert edge_lab.calls()[-3:] == ["start|web", "stop|web", "restart|web"]
    node = backend.resource_for("edge/node/n1")
    reboot = next(a for a in backend.actions(node) if a.name == "reboot")
    assert reboot.role == Role.ADMIN and reboot.destructive


async def test_a_failing_action_reports_exit_code_and_stderr(edge_lab, defaults):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    cfg = edge_lab.config([edge_lab.node("n1", server, services=["web"],
                                         commands={"restart": "echo 'unit web is masked' >&2; exit 5"})])
    backend = EdgeBackend("test", cfg, defaults)
    try:
        result = await backend.perform(backend.resource_for("edge/service/n1:web"), "restart", {})
    finally:
        await backend.close()
    assert not result.ok
    assert result.data["exit_code"] == 5
    assert "unit web is masked" in result.message


async def test_hostile_service_names_and_paths_stay_inert(edge_lab, defaults):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    d = edge_lab.state
    names = [f"x; touch {d}/pwned1", f"$(touch {d}/pwned2)", f"`touch {d}/pwned3`"]
    hostile_file = f"{d}/log a; touch {d}/pwned4"
    # model_construct skips validation (which refuses these names): what if a future caller doesn't?
    node = EdgeNode.model_construct(**edge_lab.node("n1", server).model_dump(exclude={"services", "log_files"}),
                                    services=names, log_files=[hostile_file])
    backend = EdgeBackend("test", edge_lab.config([node]), defaults)
    try:
        await backend.observe()
        for name in names:
            assert (await backend.perform(backend.resource_for(f"edge/service/n1:{name}"), "start", {})).ok
        lines = [line.text async for line in backend.logs("edge/node/n1", tail=5)]
        await backend.run_fleet(f"echo {os.path.basename(hostile_file)!r}")
    finally:
        await backend.close()
    assert not list(d.glob("pwned*"))
    assert {f"start|{n}" for n in names} <= set(edge_lab.calls())  # each name arrived as one argument
    assert {f"status|{n}" for n in names} <= set(edge_lab.calls())
    assert any("log a; touch" in line for line in lines)  # tail's complaint names the literal path


async def test_fleet_run_results_and_json_shape(node_backend):
    backend, _ = node_backend
    seen: list[FleetResult] = []
    results = await backend.run_fleet("cat /proc/loadavg; echo oops >&2; exit 3", on_result=seen.append)
    assert seen == results
    (r,) = results
    assert (r.node, r.exit_code, r.error, r.outcome) == ("n1", 3, None, "failed")
    assert len(r.stdout.split()) == 5 and r.stderr == "oops\n"
    doc = fleet_json(results)
    assert list(doc) == ["results", "summary"]
    assert list(doc["results"][0]) == ["node", "exit_code", "duration_s", "stdout", "stderr", "error"]
    assert doc["summary"] == {"ok": 0, "failed": 1, "unreachable": 0}
    json.dumps(doc)
    ok = await backend.run_fleet("true", nodes=["n*"])
    assert ok[0].outcome == "ok"


async def test_fleet_action_on_many_services(node_backend, edge_lab):
    backend, _ = node_backend
    results = await backend.run_fleet_action("start", ["edge/service/n1:web", "edge/service/n1:db"])
    assert [(r.node, r.exit_code) for r in results] == [("n1:web", 0), ("n1:db", 0)]
    assert edge_lab.is_active("web") and edge_lab.is_active("db")


async def test_shell_command_is_an_openssh_command_line_that_works(node_backend, edge_lab):
    backend, server = node_backend
    argv = backend.shell_command(backend.resource_for("edge/service/n1:web"))
    assert argv[:1] == ["ssh"] and "StrictHostKeyChecking=yes" in argv
    assert f"UserKnownHostsFile={edge_lab.known_hosts}" in argv and argv[-2:] == ["--", "127.0.0.1"]
    assert f"ConnectTimeout={round(backend.config.connect_timeout)}" in argv  # as envdeck's own connects
    run = subprocess.run([*argv, "echo", "hello-from-node"], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "hello-from-node"


async def test_ssh_config_alias_and_proxyjump_are_honoured(edge_lab, defaults):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    edge_lab.ssh_config.write_text(
        f"Host jump\n  HostName 127.0.0.1\n  Port {server.port}\n  User {edge_lab.user}\n"
        f"  IdentityFile {edge_lab.client_key}\n  UserKnownHostsFile {edge_lab.known_hosts}\n"
        f"Host edge-alias\n  HostName 127.0.0.1\n  Port {server.port}\n  User {edge_lab.user}\n"
        f"  IdentityFile {edge_lab.client_key}\n  ProxyJump jump\n")
    backend = EdgeBackend("test", edge_lab.config([EdgeNode(name="n1", host="edge-alias")]), defaults)
    try:
        (r,) = await backend.run_fleet("echo $SSH_CONNECTION")
    finally:
        await backend.close()
    assert r.exit_code == 0, r.error
    # through the jump host, the node sees a connection coming from sshd itself
    client_ip, _, server_ip, server_port = r.stdout.split()
    assert (client_ip, server_ip, int(server_port)) == ("127.0.0.1", "127.0.0.1", server.port)


async def test_sshd_settings_match_what_sshd_itself_reports(node_backend):
    backend, _ = node_backend
    node = _by_id(await backend.observe())["edge/node/n1"]
    effective = subprocess.run(["/usr/sbin/sshd", "-T"], capture_output=True, text=True)
    if effective.returncode != 0:
        pytest.skip(f"sshd -T does not run here as {os.getuid()}: {effective.stderr.strip()[:200]}")
    truth = dict(line.split(" ", 1) for line in effective.stdout.splitlines() if " " in line)
    aliases = {"without-password": "prohibit-password"}  # sshd -T prints the old name
    # the test login is not root, so the node falls back to reading the config files
    assert node.attributes["sshd_source"] in ("config files", "sshd -T")
    for key in ("permitrootlogin", "passwordauthentication"):
        assert node.attributes["sshd"][key] == aliases.get(truth[key], truth[key])
    rules = {f.rule for f in node.findings}
    assert ("ssh-password-auth" in rules) == (truth["passwordauthentication"] == "yes")


async def test_keys_from_ssh_agent_are_used(edge_lab, defaults, monkeypatch, tmp_path):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            await asyncio.sleep(0.05)
        env = {"SSH_AUTH_SOCK": str(sock), "PATH": os.environ["PATH"]}
        subprocess.run(["ssh-add", str(edge_lab.client_key)], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        node = EdgeNode(name="n1", host=server.address, port=server.port, user=edge_lab.user)  # no identity_file
        backend = EdgeBackend("test", edge_lab.config([node]), defaults)
        try:
            assert await backend.check() == "1/1 nodes reachable"
        finally:
            await backend.close()
    finally:
        agent.terminate()
        agent.wait(10)


async def test_without_any_key_authentication_is_refused_clearly(edge_lab, defaults):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    node = EdgeNode(name="n1", host=server.address, port=server.port, user=edge_lab.user)
    backend = EdgeBackend("test", edge_lab.config([node]), defaults)
    try:
        with pytest.raises(BackendDenied, match="authentication refused"):
            await backend.check()
    finally:
        await backend.close()


async def test_interactive_shell_fallback_over_a_pty(node_backend):
    backend, _ = node_backend
    master, slave = pty.openpty()
    try:
        session = asyncio.create_task(
            backend.interactive_shell(backend.resource_for("edge/node/n1"), stdin_fd=slave, stdout_fd=slave))
        os.write(master, b"echo marker-$((6*7)); exit 3\n")
        seen = b""
        loop = asyncio.get_running_loop()
        while b"marker-42" not in seen:
            chunk = await asyncio.wait_for(loop.run_in_executor(None, os.read, master, 4096), 60)
            if not chunk:
                break
            seen += chunk
        assert b"marker-42" in seen
        assert await asyncio.wait_for(session, 60) == 3
    finally:
        os.close(master)
        os.close(slave)


async def test_a_refused_node_is_retried_with_backoff_not_every_pass(edge_lab, defaults):
    dead = EdgeNode(name="dead", host="127.0.0.1", port=free_port(), user=edge_lab.user,  # nothing listens
                    identity_file=str(edge_lab.client_key))
    backend = EdgeBackend("test", edge_lab.config([dead]), defaults)
    try:
        with pytest.raises(BackendUnreachable, match="cannot connect") as first:
            await backend.observe()
        with pytest.raises(BackendUnreachable, match="next try in"):  # backing off: not tried again yet
            await backend.observe()
        node = backend.resource_for("edge/node/dead")
    finally:
        await backend.close()
    assert "all 1 edge nodes unreachable" in str(first.value)
    assert node.health == Health.UNKNOWN and "never seen" in node.health_reason
    assert backend.links["dead"].failures == 1
