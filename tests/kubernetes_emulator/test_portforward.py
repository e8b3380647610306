"""`pods/portforward` over WebSocket with two clients nobody here wrote: the official Python
client's `portforward` (`v4.channel.k8s.io`, the kubelet's WebSocket protocol) and kubectl
>= 1.31 (SPDY/3.1 tunnelled through the WebSocket, `SPDY/3.1+portforward.k8s.io`). The
emulated pod's declared container ports answer HTTP or echo; any other port is refused on
the port's error channel/stream, as a kubelet reports it."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import portforward

from tests.kubernetes_emulator.support import KUBECTL, Cluster, client_minor, wait_for


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


kubectl_ws = pytest.mark.skipif(KUBECTL is None or client_minor() < 31,
                                reason="needs kubectl >= 1.31 (port-forward over WebSocket; older ones speak SPDY only)")


class KubectlPortForward:
    """`kubectl port-forward TARGET :REMOTE` in the background; `local` is the port it chose."""

    def __init__(self, kubectl, target: str, remote: int):
        self.proc = subprocess.Popen([KUBECTL, "port-forward", target, f":{remote}"], env=kubectl.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> REMOTE"
        match = re.search(r"127\.0\.0\.1:(\d+) -> (\d+)", line)
        assert match, f"kubectl port-forward said {line!r}: {self.stop()}"
        self.local = int(match.group(1))

    def exchange(self, payload: bytes, until: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.local), timeout=30) as sock:
            sock.sendall(payload)
            return _recv_until(sock, until)

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err


@kubectl_ws
def test_kubectl_port_forward_over_websocket_reaches_the_pod(cluster: Cluster, pod: str, kubectl):
    forward = KubectlPortForward(kubectl, f"pod/{pod}", 80)
    try:
        answer = forward.exchange(b"GET /status HTTP/1.1\r\nHost: web\r\n\r\n", b"GET /status HTTP/1.1\n")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and f"pod {pod}".encode() in answer
        payload = bytes(range(256)) * 8
        assert forward.exchange(payload, payload[-256:]) == payload  # a second connection, binary both ways
    finally:
        err = forward.stop()
    assert "error" not in err.lower(), err
    assert cluster.emu.port_forwards.opened == 1  # one WebSocket: kubectl multiplexes its connections
    assert cluster.emu.port_forwards.bytes_from_client >= len(payload)


@kubectl_ws
def test_kubectl_port_forward_to_a_service_and_a_refused_port(cluster: Cluster, pod: str, kubectl):
    cluster.emu.create_service("staging", "web", selector={"app": "web"}, port=8080, target_port=80)
    forward = KubectlPortForward(kubectl, "svc/web", 8080)  # kubectl maps 8080 to the pod's port 80
    try:
        assert b"container web, port 80" in forward.exchange(b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.0\n")
    finally:
        forward.stop()
    refused = KubectlPortForward(kubectl, f"pod/{pod}", 9999)
    try:
        assert refused.exchange(b"x", b"never") == b""
    finally:
        err = refused.stop()
    assert "connection refused" in err
