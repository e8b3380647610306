"""Port-forward: a local listener on 127.0.0.1 whose every accepted connection is carried
through its own `pods/portforward` WebSocket of the API server.

    local client ──TCP──► PortForwarder (127.0.0.1:LOCAL) ──WebSocket v4.channel.k8s.io──►
        apiserver ──► kubelet ──► the pod's port

The WebSocket goes through the backend's own `KubeApi` (the kubeconfig's credentials,
TLS verification and proxy). Protocol (the kubelet's, `v4.channel.k8s.io`; the official
Python client speaks it too): the request names one port; channel 0 carries data both
ways and channel 1 the server's error text; the server's first message on each channel is
the port number (2 bytes, little-endian), which is skipped here.

One stream per connection, as kubectl: a stream that drops (the API server restarts, a
proxy times out, the pod goes away) ends that one connection — a TCP byte stream cannot
be resumed — and the forward says `reconnecting` (`error: nothing listens on port N in pod P`
when the pod's side refused the stream on its error channel); the listener stays, and the next
connection opens a new stream (to the service's ready pod of that moment). `close()`
stops the listener and every stream.

Only the envdeck user's own connections are forwarded. 127.0.0.1 is open to every local
user, and a jump host is shared: kubectl forwards whoever connects with the kubeconfig's
credentials; here each accepted connection's peer socket is looked up (tui/core/peer_uid.py,
/proc/net/tcp) and a connection whose owner is another uid — root included, unless envdeck
runs as root — or cannot be told is closed at once, before any byte or API call: counted in
`stats.refused_from`, logged, and named in the audit row's closing message.

A Service is forwarded the way kubectl does it: its port (`spec.ports[].port`) is mapped
to the target port (a number, or a container port's name) of one ready pod its selector
picks (the first by name), chosen again for each connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from backends.kubernetes.api import KubeApi
from backends.kubernetes.api_paths import collection_path, item_path
from backends.kubernetes.logs import selector_string
from backends.kubernetes.portforward_errors import refusal_reason
from tui.core.errors import BackendError, InvalidRequest, NotFound
from tui.core.peer_uid import describe_uid, peer_uid
from tui.core.port_forward import LOCAL_HOST, ForwardPort, ForwardState, ForwardStats

PROTOCOL = "v4.channel.k8s.io"
DATA, ERROR = 0, 1
CHUNK = 64 * 1024
#: After the local client stops sending, answers still on their way are relayed this long.
LINGER_S = 2.0
FORWARDABLE_KINDS = ("Pod", "Service")

log = logging.getLogger(__name__)


class PortRefused(Exception):
    """The stream's error channel: nothing listens on the pod's port (the kubelet's words)."""


@dataclass(frozen=True, slots=True)
class Target:
    pod: str
    port: int

    def __str__(self) -> str:
        return f"pod/{self.pod}:{self.port}"


def _pod_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())


def _container_port(pod: dict[str, Any], name: str) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == name and isinstance(port.get("containerPort"), int):
                return int(port["containerPort"])
    return None


async def ports_of(api: KubeApi, namespace: str, kind: str, name: str) -> list[ForwardPort]:
    """The ports one may forward to: a pod's declared container ports, a service's ports."""
    if kind == "Pod":
        pod = await api.get(item_path("v1", "pods", namespace, name))
        return [ForwardPort(int(p["containerPort"]), str(p.get("name") or ""), f"container {c.get('name')}")
                for c in (pod.get("spec") or {}).get("containers") or ()
                for p in c.get("ports") or () if isinstance(p.get("containerPort"), int)
                and (p.get("protocol") or "TCP") == "TCP"]
    if kind == "Service":
        svc = await api.get(item_path("v1", "services", namespace, name))
        return [ForwardPort(int(p["port"]), str(p.get("name") or ""), f"→ {p.get('targetPort', p['port'])}")
                for p in (svc.get("spec") or {}).get("ports") or () if isinstance(p.get("port"), int)
                and (p.get("protocol") or "TCP") == "TCP"]
    raise InvalidRequest(f"a {kind} cannot be port-forwarded (pods and services can)", backend="kubernetes")


