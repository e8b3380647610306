"""kubectl's port-forward over WebSocket (kubectl >= 1.31): SPDY/3.1 tunnelled through a
WebSocket whose subprotocol is `SPDY/3.1+portforward.k8s.io`.

The WebSocket's binary messages are one byte stream (the client writes SPDY frames in
pieces; the server's frames may go one per message); over it the client speaks SPDY/3.1 as
to a kubelet: for each local connection, two streams (SYN_STREAM) with the headers
`streamtype: error|data`, `port: N`, `requestid: K`; the server answers each with SYN_REPLY.
Once both streams of a request exist the pod's port is connected: DATA frames carry the
bytes both ways; a port nothing listens on gets the kubelet's message on the error stream.
When the client half-closes the data stream (FIN) the server ends both streams (FIN). PING
frames are echoed; SETTINGS and WINDOW_UPDATE are read and ignored (no flow control is
needed at these sizes); every header block goes through one zlib inflater per direction
with SPDY/3's dictionary, so that the compression state stays in step.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .portforward import Listener, PortForwards

PROTOCOL = "SPDY/3.1+portforward.k8s.io"
VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_DATA = 16 * 1024

# The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1): these names, each
# after its length on 4 bytes, then the common values.
_DICTIONARY_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
    "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
    "keep-alive", "origin")
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _DICTIONARY_WORDS) + _DICTIONARY_TAIL.encode()


def control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


def parse_headers(raw: bytes) -> dict[str, str]:
    """A decompressed SPDY/3 name/value block."""
    (count,), pos, out = struct.unpack_from(">I", raw), 4, {}
    for _ in range(count):
        (size,) = struct.unpack_from(">I", raw, pos)
        name = raw[pos + 4:pos + 4 + size].decode("latin-1")
        pos += 4 + size
        (size,) = struct.unpack_from(">I", raw, pos)
        out[name.lower()] = raw[pos + 4:pos + 4 + size].decode("latin-1")
        pos += 4 + size
    return out


@dataclass
class _Request:
    """The two streams of one forwarded connection."""

    port: int
    data: int | None = None
    error: int | None = None
    listener: Listener | None = None
    done: bool = False


class SpdyTunnel:
    """One kubectl port-forward session over one WebSocket. `connect(port)` is the pod's
    listener on that port, or the kubelet's refusal text."""

    def __init__(self, ws: web.WebSocketResponse, connect: Callable[[int], Listener | str], forwards: PortForwards):
        self.ws = ws
        self.connect = connect
        self.forwards = forwards  # its byte counters, updated as bytes pass
        self.buffer = bytearray()
        self.inflater = zlib.decompressobj(zdict=DICTIONARY)
        self.deflater = zlib.compressobj(zdict=DICTIONARY)
        self.requests: dict[str, _Request] = {}
        self.by_data_stream: dict[int, _Request] = {}

    async def run(self) -> None:
        async for msg in self.ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
            if msg.type != WSMsgType.BINARY:
                continue
            self.buffer += msg.data
            while len(self.buffer) >= 8:
                length = int.from_bytes(self.buffer[5:8], "big")
                if len(self.buffer) < 8 + length:
                    break
                frame = bytes(self.buffer[:8 + length])
                del self.buffer[:8 + length]
                if not await self._frame(frame):
                    return

    async def _frame(self, frame: bytes) -> bool:
        flags, payload = frame[4], frame[8:]
        if not frame[0] & 0x80:
            await self._data(int.from_bytes(frame[0:4], "big") & 0x7FFFFFFF, flags, payload)
            return True
        kind = int.from_bytes(frame[2:4], "big")
        if kind == SYN_STREAM:
            stream_id = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
            headers = parse_headers(self.inflater.decompress(payload[10:]))
            await self._syn_stream(stream_id, headers)
        elif kind == HEADERS:
            self.inflater.decompress(payload[4:])  # keeps the state in step
        elif kind == PING:
            await self.ws.send_bytes(frame)
        elif kind == RST_STREAM:
            request = self.by_data_stream.pop(int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF, None)
            if request is not None:
                request.done = True
        elif kind == GOAWAY:
            return False
        return True  # SETTINGS, WINDOW_UPDATE: nothing to do here

    async def _syn_stream(self, stream_id: int, headers: dict[str, str]) -> None:
        block = self.deflater.compress(struct.pack(">I", 0)) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        await self.ws.send_bytes(control_frame(SYN_REPLY, 0, struct.pack(">I", stream_id) + block))
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            port = 0
        request = self.requests.setdefault(headers.get("requestid", ""), _Request(port))
        if headers.get("streamtype") == "data":
            request.data = stream_id
        elif headers.get("streamtype") == "error":
            request.error = stream_id
        if request.data is not None and request.error is not None and request.listener is None:
            connected = self.connect(port)
            if isinstance(connected, str):
                await self.ws.send_bytes(data_frame(request.error, 0, connected.encode()))
                await self._finish(request)
            else:
                request.listener = connected
                self.by_data_stream[request.data] = request

    async def _data(self, stream_id: int, flags: int, payload: bytes) -> None:
        request = self.by_data_stream.get(stream_id)
        if request is None or request.listener is None:
            return  # the error stream's FIN, or a stream already ended
        if payload:
            self.forwards.bytes_from_client += len(payload)
            answer = request.listener.feed(payload)
            for start in range(0, len(answer), MAX_DATA):
                chunk = answer[start:start + MAX_DATA]
                self.forwards.bytes_to_client += len(chunk)
                await self.ws.send_bytes(data_frame(stream_id, 0, chunk))
        if flags & FLAG_FIN:  # the local connection is done sending: end both streams
            self.by_data_stream.pop(stream_id, None)
            await self._finish(request)

    async def _finish(self, request: _Request) -> None:
        if request.done:
            return
        request.done = True
        for stream_id in (request.data, request.error):
            if stream_id is not None:
                await self.ws.send_bytes(data_frame(stream_id, FLAG_FIN, b""))
