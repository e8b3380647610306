"""The deployment recipes of docs/deploy/: the Kubernetes manifests applied with kubectl
to the project's Kubernetes API emulator (and found there as written), the systemd unit
checked by `systemd-analyze verify` where it is installed and read directive by directive
everywhere."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tests.helpers import repo_root
from tests.kubernetes_emulator.support import KUBECTL, client_minor
from tui.core.config import load_config

DEPLOY = repo_root() / "docs" / "deploy"
MANIFESTS = DEPLOY / "kubernetes"
UNIT = DEPLOY / "envdeck-agent.service"


@pytest.fixture
def kubectl_on_emulator(tmp_path):
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (Debian package: kubernetes-client)")
    thread = EmulatorThread(Emulator(seed=5))
    thread.start()
    kubeconfig = thread.emu.write_kubeconfig(tmp_path / "kubeconfig", namespace="default")
    home = tmp_path / "kubectl-home"
    home.mkdir()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}
    validate = () if client_minor() >= 27 else ("--validate=false",)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, *args, *validate], env=env, capture_output=True, text=True, timeout=120)

    try:
        yield thread.emu, run
    finally:
        thread.stop()


def test_kubernetes_manifests_apply_on_the_emulator(kubectl_on_emulator, tmp_path):
    emu, kubectl = kubectl_on_emulator
    out = kubectl("apply", "-f", f"{MANIFESTS}/")
    assert out.returncode == 0, out.stderr
    created = {line.split()[0] for line in out.stdout.splitlines() if line.endswith(" created")}
    assert created == {"namespace/envdeck", "serviceaccount/envdeck-agent", "secret/envdeck-state",
                       "configmap/envdeck-config", "deployment.apps/envdeck-agent", "service/envdeck-agent",
                       "poddisruptionbudget.policy/envdeck-agent"}

    deployment = emu.get("apps/deployments", "envdeck", "envdeck-agent")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    [container] = pod["containers"]
    assert container["args"][:1] == ["agent"] and "--listen-any" in container["args"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
        assert container[probe]["httpGet"]["port"] == "http"
    assert container["ports"][0]["containerPort"] == 9464
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert container["envFrom"] == [{"secretRef": {"name": "envdeck-state"}}]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/etc/envdeck", "/var/lib/envdeck", "/tmp"} <= mounts  # writable places beside a read-only root
    assert len(emu.pod_names("envdeck")) == 2  # the emulator's controllers made the replicas
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert emu.get("policy/poddisruptionbudgets", "envdeck", "envdeck-agent")["spec"]["minAvailable"] == 1

    secret = emu.get("secrets", "envdeck", "envdeck-state")
    url = base64.b64decode(secret["data"]["ENVDECK_STATE_URL"]).decode()
    assert url.startswith("postgresql://") and "replace-me" not in url  # the password is not in the URL

    # the shipped envdeck.yaml is a config envdeck accepts
    configmap = emu.get("configmaps", "envdeck", "envdeck-config")
    shipped = tmp_path / "envdeck.yaml"
    shipped.write_text(configmap["data"]["envdeck.yaml"])
    assert load_config(shipped).environments

    again = kubectl("apply", "-f", f"{MANIFESTS}/")
    assert again.returncode == 0, again.stderr
    # as against a real apiserver, kubectl sends two objects again: a Secret's stringData is
    # write-only (merged into data, so kubectl finds it missing) and a PDB's selector is
    # `patchStrategy: replace` in kubectl's own types (sent whole every time); the rest is unchanged
    lines = {line.split()[0]: line.split()[1] for line in again.stdout.splitlines()}
    assert lines.pop("secret/envdeck-state") in ("unchanged", "configured")
    assert lines.pop("poddisruptionbudget.policy/envdeck-agent") in ("unchanged", "configured")
    assert set(lines.values()) == {"unchanged"}, again.stdout
    secret = emu.get("secrets", "envdeck", "envdeck-state")
    assert "stringData" not in secret and base64.b64decode(secret["data"]["ENVDECK_STATE_URL"]).decode() == url


def _unit() -> dict[str, dict[str, list[str]]]:
    """The unit's directives by section, every value of a repeated one (Environment=) kept."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, raw in enumerate(UNIT.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{UNIT}:{number}: not a directive: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_unit_key_directives():
    unit = _unit()
    service = {key: values[-1] for key, values in unit["Service"].items()}
    assert service["User"] == "envdeck" and service["Group"] == "envdeck"
    assert service["StateDirectory"] == "envdeck" and service["StateDirectoryMode"] == "0700"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/envdeck"
    assert service["Restart"] == "on-failure" and service["RestartPreventExitStatus"] == "2"
    assert service["EnvironmentFile"].lstrip("-") == "/etc/envdeck/agent.env"
    assert "ENVDECK_STATE_DIR=/var/lib/envdeck" in unit["Service"]["Environment"]
    assert "ENVDECK_CONFIG=/etc/envdeck/envdeck.yaml" in unit["Service"]["Environment"]
    argv = service["ExecStart"].split()
    assert argv[1:] == ["agent", "--listen", "127.0.0.1:9464"]
    assert "-HUP" in service["ExecReload"] and service["KillSignal"] == "SIGTERM"
    assert service["CapabilityBoundingSet"] == ""
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_systemd_unit_verifies(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the directives are checked by the test above)")
    # verify wants ExecStart's program to exist: a stand-in at another path, the rest as shipped
    program = tmp_path / "envdeck"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/envdeck", str(program)))
    out = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # an unknown or misspelt directive is only a warning for systemd: none may be printed
    assert out.stderr.strip() == "" and out.stdout.strip() == "", out.stderr + out.stdout


def test_manifests_are_plain_yaml_with_one_object_each():
    for path in sorted(MANIFESTS.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert len(docs) == 1, path
        assert docs[0]["metadata"].get("namespace", "envdeck") == "envdeck", path
