"""The edge backend: SSH nodes (asyncssh) with their services, host metrics,
logs, compliance and fleet commands. `simulator.EdgeSimulator` serves
simulated nodes for `envdeck demo`."""

from backends.edge.backend import EdgeBackend
from backends.edge.fleet import FleetResult, fleet_json, fleet_summary

__all__ = ["EdgeBackend", "FleetResult", "fleet_json", "fleet_summary"]
