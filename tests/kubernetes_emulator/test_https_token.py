"""The demo's emulator serves HTTPS with a token of its run (backends/sim/k8s_emulator/tls.py):
kubectl sends a bearer token to an HTTPS server only, so the documented `kubectl -n staging get
pods` after `. demo.env` answered 401 while the emulator spoke plain HTTP (breaker finding,
session 12). kubectl and envdeck's backend both verify the certificate from the kubeconfig and
get in; a kubeconfig with another token does not."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import yaml

from backends.sim.k8s_emulator import Emulator
from tests.kubernetes_emulator.support import KUBECTL


async def _kubectl(kubeconfig: Path, home: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}
    proc = await asyncio.create_subprocess_exec(KUBECTL, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode, out.decode(), err.decode()


async def test_kubectl_and_the_backend_get_in_over_https_with_the_runs_token(tmp_path):
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (Debian package: kubernetes-client)")
    from backends.kubernetes import KubernetesBackend
    from tui.core.config import Defaults, KubernetesConfig

    emu = Emulator(token="this-runs-token")
    emu.add_namespace("staging")
    emu.create_deployment("staging", "web", replicas=1)
    url = await emu.start(host="127.0.0.1", port=0, tls=True)
    try:
        assert url.startswith("https://127.0.0.1:")
        kubeconfig = emu.write_kubeconfig(tmp_path / "kc", namespace="staging", context="demo-staging")
        assert "certificate-authority-data" in kubeconfig.read_text()
        code, out, err = await _kubectl(kubeconfig, tmp_path, "get", "pods", "-o", "name")
        assert code == 0 and out.startswith("pod/web-"), (code, out, err)
        backend = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(kubeconfig), namespace="staging"),
                                    Defaults())
        try:
            assert any(r.id == "kubernetes/Deployment/web" for r in (await backend.observe()).resources)
        finally:
            await backend.close()
        other = yaml.safe_load(kubeconfig.read_text())
        other["users"][0]["user"]["token"] = "not-the-token"
        stranger = tmp_path / "stranger"
        stranger.write_text(yaml.safe_dump(other))
        code, out, err = await _kubectl(stranger, tmp_path, "get", "pods")
        assert code != 0 and ("Unauthorized" in err or "credentials" in err), (code, out, err)
    finally:
        await emu.stop()
