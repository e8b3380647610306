"""The demo's simulated edge nodes, driven by the real EdgeBackend over SSH."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest
import yaml

from backends.edge import EdgeBackend
from backends.edge.commands import ProbeRequest
from backends.sim.edge.simulator import EdgeSimulator
from tests.terminal import TerminalSession
from tui.core.config import Defaults, EdgeConfig, parse_config
from tui.core.errors import BackendDenied
from tui.core.model import Drift, Health

FROZEN = 1_700_000_000.0


@pytest.fixture
async def sim():
    simulator = await EdgeSimulator(nodes=["gw-01", "gw-02", "gw-03"], seed=7, log_interval_s=0.05).start()
    yield simulator
    await simulator.close()


@pytest.fixture
async def sim_backend(sim):
    backend = EdgeBackend("demo", EdgeConfig.model_validate(sim.edge_config_dict()), Defaults())
    yield backend
    await backend.close()


async def test_the_demo_scenario_has_drift_pressure_and_findings(sim_backend):
    obs = await sim_backend.observe()
    res = {r.id: r for r in obs.resources}
    assert res["edge/node/gw-01"].health == Health.HEALTHY and not res["edge/node/gw-01"].findings
    assert res["edge/service/gw-02:mosquitto"].drift == Drift.DRIFTED
    gw3 = res["edge/node/gw-03"]
    assert gw3.health == Health.DEGRADED and "disk /var 93%" in gw3.health_reason
    assert {f.rule for f in gw3.findings} == {"disk-full", "clock-skew", "reboot-required"}
    assert {f.rule for f in res["edge/node/gw-02"].findings} == {"ssh-password-auth"}
    assert [(d.resource, d.field) for d in sim_backend.diff(obs)] == [("edge/service/gw-02:mosquitto", "active")]


async def test_repair_starts_the_stopped_service(sim_backend, sim):
    (drift,) = sim_backend.diff(await sim_backend.observe())
    assert (await sim_backend.repair(drift)).ok
    assert sim.node("gw-02").services["mosquitto"] is True
    obs = await sim_backend.observe()
    assert sim_backend.diff(obs) == []
    node = sim_backend.resource_for("edge/node/gw-01")
    assert (await sim_backend.perform(node, "reboot", {})).ok
    assert "node-reboot" in sim.node("gw-01").commands_seen


async def test_logs_stream_forever_and_closing_ends_the_simulated_process(sim_backend, sim):
    stream = sim_backend.logs("edge/service/gw-01:nginx", follow=True, tail=5)
    numbers = []
    async for line in stream:
        numbers.append(int(line.text.split("#")[1].split()[0]))
        if len(numbers) == 12:
            break
    assert sim.active_streams == 1
    await stream.aclose()
    assert numbers == list(range(numbers[0], numbers[0] + 12))  # in order, none missing
    deadline = time.monotonic() + 30
    while sim.active_streams and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert sim.active_streams == 0


async def test_nothing_runs_on_this_machine(sim_backend, tmp_path):
    target = tmp_path / "touched"
    results = await sim_backend.run_fleet(f"touch {target}")
    assert {r.exit_code for r in results} == {127}
    assert not target.exists()
    (passwd,) = await sim_backend.run_fleet("cat /etc/passwd", nodes=["gw-01"])
    assert passwd.exit_code == 1 and "root:" not in passwd.stdout
    uptime = await sim_backend.run_fleet("uptime", nodes=["gw-0[12]"])
    assert [r.node for r in uptime] == ["gw-01", "gw-02"] and all("load average" in r.stdout for r in uptime)


async def test_host_keys_are_checked_against_the_simulators_known_hosts(sim):
    other = await EdgeSimulator(nodes=["gw-01"], seed=8).start()
    try:
        cfg = dict(sim.edge_config_dict(), known_hosts=str(other.known_hosts_path))
        backend = EdgeBackend("demo", EdgeConfig.model_validate(cfg), Defaults())
        with pytest.raises(BackendDenied):
            await backend.observe()
        await backend.close()
    finally:
        await other.close()


async def test_config_block_goes_through_the_yaml_loader(sim):
    text = yaml.safe_dump({"environments": {"demo": {"edge": sim.edge_config_dict()}}})
    cfg = parse_config(text, "demo.yaml").environments["demo"].edge
    assert [n.name for n in cfg.nodes] == ["gw-01", "gw-02", "gw-03"]
    assert cfg.commands.status == "svc-ctl status {service}"


def test_same_seed_and_clock_give_the_same_answers():
    def run(seed: int) -> list[str]:
        a = EdgeSimulator(nodes=["gw-01", "gw-02"], seed=seed, clock=lambda: FROZEN)
        req = ProbeRequest("n", ("svc-ctl status nginx",), cpu_delta=True)
        node = a.node("gw-02")
        log = node.execute("svc-log nginx 3")
        keys = [k.export_public_key().decode() for k in a.host_keys.values()]
        return [node.probe_output(req), node.probe_output(req), *log.backlog, log.next_line(), *keys]

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client (`s` in the demo runs it)")
async def test_the_demo_shell_key_gets_a_simulated_login(sim, sim_backend, tmp_path):
    """`s` on a demo node runs the backend's ssh argv (strict host key checking against the
    simulator's known_hosts) on a terminal: a prompt answers simulated commands, nothing runs
    here, and `exit` ends the session with status 0."""
    obs = await sim_backend.observe()
    node = next(r for r in obs.resources if r.id == "edge/node/gw-01")
    argv = sim_backend.shell_command(node)
    assert argv is not None and "StrictHostKeyChecking=yes" in argv
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
    with TerminalSession(argv, env=env, cwd=tmp_path) as term:
        # the session is blocking I/O on the pty: in a thread, so that the simulator (this loop) answers
        await asyncio.to_thread(term.expect, b"envdeck@gw-01:~$ ", what="the simulated prompt")
        at = term.mark()
        term.send(b"hostname\r")
        await asyncio.to_thread(term.expect, b"gw-01\r\n", b"envdeck@gw-01:~$ ", since=at, what="hostname")
        at = term.mark()
        term.send(b"rm -rf /tmp/x; id\r")  # no shell: operators are not simulated, nothing is run
        await asyncio.to_thread(term.expect, b"only simple commands are simulated", since=at, what="refusal")
        term.send(b"exit\r")
        assert await asyncio.to_thread(term.wait_exit, 60) == 0
    assert "hostname" in sim.node("gw-01").commands_seen
