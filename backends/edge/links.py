"""Xray links of the edge nodes: node → each service it runs (`runs`), as the config lists them."""

from __future__ import annotations

from backends.edge.resources import service_id
from tui.core.model import Resource
from tui.core.xray import Link


def resource_links(resources: list[Resource]) -> list[Link]:
    return [Link(node.id, service_id(node.name, str(service)), "runs")
            for node in resources if node.kind == "node" for service in node.attributes.get("services") or ()]
