"""An API server that accepts connections and never answers costs one timeout, not a
retry per request: `envdeck status` exits 1 saying the backend is unreachable, and the
server saw each request of the observe pass exactly once; `check()` (`envdeck doctor`)
asks `GET /version` once (the official client's urllib3 would try four times, a whole
timeout each: backends/kubernetes/connection.py). Counted on the server side."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from backends.kubernetes.backend import KubernetesBackend
from tests.helpers import envdeck, envdeck_inproc
from tests.silent_listener import SilentListener, closed_port, status_json, unreachable
from tui.core.config import Defaults, KubernetesConfig
from tui.core.errors import BackendUnreachable


@pytest.fixture(scope="module")
def silent():
    listener = SilentListener()
    yield listener
    listener.close()


def kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": server}}],
        "users": [{"name": "dead", "user": {"token": "t"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}]}))
    return path


def status(tmp_path: Path, server: str, run=envdeck) -> tuple[int, dict]:
    """`envdeck status --json`; a real process by default (it must exit, nothing left waiting)."""
    return status_json(run, tmp_path, {"defaults": {"timeout": "1s"}, "environments": {"dead": {"kubernetes": {
        "kubeconfig": str(kubeconfig(tmp_path, server)), "namespace": "default"}}}})


def test_status_on_a_silent_api_server_sends_each_request_once(silent, tmp_path):
    before = len(silent.first_lines())
    code, report = status(tmp_path, silent.url)
    assert code == 1
    k8s = unreachable(report, "kubernetes")
    assert "cannot reach" in k8s["error"] and "no answer for 1s" in k8s["error"], k8s["error"]
    requests = Counter(silent.first_lines()[before:])
    assert requests, "the pass sent nothing"
    assert any(line.startswith("GET /api") for line in requests)
    assert max(requests.values()) == 1, requests  # no request was sent twice


def test_status_on_a_closed_port_says_unreachable(tmp_path):
    port = closed_port()
    code, report = status(tmp_path, f"http://127.0.0.1:{port}", run=envdeck_inproc)
    assert code == 1
    assert f"127.0.0.1:{port}" in unreachable(report, "kubernetes")["error"]


async def test_check_asks_a_silent_server_for_its_version_once(silent, tmp_path):
    backend = KubernetesBackend("dead", KubernetesConfig(kubeconfig=str(kubeconfig(tmp_path, silent.url)),
                                                         namespace="default"), Defaults(timeout=1))
    before = len(silent.first_lines())
    try:
        with pytest.raises(BackendUnreachable, match="no answer within 1s"):
            await backend.check()
    finally:
        await backend.close()
    versions = [line for line in silent.first_lines()[before:] if line.startswith("GET /version")]
    assert versions == ["GET /version/ HTTP/1.1"]