async def service_target(api: KubeApi, namespace: str, service: str, port: int) -> Target:
    """The ready pod and its port behind `service`'s `port` (as kubectl port-forward svc/…)."""
    svc = await api.get(item_path("v1", "services", namespace, service))
    spec = svc.get("spec") or {}
    ports = [p for p in spec.get("ports") or () if p.get("port") == port]
    if not ports:
        known = ", ".join(str(p.get("port")) for p in spec.get("ports") or ()) or "none"
        raise InvalidRequest(f"service {service} has no port {port} (ports: {known})", backend="kubernetes")
    selector = spec.get("selector") or {}
    if not selector:
        raise InvalidRequest(f"service {service} has no selector: no pod to forward to", backend="kubernetes")
    pods, _ = await api.list_all(collection_path("v1", "pods", namespace),
                                 labelSelector=selector_string({"matchLabels": selector}))
    ready = sorted((p for p in pods if _pod_ready(p)), key=lambda p: p["metadata"]["name"])
    if not ready:
        raise NotFound(f"service {service} has no ready pod to forward to", backend="kubernetes")
    pod = ready[0]
    target_port = ports[0].get("targetPort", port)
    if isinstance(target_port, str) and not target_port.isdigit():
        number = _container_port(pod, target_port)
        if number is None:
            raise InvalidRequest(f"service {service} port {port}: pod {pod['metadata']['name']} has no container "
                                 f"port named {target_port!r}", backend="kubernetes")
        return Target(pod["metadata"]["name"], number)
    return Target(pod["metadata"]["name"], int(target_port))


