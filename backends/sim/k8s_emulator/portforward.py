"""`pods/portforward` over WebSocket, as the kubelet serves it (`v4.channel.k8s.io`).

The request names its ports (`?ports=8080`, several or comma-separated). Port i of the
request has two channels: data `2*i` and error `2*i + 1`. The server's first message on
each channel is the channel byte and the port number, little-endian on two bytes, alone
(the official Python client refuses a first frame of any other size); after that the
data channel carries the bytes both ways (channel byte first) and the error channel the
server's reason as text ("connection refused" for a port nothing listens on), after
which that port is done.

Nothing listens on this machine: each port a container of the pod declares
(`containerPort`) is a simulated listener. A connection whose first bytes are an HTTP/1.x
request line is answered as HTTP (one response per request, keep-alive), anything else is
echoed back. A port no container declares is refused, as a kubelet reports it.

`PortForwards` counts the streams on the server side (tests assert on it) and can drop
every open stream, as an apiserver restart or a proxy timeout would.

kubectl >= 1.31 speaks another protocol over its WebSocket: SPDY/3.1 tunnelled
(`SPDY/3.1+portforward.k8s.io`, spdy_tunnel.py), to the same simulated listeners.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .spdy_tunnel import PROTOCOL as SPDY_TUNNEL
from .spdy_tunnel import SpdyTunnel
from .status import ApiError

PROTOCOLS = ("v4.channel.k8s.io", SPDY_TUNNEL)
_REQUEST_LINE = re.compile(rb"^[A-Z]{3,10} \S+ HTTP/1\.[01]\r?\n")
_MAX_HEAD = 64 * 1024


@dataclass
class PortForwards:
    """The server side's record of port-forward streams."""

    opened: int = 0  # WebSocket streams accepted, ever
    refused: int = 0  # requests answered with an error before any stream
    bytes_from_client: int = 0
    bytes_to_client: int = 0
    active: set[web.WebSocketResponse] = field(default_factory=set)

    async def drop_all(self) -> int:
        """Close every open stream from the server's side (a dropped stream); how many."""
        doomed = list(self.active)
        for ws in doomed:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"stream dropped by the server")
        return len(doomed)


def _ports(request: web.Request) -> list[int]:
    values = [v for raw in request.query.getall("ports", []) for v in raw.split(",") if v.strip()]
    if not values:
        raise ApiError(400, "at least 1 port must be specified (the ports query parameter)")
    ports: list[int] = []
    for value in values:
        try:
            port = int(value)
        except ValueError:
            raise ApiError(400, f"unable to parse {value!r} as a port: not a number") from None
        if not 0 < port < 65536:
            raise ApiError(400, f"port {port} must be between 1 and 65535")
        if port in ports:
            raise ApiError(400, f"port {port} is requested more than once")
        ports.append(port)
    return ports


def declared_ports(pod: dict[str, Any]) -> dict[int, str]:
    """containerPort → the container declaring it (TCP only, as kubectl port-forward)."""
    out: dict[int, str] = {}
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            number = port.get("containerPort")
            if isinstance(number, int) and (port.get("protocol") or "TCP") == "TCP":
                out.setdefault(number, str(container.get("name")))
    return out


