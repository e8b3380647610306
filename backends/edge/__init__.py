"""The edge backend: SSH nodes (asyncssh) with their services, host metrics,
logs, compliance and fleet commands. `simulator.EdgeSimulator` serves
simulated nodes for `envdeck demo`."""

import warnings


def _quiet_asyncssh_dsa_warning() -> None:
    """asyncssh (2.x) names cryptography's DSA classes at import, and cryptography (>= 43)
    warns for each: ten lines of `CryptographyDeprecationWarning: DSA is deprecated` on
    every start of envdeck. envdeck never uses DSA keys; ignore exactly that warning,
    raised from asyncssh's modules, before any submodule imports asyncssh. Any other
    warning, and this one from any other module, still shows."""
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:  # pragma: no cover - cryptography comes with asyncssh
        return
    warnings.filterwarnings("ignore", message=r"DSA is deprecated", category=CryptographyDeprecationWarning,
                            module=r"asyncssh(\.|$)")


_quiet_asyncssh_dsa_warning()

from backends.edge.backend import EdgeBackend  # noqa: E402 - after the filter, which must precede asyncssh
from backends.edge.fleet import FleetResult, fleet_json, fleet_summary  # noqa: E402

__all__ = ["EdgeBackend", "FleetResult", "fleet_json", "fleet_summary"]
