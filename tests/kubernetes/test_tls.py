"""TLS as real clusters use it: the CA and the client certificate come from the
kubeconfig (`certificate-authority-data`, `client-certificate-data`) through the
official loader, and the raw-JSON path (aiohttp) uses them for lists, watches
and logs. The emulator speaks plain HTTP, so a TLS proxy fronts it."""

from __future__ import annotations

import pytest
import yaml

from tests.kubernetes.support import NS, by_id
from tests.kubernetes.tls_proxy import Pki, TlsProxy, b64
from tui.core.config import Defaults, KubernetesConfig
from tui.core.errors import BackendUnreachable


def _kubeconfig(path, server: str, ca: bytes, cert: bytes, key: bytes):
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "tls",
        "clusters": [{"name": "tls", "cluster": {"server": server, "certificate-authority-data": b64(ca)}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
        "contexts": [{"name": "tls", "context": {"cluster": "tls", "user": "admin", "namespace": NS}}],
    }))
    return path


@pytest.fixture
async def tls(emulator, tmp_path):
    pki = Pki(tmp_path)
    proxy = TlsProxy(pki, emulator.port)
    url = await proxy.start()
    try:
        yield pki, url
    finally:
        await proxy.stop()


async def test_ca_and_client_certificate_from_kubeconfig(emulator, tls, tmp_path):
    from backends.kubernetes import KubernetesBackend

    pki, url = tls
    emulator.create_deployment(NS, "web", replicas=1)
    cert, key = pki.issue("admin", server=False)
    path = _kubeconfig(tmp_path / "kc", url, pki.ca_pem, cert, key)
    backend = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(path), namespace=NS), Defaults())
    try:
        assert (await backend.check()).startswith("Kubernetes v1.")
        obs = await backend.observe()
        assert "kubernetes/Deployment/web" in by_id(obs)
        pod = next(r for r in obs.resources if r.kind == "Pod")
        emulator.append_log(NS, pod.name, "over tls")
        lines = [ln.text async for ln in backend.logs(pod.id)]
        assert "over tls" in lines
    finally:
        await backend.close()


async def test_unknown_ca_is_refused(emulator, tls, tmp_path):
    from backends.kubernetes import KubernetesBackend

    pki, url = tls
    other = Pki(tmp_path, cn="someone-else")
    cert, key = pki.issue("admin", server=False)
    path = _kubeconfig(tmp_path / "kc", url, other.ca_pem, cert, key)
    backend = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(path), namespace=NS), Defaults(timeout=10))
    try:
        with pytest.raises(BackendUnreachable, match="certificate"):
            await backend.observe()
    finally:
        await backend.close()


async def test_client_certificate_is_what_lets_us_in(emulator, tls, tmp_path):
    from backends.kubernetes import KubernetesBackend

    pki, url = tls
    stranger = Pki(tmp_path, cn="stranger-ca")  # a client certificate the server does not trust
    cert, key = stranger.issue("admin", server=False)
    path = _kubeconfig(tmp_path / "kc", url, pki.ca_pem, cert, key)
    backend = KubernetesBackend("s", KubernetesConfig(kubeconfig=str(path), namespace=NS), Defaults(timeout=10))
    try:
        with pytest.raises(BackendUnreachable, match="cannot reach"):
            await backend.observe()
    finally:
        await backend.close()


async def test_in_cluster_service_account(tmp_path, monkeypatch):
    """Inside a pod (KUBERNETES_SERVICE_HOST set, no kubeconfig): the service account's
    token and CA. The loader's fixed file paths under /var/run/secrets cannot be
    used on this machine, so only those two constants point into tmp_path."""
    from kubernetes.config import incluster_config

    from backends.kubernetes import KubernetesBackend
    from backends.sim.k8s_emulator import Emulator

    emu = Emulator(token="service-account-token")
    await emu.start(host="127.0.0.1", port=0)
    pki = Pki(tmp_path)
    proxy = TlsProxy(pki, emu.port, require_client_cert=False)
    await proxy.start()
    try:
        emu.add_namespace(NS)
        emu.create_service(NS, "api")
        (tmp_path / "token").write_text("service-account-token")
        monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
        monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(pki.ca_file))
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(proxy.port))
        backend = KubernetesBackend("s", KubernetesConfig(namespace=NS), Defaults())
        try:
            obs = await backend.observe()
            assert "kubernetes/Service/api" in by_id(obs)
            assert backend.connection.context is None and backend.connection.host.startswith("https://")
            assert "service-account-token" not in backend.describe()
        finally:
            await backend.close()
    finally:
        await proxy.stop()
        await emu.stop()
