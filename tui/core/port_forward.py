"""Port-forward records shared by the session, the backends that forward and the UI.

A backend's forwarder (backends/kubernetes/portforward.py) listens on 127.0.0.1, accepts
only the connections of its own OS user (tui/core/peer_uid.py: another local user of a shared
host is refused) and keeps its counters in a `ForwardStats`; `Session.port_forward` wraps it in a `PortForward`,
the handle the UI lists and closes, which finishes the forward's audit row when it closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from tui.core.model import now_utc

#: The audit action of a port-forward (one row from the listener's opening to its closing).
PORT_FORWARD_ACTION = "port-forward"
LOCAL_HOST = "127.0.0.1"


class ForwardState(StrEnum):
    LISTENING = "listening"  # no connection yet
    OPEN = "open"  # the last stream opened carries bytes (or ended cleanly)
    RECONNECTING = "reconnecting"  # the last stream dropped or could not open: the next connection opens a new one
    ERROR = "error"  # the pod's side refused the last stream (nothing listens on the port): `last_error` says why
    CLOSED = "closed"


@dataclass(slots=True)
class ForwardStats:
    """A forward's counters, updated by the forwarder as bytes pass."""

    state: ForwardState = ForwardState.LISTENING
    bytes_in: int = 0  # from the remote port to local clients
    bytes_out: int = 0  # from local clients to the remote port
    connections: int = 0  # local connections accepted (the envdeck user's own)
    refused: int = 0  # local connections refused: another user's, or an owner that could not be told
    refused_from: dict[str, int] = field(default_factory=dict)  # "uid 1002 (user mallory)" → how many
    last_refusal: str = ""  # "refused a connection from uid 1002 (user mallory)"
    owner: str = ""  # whose connections are accepted: "uid 1001 (user alice)"
    active: int = 0  # streams open now
    drops: int = 0  # streams that ended from the remote side while the local client was still there
    pod_refusals: int = 0  # streams the pod's side refused (the error channel: nothing listens on the port)
    target: str = ""  # what the last stream reached: "pod/NAME:PORT"
    last_error: str = ""

    def summary(self) -> str:
        """The closing words of a forward's audit row: accepted, refused (by whom), bytes, streams the
        pod refused (nothing listens on the port), dropped streams."""
        refused = "".join(f"; refused {'a connection' if n == 1 else f'{n} connections'} from {who}"
                          for who, n in self.refused_from.items())
        owner = f" from {self.owner}" if self.owner else ""
        by_pod = f"{self.pod_refusals} connection(s) refused by the pod"
        if self.pod_refusals and self.last_error:
            by_pod += f" ({self.last_error})"
        return (f"{self.connections} connection(s) accepted{owner}{refused}; {self.bytes_out} bytes out, "
                f"{self.bytes_in} bytes in, {by_pod}, {self.drops} dropped stream(s)")

    def state_text(self) -> str:
        """The state as a person reads it: `error: nothing listens on port 9999 in pod web-…`
        when the pod refused the last stream, else the state's name."""
        if self.state is ForwardState.ERROR and self.last_error:
            return f"error: {self.last_error}"
        return str(self.state)


@dataclass(frozen=True, slots=True)
class ForwardPort:
    """A port one may forward to: a container port of a pod, or a service's port."""

    port: int
    name: str = ""
    detail: str = ""  # "container web", "→ 8080"

    @property
    def label(self) -> str:
        parts = [str(self.port)] + [p for p in (self.name, self.detail) if p]
        return " ".join(parts)


class Forwarder(Protocol):
    """What a backend's port-forward gives the session."""

    host: str
    port: int
    stats: ForwardStats

    async def close(self) -> None: ...


@dataclass(eq=False)
class PortForward:
    """An open port-forward, as the session lists it."""

    id: int
    env: str
    resource_id: str
    remote_port: int
    forwarder: Forwarder
    _on_close: Callable[[PortForward], Awaitable[None]] = field(repr=False)
    opened_at: datetime = field(default_factory=now_utc)
    closed: bool = False

    @property
    def local_address(self) -> str:
        return f"{self.forwarder.host}:{self.forwarder.port}"

    @property
    def local_port(self) -> int:
        return self.forwarder.port

    @property
    def stats(self) -> ForwardStats:
        return self.forwarder.stats

    @property
    def state(self) -> ForwardState:
        return ForwardState.CLOSED if self.closed else self.forwarder.stats.state

    async def close(self) -> None:
        """Stop the listener and its streams; the audit row is finished. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            await self.forwarder.close()
        finally:
            await self._on_close(self)
