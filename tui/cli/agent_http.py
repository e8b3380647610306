"""The agent's HTTP endpoints: `/healthz` and `/metrics`, on a loopback port by default.

They show environment names, backend names and counts, never a resource's content or a
secret; still, a port on every interface shows them to the network, so an address that
is not loopback is refused unless `--listen-any` says it is meant (a Kubernetes pod: the
kubelet's probes and Prometheus reach the pod's IP, not its loopback).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tui.cli.agent_log import json_line
from tui.cli.loopback import is_loopback
from tui.core.errors import InvalidRequest
from tui.core.metrics import CONTENT_TYPE

DEFAULT_LISTEN = "127.0.0.1:9464"


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str, *, listen_any: bool = False) -> ListenAddress:
    """`HOST:PORT` (`[::1]:PORT` for IPv6; port 0: a free one). A host that is not loopback
    is refused unless `listen_any`."""
    where = f"--listen {text!r}"
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        ok = bool(sep and rest.startswith(":"))
    else:
        host, ok_sep, port_text = text.rpartition(":")
        ok = bool(ok_sep) and ":" not in host
    if not ok or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidRequest(f"{where}: expected HOST:PORT, e.g. {DEFAULT_LISTEN} or [::1]:9464")
    if host not in ("localhost",):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InvalidRequest(f"{where}: the host must be an IP address or localhost") from None
    if not is_loopback(host) and not listen_any:
        raise InvalidRequest(f"{where} is not a loopback address: /healthz and /metrics would be open to "
                             "the network; pass --listen-any as well if that is meant (e.g. in a pod)")
    return ListenAddress(host, int(port_text))


def port_holder(port: int) -> str | None:
    """Who listens on TCP `port` (any address), as far as /proc/net/tcp{,6} say (Linux; the
    socket's owner uid, not its process): "USER (uid N)", or None when unknown."""
    import pwd

    wanted = f"{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as rows:
                next(rows, None)
                for row in rows:
                    fields = row.split()
                    # sl local_address rem_address st tx:rx tr:when retrnsmt uid ...; st 0A: LISTEN
                    if len(fields) > 7 and fields[1].rpartition(":")[2] == wanted and fields[3] == "0A":
                        uid = int(fields[7])
                        try:
                            return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
                        except KeyError:
                            return f"uid {uid}"
        except (OSError, ValueError):
            continue
    return None


class AgentServer:
    """An aiohttp server on the agent's own event loop. `health()` returns (HTTP status,
    JSON body); `metrics()` the exposition text."""

    def __init__(self, address: ListenAddress, health: Callable[[], tuple[int, dict[str, Any]]],
                 metrics: Callable[[], str]):
        self.address = address
        self._health = health
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        status, body = self._health()
        return web.Response(status=status, text=json_line(body) + "\n", content_type="application/json")

    async def _metrics_handler(self, _request: web.Request) -> web.Response:
        return web.Response(body=self._metrics().encode(), headers={"Content-Type": CONTENT_TYPE})

    async def start(self) -> int:
        """Listen; returns the port (the one chosen when 0 was asked for). OSError when the
        address cannot be bound."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_handler)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.address.host, self.address.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        addresses = self._runner.addresses  # the bound sockets' names: (host, port[, ...])
        self.port = int(addresses[0][1]) if addresses else self.address.port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
