"""`pods/portforward` over WebSocket (`v4.channel.k8s.io`) with a client nobody here wrote:
the official Python client's `portforward` (the one the kubelet's WebSocket protocol was
written for). The emulated pod's declared container ports answer HTTP or echo; any other
port is refused on the port's error channel, as a kubelet reports it."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import portforward

from tests.kubernetes_emulator.support import Cluster, wait_for


@pytest.fixture
def pod(cluster: Cluster) -> str:
    cluster.emu.create_deployment("staging", "web", replicas=1)  # containerPort 80
    pods = wait_for(lambda: [p for p in cluster.core.list_namespaced_pod("staging").items
                             if p.status.phase == "Running"], what="a running pod")
    return pods[0].metadata.name


def _recv_until(sock, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_python_client_speaks_http_through_a_declared_port(cluster: Cluster, pod: str):
    pf = portforward(cluster.core.connect_get_namespaced_pod_portforward, pod, "staging", ports="80")
    sock = pf.socket(80)
    sock.settimeout(30)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: web\r\n\r\n")
    answer = _recv_until(sock, b"GET /healthz HTTP/1.1\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"pod {pod}".encode() in answer
    sock.close()
    assert pf.error(80) is None
    wait_for(lambda: not cluster.emu.port_forwards.active, what="the stream closed on the server")
    assert cluster.emu.port_forwards.opened == 1


def test_other_bytes_are_echoed(cluster: Cluster, pod: str):
    pf = portforward(cluster.core.connect_get_namespaced_pod_portforward, pod, "staging", ports="80")
    sock = pf.socket(80)
    sock.settimeout(30)
    sock.sendall(b"\x00\x01binary ping\n")
    assert _recv_until(sock, b"ping\n") == b"\x00\x01binary ping\n"
    sock.close()


def test_an_undeclared_port_is_refused_on_its_error_channel(cluster: Cluster, pod: str):
    pf = portforward(cluster.core.connect_get_namespaced_pod_portforward, pod, "staging", ports="9999")
    sock = pf.socket(9999)
    sock.settimeout(30)
    assert sock.recv(10) == b""  # the client closes the port on an error
    assert "connection refused" in (pf.error(9999) or "")


def test_a_missing_pod_is_refused_before_any_stream(cluster: Cluster):
    with pytest.raises(ApiException) as missing:
        portforward(cluster.core.connect_get_namespaced_pod_portforward, "nope", "staging", ports="80")
    assert "404" in str(missing.value)
    assert cluster.emu.port_forwards.opened == 0
