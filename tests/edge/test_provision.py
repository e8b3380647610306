"""The lifecycle's edge step (backends/edge/provision.py) against real OpenSSH sshd nodes and
the demo's simulated nodes. Effects are counted on the node side: the lab's service script
keeps a marker file per active service and a log of every call it got, in a state directory
of each node's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.edge.provision import EdgeProvisioner
from backends.sim.edge.simulator import EdgeSimulator
from tests.edge.lab import SERVICE_SCRIPT, EdgeLab, chown
from tests.edge.sshd import free_port, keygen
from tui.core.config import EdgeConfig, EdgeNode
from tui.core.errors import BackendDenied, BackendError, BackendUnreachable, InvalidRequest
from tui.core.lifecycle.records import StepSpec


def claim_step(services: list[str]) -> StepSpec:
    return StepSpec(id="edge", backend="edge", kind="edge-claim",
                    fields={"pool": "gateways", "count": 2, "services": services})


class NodeSide:
    """One node's own service script and state directory (what the node really did)."""

    def __init__(self, lab: EdgeLab, name: str):
        self.state = lab.workdir / f"state-{name}"
        self.state.mkdir()
        chown(self.state, lab.user)
        self.script = lab.workdir / f"svc-{name}.sh"
        self.script.write_text(SERVICE_SCRIPT.format(state=self.state))
        self.script.chmod(0o755)

    def commands(self) -> dict[str, str]:
        s = str(self.script)
        return {"status": f"{s} status {{service}}", "start": f"{s} start {{service}}",
                "stop": f"{s} stop {{service}}"}

    def active(self) -> set[str]:
        return {p.name.removesuffix(".active") for p in self.state.glob("*.active")}

    def calls(self, action: str | None = None) -> list[str]:
        path = self.state / "calls"
        lines = path.read_text().splitlines() if path.exists() else []
        return [ln for ln in lines if action is None or ln.startswith(f"{action}|")]

    def activate(self, service: str) -> None:
        (self.state / f"{service}.active").touch()

    def deactivate(self, service: str) -> None:
        (self.state / f"{service}.active").unlink()


def two_nodes(lab: EdgeLab, services: list[str]) -> tuple[EdgeConfig, dict[str, NodeSide]]:
    sides, nodes = {}, []
    for name in ("n1", "n2"):
        server = lab.start_sshd(name)
        lab.trust(server)
        sides[name] = NodeSide(lab, name)
        nodes.append(lab.node(name, server, services=services, commands=sides[name].commands()))
    return lab.config(nodes), sides


@pytest.fixture
async def provisioners(defaults):
    made: list[EdgeProvisioner] = []

    def make(config: EdgeConfig) -> EdgeProvisioner:
        made.append(EdgeProvisioner("preview-1", config, defaults, template="preview"))
        return made[-1]

    yield make
    for p in made:
        await p.close()


async def test_create_health_delete_round_trip_on_two_sshd_nodes(edge_lab, provisioners):
    cfg, sides = two_nodes(edge_lab, ["web", "db"])
    prov, step = provisioners(cfg), claim_step(["web", "db"])
    assert await prov.find(step) is None
    assert not (await prov.health(step, "n1,n2")).healthy

    assert await prov.create(step, "tok-1") == "n1,n2"
    assert all(side.active() == {"web", "db"} for side in sides.values())
    assert (await prov.health(step, "n1,n2")).healthy
    assert await prov.find(step) == "n1,n2"  # adopted on resume, not started again

    assert await prov.create(step, "tok-1") == "n1,n2"  # idempotent: running services are left alone
    assert all(sorted(side.calls("start")) == ["start|db", "start|web"] for side in sides.values())

    sides["n2"].deactivate("db")
    health = await prov.health(step, "n1,n2")
    assert not health.healthy and not health.terminal
    assert "node n2: service db is not active" in health.reason and "n1" not in health.reason

    assert not await prov.gone(step, "n1,n2")
    await prov.delete(step, "n1,n2")
    assert all(side.active() == set() for side in sides.values())
    assert await prov.gone(step, "n1,n2")
    assert sides["n1"].calls("stop") == ["stop|db", "stop|web"]  # reverse order of the template
    assert sides["n2"].calls("stop") == ["stop|web"]  # db was already stopped: nothing sent
    await prov.delete(step, "n1,n2")  # gone already: not an error, nothing sent
    assert len(sides["n1"].calls("stop")) == 2


