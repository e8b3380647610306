"""Which desired fields an edge action sets (pure: no node is reached). A listed service is
desired active; stopping it contradicts that, which the reconciler asks about in `auto` mode."""

from __future__ import annotations

from backends.edge.backend import EdgeBackend
from tui.core.config import Defaults, EdgeConfig
from tui.core.model import Resource


def test_services_are_desired_active_and_stop_contradicts_it(tmp_path):
    config = EdgeConfig.model_validate({"known_hosts": str(tmp_path / "known_hosts"),
                                        "nodes": [{"name": "gw-01", "host": "127.0.0.1", "services": ["nginx"]}]})
    backend = EdgeBackend("staging", config, Defaults())
    service = Resource("edge/service/gw-01:nginx", "edge", "service", "gw-01:nginx")
    node = Resource("edge/node/gw-01", "edge", "node", "gw-01")
    assert backend.desired_fields(service) == {"active": True}
    assert backend.desired_fields(node) == {}
    assert backend.action_effect(service, "stop", {}) == {"active": False}
    assert backend.action_effect(service, "start", {}) == {"active": True}
    assert backend.action_effect(service, "restart", {}) == {}
    assert backend.action_effect(node, "reboot", {}) == {}
