"""An edge backend with most of its nodes down (on-call finding, session 11: 89 of 90 nodes
`NodeUnreachable` read `edge✓`, `reachable: True, error: None`, and the environment's HEALTH
`Unknown` hid a known Degraded service). The backend still answers (reachable: True, as before),
every place that shows it says how many of its nodes are down, `status --json` adds
`nodes_total`/`nodes_unreachable`, and a Degraded service beats the Unknown of the nodes not
reached. Real sshd for the node that answers; loopback ports where nothing listens for the rest."""

from __future__ import annotations

from backends.edge.resources import node_id
from screens.overview_rows import backends_cell
from tests.edge.sshd import free_port
from tests.edge.waiting import wait_for
from tui.cli.output import _backend_cell
from tui.cli.status_summary import summary_lines
from tui.core.config import EdgeNode
from tui.core.model import Health, now_utc
from tui.widgets.cells import Palette
from tui.widgets.status_bar import backend_summary


def trusted_node(edge_lab, name: str, **kw) -> EdgeNode:
    server = edge_lab.start_sshd(name)
    edge_lab.trust(server)
    return edge_lab.node(name, server, **kw)


def refused_node(edge_lab, name: str) -> EdgeNode:
    return EdgeNode(name=name, host="127.0.0.1", port=free_port(), user=edge_lab.user,
                    identity_file=str(edge_lab.client_key))


async def test_nodes_down_are_counted_everywhere_and_a_degraded_service_beats_unknown(edge_lab, reconciling):
    up = trusted_node(edge_lab, "gw-01", services=["web"])  # web inactive: Degraded
    nodes = [up, refused_node(edge_lab, "gw-02"), refused_node(edge_lab, "gw-03")]
    rec, _backend, _calls = await reconciling(nodes, connect_timeout=2, command_timeout=3)
    state = rec.envs["dev"]
    bstate = state.backends["edge"]
    await wait_for(lambda: bstate.reachable is True and state.resource(node_id("gw-01")) is not None
                   and state.resource(node_id("gw-01")).health == Health.HEALTHY, "the first pass with gw-01 up")

    assert state.resource(node_id("gw-02")).health == Health.UNKNOWN
    assert state.resource("edge/service/gw-01:web").health == Health.DEGRADED
    assert state.health() == Health.DEGRADED  # known Degraded beats the Unknown of nodes not reached
    data = state.to_json()["backends"]["edge"]
    assert data["reachable"] is True and data["error"] is None  # the contract as it was
    assert (data["nodes_total"], data["nodes_unreachable"]) == (3, 2)

    now, palette = now_utc(), Palette({})
    assert "edge✗2/3" in backends_cell(state, now, palette).plain
    assert "✗edge2/3" in backends_cell(state, now, palette, compact=True).plain
    assert backend_summary(bstate, now, palette, verbose=False).plain == "edge ✗2/3"
    summary = summary_lines([state.to_json()])
    edge_line = next(line for line in summary if line.lstrip().startswith("edge"))
    assert "PARTIAL 2/3" in edge_line and "2 of 3 nodes unreachable" in edge_line, summary
    assert _backend_cell("edge", data, None).endswith(": 2 of 3 nodes unreachable")


async def test_a_fleet_all_up_reads_as_before(edge_lab, reconciling):
    edge_lab.activate("web")
    nodes = [trusted_node(edge_lab, "gw-01", services=["web"])]
    rec, _backend, _calls = await reconciling(nodes, connect_timeout=2, command_timeout=3)
    state = rec.envs["dev"]
    bstate = state.backends["edge"]
    await wait_for(lambda: bstate.reachable is True, "the first pass")
    data = state.to_json()["backends"]["edge"]
    assert (data["nodes_total"], data["nodes_unreachable"]) == (1, 0)
    assert backends_cell(state, now_utc(), Palette({})).plain == "edge✓"
    assert state.health() == Health.HEALTHY