class Listener:
    """One simulated connection to a pod's port: HTTP-ish when spoken to in HTTP, else echo."""

    def __init__(self, pod: str, container: str, port: int):
        self.pod, self.container, self.port = pod, container, port
        self.mode: str | None = None  # "http" | "echo", decided by the first bytes
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        """The bytes answered to `data`."""
        if self.mode is None:
            self.pending += data
            if b"\n" not in self.pending and len(self.pending) < 16:
                return b""  # not enough to tell yet
            self.mode = "http" if _REQUEST_LINE.match(self.pending) else "echo"
            data, self.pending = self.pending, b""
        if self.mode == "echo":
            return data
        self.pending += data
        out = b""
        while True:
            head, sep, rest = self.pending.partition(b"\r\n\r\n")
            if not sep:
                if len(self.pending) > _MAX_HEAD:
                    self.pending = b""
                    return out + self._response(431, "request header too large\n")
                return out
            length = _content_length(head)
            if len(rest) < length:
                return out
            self.pending = rest[length:]
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            body = (f"envdeck emulator: pod {self.pod}, container {self.container}, port {self.port}\n"
                    f"{request_line}\n")
            out += self._response(200, body, head_only=request_line.startswith("HEAD "))

    @staticmethod
    def _response(status: int, body: str, head_only: bool = False) -> bytes:
        reason = {200: "OK", 431: "Request Header Fields Too Large"}.get(status, "")
        payload = body.encode()
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(payload)}\r\nServer: envdeck-emulator\r\n\r\n").encode()
        return head if head_only else head + payload


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return max(0, int(value.strip()))
            except ValueError:
                return 0
    return 0


def refused_message(pod: dict[str, Any], port: int) -> str:
    """The kubelet's words for a port nothing listens on."""
    meta = pod["metadata"]
    return (f"error forwarding port {port} to pod {meta.get('uid', '')}, uid : failed to execute portforward "
            f"in network namespace: failed to connect to localhost:{port} inside namespace "
            f"\"{meta['name']}\", IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused ")


async def serve_portforward(request: web.Request, pod: dict[str, Any], forwards: PortForwards
                            ) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        forwards.refused += 1
        raise ApiError(400, "Upgrade request required")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if offered and not set(offered) & set(PROTOCOLS):
        forwards.refused += 1
        raise ApiError(400, f"unable to upgrade: no supported port-forward protocol in {', '.join(offered)}; "
                            f"the emulator speaks {', '.join(PROTOCOLS)}")
    tunnel = SPDY_TUNNEL in offered and PROTOCOLS[0] not in offered
    try:
        ports = [] if tunnel else _ports(request)  # kubectl names its ports in each stream's headers
    except ApiError:
        forwards.refused += 1
        raise
    name = pod["metadata"]["name"]
    if (pod.get("status") or {}).get("phase") != "Running":
        forwards.refused += 1
        raise ApiError(400, f"unable to upgrade connection: pod {name} is not running")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, heartbeat=None, max_msg_size=0)
    await ws.prepare(request)
    forwards.opened += 1
    forwards.active.add(ws)
    declared = declared_ports(pod)
    if tunnel:
        return await _serve_tunnel(ws, pod, declared, forwards)
    listeners: dict[int, Listener] = {}
    try:
        for index, port in enumerate(ports):
            header = port.to_bytes(2, "little")
            await ws.send_bytes(bytes([2 * index]) + header)
            await ws.send_bytes(bytes([2 * index + 1]) + header)
            if port in declared:
                listeners[2 * index] = Listener(name, declared[port], port)
            else:
                await ws.send_bytes(bytes([2 * index + 1]) + refused_message(pod, port).encode())
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, data = msg.data[0], msg.data[1:]
            listener = listeners.get(channel)
            if listener is None or not data:
                continue  # an error channel, a refused port, or an empty write
            forwards.bytes_from_client += len(data)
            answer = listener.feed(data)
            if answer:
                forwards.bytes_to_client += len(answer)
                await ws.send_bytes(bytes([channel]) + answer)
    except ConnectionResetError:
        pass
    finally:
        forwards.active.discard(ws)
        await ws.close()
    return ws


async def _serve_tunnel(ws: web.WebSocketResponse, pod: dict[str, Any], declared: dict[int, str],
                        forwards: PortForwards) -> web.WebSocketResponse:
    name = pod["metadata"]["name"]

    def connect(port: int) -> Listener | str:
        return Listener(name, declared[port], port) if port in declared else refused_message(pod, port)

    try:
        await SpdyTunnel(ws, connect, forwards).run()
    except ConnectionResetError:
        pass
    finally:
        forwards.active.discard(ws)
        await ws.close()
    return ws
