"""Fixtures of the fault suites: servers the tests can stop and restart — a moto server
on a fixed loopback port, the Kubernetes API emulator with failure injection, and
sshd nodes (the edge lab)."""

from __future__ import annotations

from tests.edge.conftest import edge_lab, ssh_login  # noqa: F401 - fixtures reused as they are
from tests.moto_server import moto_life  # noqa: F401 - fixture reused as it is
from tests.security.conftest import k8s_emulator  # noqa: F401 - fixture reused as it is
