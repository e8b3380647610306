"""Port-forward end to end against the Kubernetes emulator: `Session.port_forward` opens a
listener on 127.0.0.1 whose connections go through the API's `pods/portforward` WebSocket
to the emulated pod's port. Bytes both ways (HTTP and echo), a service forwarded to a ready
pod, a stream dropped by the server followed by a working connection, a viewer refused
before anything reaches the server, another local user's connection refused (the forward is
the envdeck user's own), and the audit row from opening to closing. Streams are
counted on the server side (`Emulator.port_forwards`)."""

from __future__ import annotations

import asyncio
import os

import pytest

from backends.registry import create_backends
from tests.kubernetes.support import NS
from tests.other_user import connect_as, needs_other_user, other_user
from tui.core.config import Defaults, KubernetesConfig, parse_config
from tui.core.errors import BackendUnreachable, InvalidRequest, PolicyDenied
from tui.core.model import Origin, Resource
from tui.core.peer_uid import describe_uid
from tui.core.port_forward import ForwardState
from tui.core.session import Session

CONFIG = """environments:
  staging:
    access: {{viewer: [vera], operator: [olga]}}
    kubernetes: {{kubeconfig: "{kubeconfig}", context: emulator, namespace: {ns}}}
"""
WAIT_S = 30.0


@pytest.fixture
async def open_session(kubeconfig, tmp_path):
    sessions: list[Session] = []

    async def open_as(user: str) -> Session:
        config = parse_config(CONFIG.format(kubeconfig=kubeconfig, ns=NS))
        session = await Session.open(config, tmp_path / "state", origin=Origin.TUI, user=user,
                                     backends_factory=create_backends)
        sessions.append(session)
        return session

    try:
        yield open_as
    finally:
        for session in sessions:
            await session.close()


@pytest.fixture
def web(emulator) -> str:
    """A Deployment `web` (its container declares port 80), its one pod's name."""
    emulator.create_deployment(NS, "web", replicas=1)
    pods = [p["metadata"]["name"] for p in emulator.store.objects(_pods(), NS)]
    assert len(pods) == 1
    return pods[0]


def _pods():
    from backends.sim.k8s_emulator.resources import lookup

    return lookup("pods")


