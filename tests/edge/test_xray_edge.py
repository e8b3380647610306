"""Xray of the demo's simulated edge nodes (real EdgeBackend over SSH): node → the services it
runs, a stopped service rolling up into its node."""

from __future__ import annotations

import pytest

from backends.edge import EdgeBackend
from backends.sim.edge.simulator import EdgeSimulator
from tui.core.config import Defaults, EdgeConfig
from tui.core.env_state import EnvState
from tui.core.model import Health, worst_health
from tui.core.xray import xray


@pytest.fixture
async def sim_backend():
    simulator = await EdgeSimulator(nodes=["gw-01", "gw-02"], seed=7, log_interval_s=0.05).start()
    backend = EdgeBackend("demo", EdgeConfig.model_validate(simulator.edge_config_dict()), Defaults())
    try:
        yield backend
    finally:
        await backend.close()
        await simulator.close()


async def test_edge_node_runs_its_services(sim_backend):
    obs = await sim_backend.observe()
    state = EnvState("demo", "observe", resources={"edge": {r.id: r for r in obs.resources}})
    sources = {"edge": sim_backend.resource_links}
    services = sorted(r.id for r in obs.resources if r.kind == "service" and r.id.startswith("edge/service/gw-02:"))
    tree = xray(state, "edge/node/gw-02", sources)
    assert sorted(n.resource_id for n in tree.depends_on) == services and services
    assert {n.relation for n in tree.depends_on} == {"runs"}
    stopped = state.resource("edge/service/gw-02:mosquitto")
    assert stopped is not None and stopped.health is not Health.HEALTHY
    assert tree.depends_on[0].resource_id == stopped.id, "the worst service first"
    assert tree.rolled is worst_health([tree.root.health, stopped.health]) and tree.rolled is not Health.HEALTHY
    up = xray(state, stopped.id, sources)
    assert [(n.resource_id, n.relation) for n in up.depended_on_by] == [("edge/node/gw-02", "runs")]