class PortForwarder:
    """One local listener; see the module docstring."""

    def __init__(self, api: KubeApi, namespace: str, resolve: Callable[[], Awaitable[Target]]):
        self.api = api
        self.namespace = namespace
        self.host = LOCAL_HOST
        self.port = 0
        self.uid = os.geteuid()
        self.stats = ForwardStats(owner=describe_uid(self.uid))
        self._resolve = resolve
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self, local_port: int | None = None) -> None:
        try:
            self._server = await asyncio.start_server(self._accepted, self.host, local_port or 0)
        except OSError as exc:
            raise InvalidRequest(f"cannot listen on {self.host}:{local_port or 0}: {exc.strerror or exc}",
                                 backend="kubernetes") from None
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        server, self._server = self._server, None
        self.stats.state = ForwardState.CLOSED
        if server is not None:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            if not self._admitted(writer):
                return
            self.stats.connections += 1
            await self._carry(reader, writer)
        except asyncio.CancelledError:
            pass  # closed: this task is the connection's top (asyncio's callback would log a cancelled one)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _admitted(self, writer: asyncio.StreamWriter) -> bool:
        """Whether the connection's peer socket is this process's own uid's; else it is counted,
        logged and refused (closed by the caller) — also when its owner cannot be told."""
        peer = peer_uid(writer.get_extra_info("sockname"), writer.get_extra_info("peername"))
        if peer.uid == self.uid:
            return True
        who = peer.label
        self.stats.refused += 1
        self.stats.refused_from[who] = self.stats.refused_from.get(who, 0) + 1
        self.stats.last_refusal = f"refused a connection from {who}"
        log.warning("port-forward %s:%d refused a connection from %s: only %s's connections are forwarded",
                    self.host, self.port, who, self.stats.owner)
        return False

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target = await self._resolve()
            ws = await self.api.websocket(item_path("v1", "pods", self.namespace, target.pod, "portforward"),
                                          [("ports", str(target.port))], (PROTOCOL,))
        except BackendError as exc:
            self._failed(str(exc))
            return
        if self.stats.state is ForwardState.CLOSED:
            await ws.close()
            return
        self.stats.active += 1
        self.stats.target = str(target)
        self.stats.state = ForwardState.OPEN
        upstream = asyncio.create_task(self._remote_to_local(ws, writer))
        downstream = asyncio.create_task(self._local_to_remote(reader, ws))
        try:
            done, _ = await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
            if downstream in done and not upstream.done():  # the local client stopped sending
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(upstream), LINGER_S)
            if upstream.done() and not upstream.cancelled():
                failure = upstream.exception()
                if isinstance(failure, PortRefused):
                    self._refused_by_pod(target, str(failure))
                elif failure is None and not downstream.done():  # the local client was still there
                    self._failed(upstream.result(), drop=True)
        finally:
            for task in (upstream, downstream):
                task.cancel()
            await asyncio.gather(upstream, downstream, return_exceptions=True)
            self.stats.active -= 1
            with contextlib.suppress(Exception):
                await ws.close()

    def _refused_by_pod(self, target: Target, message: str) -> None:
        """The error channel spoke: the forward is in error (not reconnecting: nothing dropped)."""
        if self.stats.state is ForwardState.CLOSED:
            return
        log.info("port-forward %s:%d to %s refused by the pod's side: %s", self.host, self.port, target, message)
        self.stats.state = ForwardState.ERROR
        self.stats.last_error = refusal_reason(message, target.pod, target.port)
        self.stats.pod_refusals += 1

    def _failed(self, reason: str, *, drop: bool = False) -> None:
        if self.stats.state is ForwardState.CLOSED:
            return
        self.stats.state = ForwardState.RECONNECTING
        self.stats.last_error = reason
        if drop:
            self.stats.drops += 1

    async def _remote_to_local(self, ws: aiohttp.ClientWebSocketResponse, writer: asyncio.StreamWriter) -> str:
        """Relay until the server ends the stream; how it ended. PortRefused: the error channel spoke."""
        headers = {DATA: False, ERROR: False}
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                continue
            channel, data = msg.data[0], msg.data[1:]
            if channel in headers and not headers[channel]:
                headers[channel] = True
                data = data[2:]  # the port number
            if channel == DATA and data:
                self.stats.bytes_in += len(data)
                writer.write(data)
                await writer.drain()
            elif channel == ERROR and data:
                raise PortRefused(data.decode(errors="replace").strip())
        code = ws.close_code
        return f"stream dropped by the server (WebSocket close {code})" if code not in (None, 1000) else \
            "stream ended by the server"

    async def _local_to_remote(self, reader: asyncio.StreamReader, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                return
            self.stats.bytes_out += len(data)
            await ws.send_bytes(bytes([DATA]) + data)


async def open_forward(api: KubeApi, namespace: str, kind: str, name: str, remote_port: int,
                       local_port: int | None = None) -> PortForwarder:
    """A started forwarder to a pod's or a service's `remote_port`; the target is checked
    before the listener opens (a missing pod, a service port that does not exist)."""
    if kind not in FORWARDABLE_KINDS:
        raise InvalidRequest(f"a {kind} cannot be port-forwarded (pods and services can)", backend="kubernetes")
    if not 0 < remote_port < 65536 or (local_port is not None and not 0 <= local_port < 65536):
        raise InvalidRequest(f"port-forward {kind}/{name}: ports are 1-65535 (remote {remote_port}, "
                             f"local {local_port})", backend="kubernetes")

    async def pod_target() -> Target:
        return Target(name, remote_port)

    async def svc_target() -> Target:
        return await service_target(api, namespace, name, remote_port)

    if kind == "Pod":
        await api.get(item_path("v1", "pods", namespace, name))  # NotFound before a listener opens
        resolve = pod_target
    else:
        await svc_target()
        resolve = svc_target
    forwarder = PortForwarder(api, namespace, resolve)
    await forwarder.start(local_port)
    return forwarder