async def test_a_service_already_running_is_adopted_by_find(edge_lab, provisioners):
    cfg, sides = two_nodes(edge_lab, ["web"])
    for side in sides.values():
        side.activate("web")
    prov = provisioners(cfg)
    assert await prov.find(claim_step(["web"])) == "n1,n2"
    assert all(side.calls("start") == [] for side in sides.values())


async def test_a_failing_start_names_the_node_and_service(edge_lab, provisioners):
    cfg, sides = two_nodes(edge_lab, ["web"])
    cfg.nodes[1].commands = {**sides["n2"].commands(), "start": "echo cannot start {service} >&2; exit 5"}
    prov = provisioners(cfg)
    with pytest.raises(BackendError) as failed:
        await prov.create(claim_step(["web"]), "tok")
    assert "node n2: start web exited 5: cannot start web" in str(failed.value)
    assert sides["n1"].active() == {"web"} and sides["n2"].active() == set()


async def test_a_changed_host_key_is_refused_before_any_command(edge_lab, provisioners):
    server = edge_lab.start_sshd("n1")
    keygen(edge_lab.workdir / "other_host", "other")
    other = " ".join((edge_lab.workdir / "other_host.pub").read_text().split()[:2])
    edge_lab.known_hosts.write_text(f"[127.0.0.1]:{server.port} {other}\n")
    side = NodeSide(edge_lab, "n1")
    prov = provisioners(edge_lab.config([edge_lab.node("n1", server, services=["web"],
                                                        commands=side.commands())]))
    step = claim_step(["web"])
    with pytest.raises(BackendDenied, match="node n1: HOST KEY CHANGED"):
        await prov.create(step, "tok")
    health = await prov.health(step, "n1")
    assert not health.healthy and "node n1: HOST KEY CHANGED" in health.reason
    assert await prov.find(step) is None and not await prov.gone(step, "n1")
    assert side.calls() == []  # nothing ever ran on the impostor


async def test_an_unreachable_node_is_named_and_asked_again(edge_lab, provisioners):
    server = edge_lab.start_sshd("n1")
    edge_lab.trust(server)
    side = NodeSide(edge_lab, "n1")
    live = edge_lab.node("n1", server, services=["web"], commands=side.commands())
    dead = EdgeNode(name="n2", host="127.0.0.1", port=free_port(), user=edge_lab.user,
                    identity_file=str(edge_lab.client_key), services=["web"], commands=side.commands())
    prov = provisioners(edge_lab.config([live, dead], connect_timeout=2))
    step = claim_step(["web"])

    with pytest.raises(BackendUnreachable, match="node n2: cannot connect"):
        await prov.create(step, "tok")
    assert side.active() == {"web"}  # the reachable node did its part

    health = await prov.health(step, "n1,n2")
    assert not health.healthy and not health.terminal
    assert health.reason.startswith("node n2: ") and "n1" not in health.reason

    # the live node stops; the dead one is said unreachable (not stopped, not gone): the engine asks
    # again with backoff within the step's timeout instead of recording it as an orphan
    with pytest.raises(BackendUnreachable, match="node n2: cannot connect"):
        await prov.delete(step, "n1,n2")
    assert side.active() == set()
    with pytest.raises(BackendUnreachable, match="node n2"):
        await prov.gone(step, "n1,n2")
    assert await prov.gone(step, "n1") is True


async def test_sleep_stops_the_active_services_and_wake_starts_them(edge_lab, provisioners):
    cfg, sides = two_nodes(edge_lab, ["web", "db"])
    prov, step = provisioners(cfg), claim_step(["web", "db"])
    await prov.create(step, "tok")
    sides["n2"].deactivate("db")  # stopped by hand before the sleep: stays stopped after the wake

    memory = await prov.sleep()
    assert memory == {"edge/service/n1:web": {"state": "active"}, "edge/service/n1:db": {"state": "active"},
                      "edge/service/n2:web": {"state": "active"}}
    assert all(side.active() == set() for side in sides.values())

    await prov.wake(memory)
    assert sides["n1"].active() == {"web", "db"} and sides["n2"].active() == {"web"}
    await prov.wake(memory)  # again: nothing started twice
    assert sides["n1"].calls("start").count("start|web") == 2  # create + one wake


