"""`envdeck agent` carries out the lifecycle operations handed over by `envdeck env create`
and `envdeck env destroy` without --wait (the lifecycle driver), counted in /metrics and
seen on the Kubernetes API emulator: the namespace and its Deployment created, then the
namespace deleted."""

from __future__ import annotations

import json
import signal

from tests.agent.support import Agent
from tests.helpers import envdeck_inproc as envdeck  # the CLI's main() in this process
from tests.kubernetes_emulator.support import wait_for

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "registry.example/web:{branch}"
"""


def test_agent_drives_create_and_destroy(k8s_emulator, tmp_path):
    thread, kubeconfig, token = k8s_emulator
    emu = thread.emu
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "web.yaml").write_text(MANIFEST)
    config = tmp_path / "envdeck.yaml"
    config.write_text(json.dumps({
        "defaults": {"interval": "10s", "timeout": "5s"},
        "templates": {"preview": {
            "parameters": {"branch": {"type": "string", "pattern": "^[a-z0-9-]{1,30}$"}},
            "ttl": "1h", "repair": "auto", "access": {"admin": ["{creator}"]},
            "kubernetes": {"kubeconfig": str(kubeconfig), "context": "emulator", "namespace": "{env}",
                           "manifests": ["templates/web.yaml"], "timeout": "30s"}}}}))
    state = tmp_path / "state"
    common = ("--config", str(config), "--state-dir", str(state))

    agent = Agent(config, state)
    try:
        agent.wait_listening()
        out = envdeck("env", "create", "pv1", "--template", "preview", "--param", "branch=main", *common)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: agent.metric("envdeck_lifecycle_operations_total", env="pv1", operation="create",
                                      result="succeeded") == 1, timeout=90, what="the create carried out")
        deployment = emu.get("apps/deployments", "pv1", "web")
        assert deployment is not None
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:main"
        ready = agent.wait_record(lambda r: r["msg"] == "lifecycle ready" and r.get("env") == "pv1", "ready")
        assert ready["operation"] is None
        wait_for(lambda: "pv1" in agent.health()[1]["envs"], what="pv1 observed")

        out = envdeck("env", "destroy", "pv1", "--yes", *common)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: agent.metric("envdeck_lifecycle_operations_total", env="pv1", operation="destroy",
                                      result="succeeded") == 1, timeout=90, what="the destroy carried out")
        wait_for(lambda: "pv1" not in agent.health()[1]["envs"], what="pv1 no longer observed")
        namespace = emu.get("namespaces", None, "pv1")
        assert namespace is None or namespace["status"]["phase"] == "Terminating"
        # each operation was carried out once: one Deployment ever created in pv1
        posts = [p for m, p in list(emu.request_log)
                 if m == "POST" and p.split("?")[0] == "/apis/apps/v1/namespaces/pv1/deployments"]
        assert len(posts) == 1
    finally:
        code = agent.stop(signal.SIGTERM)
    assert code == 0, agent.stderr
    assert token not in "\n".join(agent.lines)
