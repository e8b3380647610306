"""A stateful Kubernetes API emulator (aiohttp) that the official client and kubectl accept.

Used by the test suite, the benchmarks and `envdeck demo`; run it by hand with
`python -m backends.sim.k8s_emulator --port 8001 --seed demo --kubeconfig /tmp/kubeconfig`.

Serves: discovery and OpenAPI v3, CRUD with JSON/merge/strategic patches, label and field
selectors, paginated lists, watches (bookmarks, 410 after compaction), server-side tables,
pods/log (follow), scale, controllers for Deployments/ReplicaSets/StatefulSets/DaemonSets/Jobs,
metrics.k8s.io, and pods/exec over WebSocket (simulated commands: exec.py). Not served:
attach, port-forward, exec over SPDY (kubectl < 1.30), server-side apply, protobuf.
"""

from .emulator import Emulator
from .thread import EmulatorThread

__all__ = ["Emulator", "EmulatorThread"]