async def test_wake_names_a_remembered_service_of_a_node_no_longer_claimed(edge_lab, provisioners):
    cfg, sides = two_nodes(edge_lab, ["web"])
    prov = provisioners(cfg)
    with pytest.raises(BackendError, match="edge/service/gone:web: no such node"):
        await prov.wake({"edge/service/n1:web": {"state": "active"}, "edge/service/gone:web": {"state": "active"}})
    assert sides["n1"].active() == {"web"}  # the others were woken all the same


async def test_hostile_service_names_stay_data(edge_lab, provisioners):
    cfg, sides = two_nodes(edge_lab, ["web"])
    state = sides["n1"].state
    hostile = [f"web; touch {state}/pwned", f"$(touch {state}/pwned2)", f"`touch {state}/pwned3`",
               "x' ; touch /tmp/envdeck-pwned4 ; '"]
    prov, step = provisioners(cfg), claim_step(hostile)
    await prov.create(step, "tok")
    await prov.delete(step, "n1,n2")
    for side in sides.values():
        assert {ln.split("|", 1)[1] for ln in side.calls("start")} == set(hostile)  # one argument each
        assert {ln.split("|", 1)[1] for ln in side.calls("stop")} == set(hostile)
    assert not list(state.glob("pwned*")) and not Path("/tmp/envdeck-pwned4").exists()


async def test_a_native_id_naming_an_unclaimed_node_is_refused(edge_lab, provisioners):
    cfg, sides = two_nodes(edge_lab, ["web"])
    prov = provisioners(cfg)
    with pytest.raises(InvalidRequest, match="node 'n1;reboot' of"):
        await prov.delete(claim_step(["web"]), "n1;reboot")
    with pytest.raises(InvalidRequest, match="'edge-claim' steps"):
        await prov.create(StepSpec("ns", "kubernetes", "Namespace", {"name": "x"}), "tok")
    assert all(side.calls() == [] for side in sides.values())


async def test_close_closes_the_connections(edge_lab, provisioners):
    cfg, _ = two_nodes(edge_lab, ["web"])
    prov = provisioners(cfg)
    await prov.create(claim_step(["web"]), "tok")
    links = list(prov._edge.links.values())
    assert all(link.connected for link in links)
    await prov.close()
    assert not any(link.connected for link in links)
    assert await prov.sweep() == []  # claims live in the store: nothing on the nodes to sweep


# -- the demo's simulated nodes (fast) -------------------------------------------

@pytest.fixture
async def sim():
    simulator = await EdgeSimulator(nodes=["gw-01", "gw-02"], services=("nginx", "mosquitto"),
                                    scenario="clean", seed=3).start()
    yield simulator
    await simulator.close()


async def test_round_trip_on_simulated_nodes(sim, provisioners):
    for node in sim.nodes.values():
        node.services = {"nginx": False, "mosquitto": False}
    prov = provisioners(EdgeConfig.model_validate(sim.edge_config_dict()))
    step = claim_step(["nginx", "mosquitto"])
    assert await prov.create(step, "tok") == "gw-01,gw-02"
    assert all(n.services == {"nginx": True, "mosquitto": True} for n in sim.nodes.values())
    assert (await prov.health(step, "gw-01,gw-02")).healthy

    memory = await prov.sleep()
    assert set(memory) == {f"edge/service/{n}:{s}" for n in sim.nodes for s in ("nginx", "mosquitto")}
    assert all(not any(n.services.values()) for n in sim.nodes.values())
    health = await prov.health(step, "gw-01,gw-02")
    assert not health.healthy and "node gw-01: service nginx is not active" in health.reason
    await prov.wake(memory)
    assert all(all(n.services.values()) for n in sim.nodes.values())

    await prov.delete(step, "gw-01,gw-02")
    assert await prov.gone(step, "gw-01,gw-02")
    assert all(not any(n.services.values()) for n in sim.nodes.values())


async def test_a_hostile_service_name_on_a_simulated_node_is_one_argument(sim, provisioners):
    prov = provisioners(EdgeConfig.model_validate(sim.edge_config_dict()))
    with pytest.raises(BackendError, match="node gw-01: start nginx; node-reboot exited 5"):
        await prov.create(claim_step(["nginx; node-reboot"]), "tok")
    seen = sim.node("gw-01").commands_seen
    assert "svc-ctl start 'nginx; node-reboot'" in seen
    assert not any(c.startswith("node-reboot") for c in seen)
