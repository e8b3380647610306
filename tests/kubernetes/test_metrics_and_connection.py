"""metrics.k8s.io usage per pod and workload (absent → empty), check(), and the
client configuration found as kubectl finds it (token from an exec plugin,
contexts, unreachable servers)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from backends.sim.k8s_emulator import Emulator
from tests.kubernetes.support import NS, eventually
from tui.core.config import Defaults, KubernetesConfig
from tui.core.errors import BackendUnreachable, NotFound


async def _async(value):
    return value


async def test_pod_and_workload_usage(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=2)
    pods = await eventually(lambda: _async(len(emulator.pod_names(NS, "app=web")) == 2
                                           and sorted(emulator.pod_names(NS, "app=web"))), "2 pods")
    emulator.set_pod_metrics(NS, pods[0], cpu="250m", memory="64Mi")
    emulator.set_pod_metrics(NS, pods[1], cpu="1500000n", memory="1Gi")
    series = await backend.metrics(f"kubernetes/Pod/{pods[0]}", 600)
    values = {s.name: (s.unit, s.points[-1][1]) for s in series}
    assert values == {"cpu": ("millicores", 250.0), "memory": ("bytes", 64 * 2**20)}
    web = {s.name: s.points[-1][1] for s in await backend.metrics("kubernetes/Deployment/web", 600)}
    assert web == {"cpu": pytest.approx(251.5), "memory": 64 * 2**20 + 2**30}
    everything = await backend.metrics(None, 600)
    assert {s.resource for s in everything} >= {f"kubernetes/Pod/{p}" for p in pods} | {"kubernetes/Deployment/web"}
    obs = await backend.observe()
    assert ("kubernetes/Deployment/web", "cpu", pytest.approx(251.5)) in obs.samples
    assert len((await backend.metrics(f"kubernetes/Pod/{pods[0]}", 600))[0].points) >= 2  # a history builds up


async def test_no_metrics_api_is_empty_not_an_error(tmp_path):
    emu = Emulator(metrics=False)
    await emu.start(host="127.0.0.1", port=0)
    try:
        emu.add_namespace(NS)
        emu.create_deployment(NS, "web", replicas=1)
        path = emu.write_kubeconfig(tmp_path / "kc", namespace=NS)
        from backends.kubernetes import KubernetesBackend

        backend = KubernetesBackend("staging", KubernetesConfig(kubeconfig=str(path), namespace=NS), Defaults())
        try:
            assert await backend.metrics("kubernetes/Deployment/web", 600) == []
            assert await backend.metrics(None, 600) == []
            obs = await backend.observe()
            assert obs.samples == [] and any(r.kind == "Deployment" for r in obs.resources)
        finally:
            await backend.close()
    finally:
        await emu.stop()


async def test_check_reports_version_host_and_namespace(emulator, backend, make_backend):
    line = await backend.check()
    assert line.startswith("Kubernetes v1.") and f"at {emulator.url}" in line and NS in line
    other = make_backend()
    other.config.namespace = "absent"
    other.namespace = "absent"
    with pytest.raises(NotFound):
        await other.check()


def _exec_kubeconfig(tmp_path: Path, url: str, token: str) -> Path:
    plugin = tmp_path / "token-plugin.py"
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": token}}
    plugin.write_text(f"print({json.dumps(json.dumps(credential))})\n")
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "emu", "cluster": {"server": url}}],
        "users": [{"name": "exec-user", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
            "args": [str(plugin)], "interactiveMode": "Never"}}}],
        "contexts": [{"name": "with-exec", "context": {"cluster": "emu", "user": "exec-user"}},
                     {"name": "other", "context": {"cluster": "emu", "user": "exec-user", "namespace": "x"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_exec_plugin_token_from_the_official_loader(tmp_path):
    token = "exec-issued-token-123"
    emu = Emulator(token=token)
    await emu.start(host="127.0.0.1", port=0)
    try:
        emu.add_namespace(NS)
        emu.create_service(NS, "web")
        path = _exec_kubeconfig(tmp_path, emu.url, token)
        from backends.kubernetes import KubernetesBackend

        good = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(path), context="with-exec", namespace=NS),
                                 Defaults())
        wrong = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(path), context="with-exec", namespace=NS),
                                  Defaults())
        try:
            obs = await good.observe()
            assert "kubernetes/Service/web" in {r.id for r in obs.resources}
            assert good.describe() == f"kubernetes with-exec, namespace {NS}"
            _exec_kubeconfig(tmp_path, emu.url, "a-wrong-token")  # the plugin now issues a bad token
            with pytest.raises(BackendUnreachable) as err:
                await wrong.observe()
            assert "unauthorized" in str(err.value) and "a-wrong-token" not in str(err.value)
        finally:
            await good.close()
            await wrong.close()
    finally:
        await emu.stop()


async def test_kubeconfig_from_environment_and_bad_contexts(emulator, kubeconfig, monkeypatch):
    from backends.kubernetes import KubernetesBackend

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))  # found as kubectl finds it
    backend = KubernetesBackend("s", KubernetesConfig(namespace=NS), Defaults())
    try:
        assert await backend.observe() is not None
        assert backend.connection.context == "emulator"
    finally:
        await backend.close()
    missing = KubernetesBackend("s", KubernetesConfig(namespace=NS, context="nope"), Defaults())
    with pytest.raises(BackendUnreachable, match="nope"):
        await missing.observe()


async def test_unreachable_server(tmp_path):
    emu = Emulator()
    await emu.start(host="127.0.0.1", port=0)
    path = emu.write_kubeconfig(tmp_path / "kc", namespace=NS)
    await emu.stop()  # nothing listens there any more
    from backends.kubernetes import KubernetesBackend

    backend = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(path), namespace=NS), Defaults(timeout=5))
    try:
        with pytest.raises(BackendUnreachable, match="cannot reach"):
            await backend.observe()
        with pytest.raises(BackendUnreachable):
            await backend.check()
    finally:
        await backend.close()
    data = json.dumps(yaml.safe_load(path.read_text()))
    assert "token" in data  # (the dummy token lives in the kubeconfig, never in our errors)


async def test_expired_exec_credential_is_refreshed(tmp_path):
    """The plugin's credential is already expired when issued, so the loader's refresh
    hook runs the plugin again before each request; when the server rotates the token,
    the next call uses the new one without a restart."""
    emu = Emulator(token="first-token")
    await emu.start(host="127.0.0.1", port=0)
    try:
        emu.add_namespace(NS)
        emu.create_service(NS, "web")
        current = tmp_path / "current-token"
        current.write_text("first-token")
        plugin = tmp_path / "rotating-plugin.py"
        plugin.write_text(
            "import json, pathlib\n"
            f"token = pathlib.Path({str(current)!r}).read_text()\n"
            "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
            " 'status': {'token': token, 'expirationTimestamp': '2000-01-01T00:00:00Z'}}))\n")
        path = _exec_kubeconfig(tmp_path, emu.url, "unused")
        config = yaml.safe_load(path.read_text())
        config["users"][0]["user"]["exec"]["args"] = [str(plugin)]
        path.write_text(yaml.safe_dump(config))
        from backends.kubernetes import KubernetesBackend

        backend = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(path), context="with-exec", namespace=NS),
                                    Defaults())
        try:
            assert "kubernetes/Service/web" in {r.id for r in (await backend.observe()).resources}
            emu.token = "second-token"  # the server rotates credentials
            current.write_text("second-token")
            assert "kubernetes/Service/web" in {r.id for r in (await backend.observe()).resources}
        finally:
            await backend.close()
    finally:
        await emu.stop()
