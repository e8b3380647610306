"""`l` is offered only where the Kubernetes backend has logs to read (on-call finding 8): pods
and the workloads whose pods it reads, not a Service or a ConfigMap."""

from __future__ import annotations

from backends.sim.k8s_emulator import manifests
from tests.kubernetes.support import NS


async def test_logs_are_offered_on_pods_and_workloads_only(emulator, backend):
    emulator.create("apps/deployments", manifests.deployment(NS, "web", 1, "nginx:1.27", None, None))
    emulator.create_service(NS, "web", selector={"app": "web"})
    emulator.create_configmap(NS, "settings", {"mode": "fast"})
    obs = await backend.observe()
    kinds = {}
    for r in obs.resources:
        kinds.setdefault(r.kind, r)
    assert backend.has_logs(kinds["Deployment"]) and backend.has_logs(kinds["Pod"])
    assert not backend.has_logs(kinds["Service"]) and not backend.has_logs(kinds["ConfigMap"])
    assert backend.shell_command(kinds["Service"]) is None