async def _exchange(port: int, payload: bytes, until: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        data = b""
        while until not in data:
            chunk = await asyncio.wait_for(reader.read(65536), WAIT_S)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        writer.close()


async def _until(predicate, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


async def _rows(session: Session) -> list[dict]:
    return [r for r in await session.store.audit_entries("staging") if r["action"] == "port-forward"]


async def test_bytes_go_both_ways_and_the_audit_row_spans_the_forward(emulator, web, open_session):
    session = await open_session("olga")
    rid = f"kubernetes/Pod/{web}"
    ports = await session.forward_ports("staging", rid)
    assert [p.port for p in ports] == [80]
    forward = await session.port_forward("staging", rid, 80)
    assert forward.local_address.startswith("127.0.0.1:") and forward.local_port > 0
    assert session.port_forwards() == [forward]
    [row] = await _rows(session)
    assert row["result"] == "pending" and row["params"]["local_port"] == forward.local_port

    answer = await _exchange(forward.local_port, b"GET /healthz HTTP/1.1\r\nHost: web\r\n\r\n", b"HTTP/1.1\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and f"pod {web}".encode() in answer
    payload = bytes(range(256)) * 64  # binary, 16 KiB: every byte value, more than one frame's worth
    assert await _exchange(forward.local_port, payload, payload[-256:]) == payload
    assert forward.stats.bytes_out >= len(payload) and forward.stats.bytes_in >= len(payload)
    assert forward.state is ForwardState.OPEN
    assert emulator.port_forwards.opened == 2  # one stream per connection, on the server
    assert emulator.port_forwards.bytes_from_client >= len(payload)

    await forward.close()
    assert forward.state is ForwardState.CLOSED and session.port_forwards() == []
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", forward.local_port)
    await _until(lambda: not emulator.port_forwards.active, "the server's streams closed")
    [row] = await _rows(session)
    assert row["result"] == "succeeded" and "2 connection(s)" in row["message"]


async def test_a_dropped_stream_is_followed_by_a_working_connection(emulator, web, open_session):
    session = await open_session("olga")
    forward = await session.port_forward("staging", f"kubernetes/Pod/{web}", 80)
    reader, writer = await asyncio.open_connection("127.0.0.1", forward.local_port)
    writer.write(b"hello\n")
    assert await asyncio.wait_for(reader.readline(), WAIT_S) == b"hello\n"
    assert await emulator.port_forwards.drop_all() == 1  # the server drops the stream
    assert await asyncio.wait_for(reader.read(), WAIT_S) == b""  # that connection ends
    writer.close()
    await _until(lambda: forward.state is ForwardState.RECONNECTING, "reconnecting")
    assert forward.stats.drops == 1 and "dropped" in forward.stats.last_error

    assert await _exchange(forward.local_port, b"again\n", b"again\n") == b"again\n"  # the listener survived
    assert forward.state is ForwardState.OPEN
    assert emulator.port_forwards.opened == 2


async def test_a_viewer_is_refused_before_anything_reaches_the_server(emulator, web, open_session):
    session = await open_session("vera")
    before = len(emulator.request_log)
    with pytest.raises(PolicyDenied, match="operator"):
        await session.port_forward("staging", f"kubernetes/Pod/{web}", 80, 18080)
    with pytest.raises(PolicyDenied):
        await session.forward_ports("staging", f"kubernetes/Pod/{web}")
    assert emulator.port_forwards.opened == 0 and emulator.port_forwards.refused == 0
    assert len(emulator.request_log) == before  # no backend call at all
    assert session.port_forwards() == []
    rows = await _rows(session)
    assert [r["result"] for r in rows] == ["denied", "denied"] and rows[0]["user"] == "vera"


@needs_other_user
async def test_another_local_users_connection_is_refused_and_never_reaches_the_cluster(emulator, web, open_session):
    """A shared jump host: 127.0.0.1 is every local user's. Another user's client (runuser)
    is closed at once — no stream on the server, no API request — and counted and named;
    the envdeck user's own connection works; the audit row names the refused uid."""
    peer = other_user()
    session = await open_session("olga")
    forward = await session.port_forward("staging", f"kubernetes/Pod/{web}", 80)
    requests_before = len(emulator.request_log)

    assert await connect_as(forward.local_port) in ("b''", "reset")  # nothing came back
    who = f"uid {peer.pw_uid} (user {peer.pw_name})"
    assert forward.stats.refused == 1 and forward.stats.refused_from == {who: 1}
    assert forward.stats.last_refusal == f"refused a connection from {who}"
    assert forward.stats.connections == 0 and forward.stats.bytes_out == 0
    assert emulator.port_forwards.opened == 0  # counted on the server: no stream at all
    assert len(emulator.request_log) == requests_before  # not even the target's lookup

    answer = await _exchange(forward.local_port, b"GET /healthz HTTP/1.1\r\nHost: web\r\n\r\n", b"HTTP/1.1\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")  # the envdeck user's own connection
    assert emulator.port_forwards.opened == 1 and forward.stats.connections == 1

    await forward.close()
    [row] = await _rows(session)
    me = describe_uid(os.geteuid())
    assert row["result"] == "succeeded"
    assert f"1 connection(s) accepted from {me}; refused a connection from {who};" in row["message"]


async def test_a_service_forwards_to_a_ready_pod_through_its_target_port(emulator, web, open_session):
    emulator.create_service(NS, "web", selector={"app": "web"}, port=8080, target_port=80)
    session = await open_session("olga")
    rid = "kubernetes/Service/web"
    await session.resource("staging", rid)
    assert [p.port for p in await session.forward_ports("staging", rid)] == [8080]
    with pytest.raises(InvalidRequest, match="no port 9"):
        await session.port_forward("staging", rid, 9)
    assert emulator.port_forwards.opened == 0
    forward = await session.port_forward("staging", rid, 8080)
    answer = await _exchange(forward.local_port, b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.0\n")
    assert f"pod {web}, container web, port 80".encode() in answer
    assert forward.stats.target == f"pod/{web}:80"
    rows = await _rows(session)
    assert [r["result"] for r in rows] == ["pending", "failed"]  # newest first


async def test_a_port_nothing_listens_on_is_reported(emulator, web, open_session):
    """The kubelet's words on the error channel (the emulator's, as containerd writes them) are
    read: the forward is in error, "nothing listens on port 9999 in pod NAME" (not `reconnecting`,
    which reads as a network drop), and its audit row counts the refusals apart from drops."""
    session = await open_session("olga")
    forward = await session.port_forward("staging", f"kubernetes/Pod/{web}", 9999)
    for _ in range(2):
        assert await _exchange(forward.local_port, b"x", b"never") == b""
    await _until(lambda: forward.stats.pod_refusals == 2, "both refusals reported")
    assert forward.state is ForwardState.ERROR and forward.stats.drops == 0
    assert forward.stats.last_error == f"nothing listens on port 9999 in pod {web}"
    assert forward.stats.state_text() == f"error: nothing listens on port 9999 in pod {web}"
    assert emulator.port_forwards.opened == 2  # two streams reached the server, both refused there
    await forward.close()
    [row] = await _rows(session)
    assert (f"2 connection(s) refused by the pod (nothing listens on port 9999 in pod {web}), "
            "0 dropped stream(s)") in row["message"]


async def test_the_stream_uses_the_kubeconfig_tls_settings(emulator, web, tmp_path):
    """Through a TLS proxy that wants the kubeconfig's client certificate: the forward's
    WebSocket verifies the server by the kubeconfig's CA and presents the certificate; with
    another CA nothing is opened."""
    from backends.kubernetes import KubernetesBackend
    from tests.kubernetes.test_tls import _kubeconfig
    from tests.kubernetes.tls_proxy import Pki, TlsProxy

    pki = Pki(tmp_path)
    proxy = TlsProxy(pki, emulator.port)
    url = await proxy.start()
    cert, key = pki.issue("admin", server=False)
    good = _kubeconfig(tmp_path / "good", url, pki.ca_pem, cert, key)
    other = Pki(tmp_path, cn="someone-else")
    bad = _kubeconfig(tmp_path / "bad", url, other.ca_pem, cert, key)
    backends = [KubernetesBackend("s", KubernetesConfig(kubeconfig=str(path), namespace=NS), Defaults())
                for path in (good, bad)]
    try:
        pod = Resource(id=f"kubernetes/Pod/{web}", backend="kubernetes", kind="Pod", name=web)
        forwarder = await backends[0].port_forward(pod, 80)
        try:
            assert await _exchange(forwarder.port, b"over tls\n", b"tls\n") == b"over tls\n"
            assert forwarder.stats.target == f"pod/{web}:80"
        finally:
            await forwarder.close()
        with pytest.raises(BackendUnreachable, match="(?i)certificate"):
            await backends[1].port_forward(pod, 80)
        assert emulator.port_forwards.opened == 1
    finally:
        for backend in backends:
            await backend.close()
        await proxy.stop()


async def test_closing_the_session_closes_its_forwards_and_finishes_their_rows(emulator, web, kubeconfig, tmp_path):
    config = parse_config(CONFIG.format(kubeconfig=kubeconfig, ns=NS))
    session = await Session.open(config, tmp_path / "state", origin=Origin.TUI, user="olga",
                                 backends_factory=create_backends)
    forward = await session.port_forward("staging", f"kubernetes/Pod/{web}", 80)
    assert await _exchange(forward.local_port, b"bye\n", b"bye\n") == b"bye\n"
    store_dir = tmp_path / "state"
    await session.close()
    assert forward.state is ForwardState.CLOSED
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", forward.local_port)
    reopened = await Session.open(config, store_dir, origin=Origin.TUI, user="olga", backends_factory=create_backends)
    try:
        [row] = await _rows(reopened)
        assert row["result"] == "succeeded" and "1 connection(s)" in row["message"]
    finally:
        await reopened.close()
