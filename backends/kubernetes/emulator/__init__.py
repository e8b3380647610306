"""A stateful Kubernetes API emulator (aiohttp) that the official client and kubectl accept.

Used by the test suite, the benchmarks and `envdeck demo`; run it by hand with
`python -m backends.kubernetes.emulator --port 8001 --seed demo --kubeconfig /tmp/kubeconfig`.
"""

from .emulator import Emulator
from .thread import EmulatorThread

__all__ = ["Emulator", "EmulatorThread"]
