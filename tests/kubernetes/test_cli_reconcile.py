"""`envdeck reconcile --once --repair --json` (its main() in this process) against the emulator:
drift of replicas and image is found and repaired; a missing workload is
reported and its repair fails cleanly."""

from __future__ import annotations

import asyncio
import json

from tests.helpers import envdeck_inproc
from tests.kubernetes.support import NS, eventually

CONFIG = """environments:
  staging:
    repair: propose
    kubernetes:
      kubeconfig: {kubeconfig}
      namespace: {ns}
      desired:
        - {{kind: Deployment, name: web, replicas: 3, image: "nginx:1.27"}}
        - {{kind: StatefulSet, name: db, image: {{db: "postgres:16.4"}}}}
        - {{kind: Deployment, name: ghost, replicas: 1}}
"""


async def envdeck(*args: str, timeout: float = 180.0) -> tuple[int, str, str]:
    """The CLI's main() in this process (envdeck_inproc: the same exit code, stdout and stderr as
    a subprocess, stdin not a terminal), in a worker thread: the emulator answers on this loop."""
    proc = await asyncio.to_thread(envdeck_inproc, *args, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


async def _async(value):
    return value


def _fields(items):
    return {(d["resource"], d["field"]): d for d in items}


async def test_reconcile_repairs_replicas_and_image(emulator, kubeconfig, tmp_path):
    emulator.create_deployment(NS, "web", replicas=1, image="nginx:1.25")
    emulator.create_statefulset(NS, "db", replicas=1, image="postgres:15")
    config = tmp_path / "envdeck.yaml"
    config.write_text(CONFIG.format(kubeconfig=kubeconfig, ns=NS))
    common = ["--config", str(config), "--state-dir", str(tmp_path / "state")]

    code, out, err = await envdeck("reconcile", "--once", "--repair", "--json", *common)
    assert "Traceback" not in err
    [env] = json.loads(out)["environments"]
    drifts = _fields(env["drifts"])
    assert drifts[("kubernetes/Deployment/web", "replicas")]["desired"] == 3
    assert drifts[("kubernetes/Deployment/web", "replicas")]["actual"] == 1
    assert drifts[("kubernetes/Deployment/web", "image")]["actual"] == "nginx:1.25"
    assert drifts[("kubernetes/StatefulSet/db", "image")]["actual"] == {"db": "postgres:15"}
    assert drifts[("kubernetes/Deployment/ghost", "replicas")]["actual"] is None
    repairs = _fields(env["repairs"])
    assert repairs[("kubernetes/Deployment/web", "replicas")]["action"] == "scale"
    assert repairs[("kubernetes/Deployment/web", "image")]["action"] == "set-image"
    for key in [("kubernetes/Deployment/web", "replicas"), ("kubernetes/Deployment/web", "image"),
                ("kubernetes/StatefulSet/db", "image")]:
        assert repairs[key]["result"] == "succeeded", repairs[key]
    assert repairs[("kubernetes/Deployment/ghost", "replicas")]["result"] == "failed"
    assert code == 1  # one repair failed

    web = emulator.get("deployments", NS, "web")
    assert web["spec"]["replicas"] == 3
    assert [c["image"] for c in web["spec"]["template"]["spec"]["containers"]] == ["nginx:1.27"]
    db = emulator.get("statefulsets", NS, "db")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in db] == [("db", "postgres:16.4")]
    await eventually(lambda: _async(len(emulator.pod_names(NS, "app=web")) == 3), "3 web pods")

    code, out, err = await envdeck("reconcile", "--once", "--json", *common)
    [env] = json.loads(out)["environments"]
    assert [(d["resource"], d["field"]) for d in env["drifts"]] == [("kubernetes/Deployment/ghost", "replicas")]
    assert env["repairs"] == []

    code, out, err = await envdeck("status", "--json", *common)
    [env] = json.loads(out)["environments"]
    resources = {r["id"]: r for r in env["resources"]}
    assert resources["kubernetes/Deployment/ghost"]["health"] == "Missing"
    assert resources["kubernetes/Deployment/ghost"]["drift"] == "Drifted"
    assert resources["kubernetes/Deployment/web"]["drift"] == "InSync"
    assert env["backends"]["kubernetes"]["reachable"] is True


async def test_cli_logs_and_act_through_the_kubernetes_backend(emulator, kubeconfig, tmp_path):
    emulator.create_deployment(NS, "web", replicas=2)
    pods = await eventually(lambda: _async(len(emulator.pod_names(NS, "app=web")) == 2
                                           and sorted(emulator.pod_names(NS, "app=web"))), "2 pods")
    for pod in pods:
        emulator.append_log(NS, pod, f"hello from {pod}")
    config = tmp_path / "envdeck.yaml"
    config.write_text(f"environments:\n  staging:\n    kubernetes: {{kubeconfig: {kubeconfig}, namespace: {NS}}}\n")
    common = ["--config", str(config), "--state-dir", str(tmp_path / "state")]

    code, out, err = await envdeck("logs", "staging", "kubernetes/Deployment/web", "--tail", "5", *common)
    assert code == 0, err
    for pod in pods:
        assert f"{pod}/web hello from {pod}" in out.splitlines()

    code, out, err = await envdeck("act", "staging", "kubernetes/Deployment/web", "scale", "--param", "replicas=3",
                                   "--yes", "--json", *common)
    assert code == 0, err
    assert emulator.get("deployments", NS, "web")["spec"]["replicas"] == 3
    code, out, err = await envdeck("audit", "--json", *common)
    entries = json.loads(out)["entries"]
    assert any(e["action"] == "scale" and e["target"] == "kubernetes/Deployment/web"
               and e["result"] == "succeeded" for e in entries)
