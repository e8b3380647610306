"""Connections to an environment's nodes started before its EdgeBackend exists.

`envdeck run` starts them once it has read the YAML and decided that the run may go ahead
(tui/cli/fleet_early.py), before the config models (pydantic) and the backend are imported:
the sshd side forks and exchanges keys while this process loads the rest. The links are the
backend's own kind (NodeLink: known_hosts checked on every connection, one attempt each), on a
loop thread of their own; `EdgeBackend.adopt` takes them over when the validated config gives
each node the same address and the same link settings. Nothing is ever sent on them here.

No pydantic, no backend: this module imports asyncssh (through the package) and the link only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from backends.edge.link import LinkSettings, NodeLink
from backends.edge.loop_thread import LoopThread


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """What connecting a node reads of its config entry (NodeLink.connect_options)."""

    name: str
    host: str
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None

    @classmethod
    def of(cls, node: object) -> NodeAddress:
        """The address of a validated node (tui.core.config.EdgeNode)."""
        return cls(node.name, node.host, node.port, node.user, node.identity_file)  # type: ignore[attr-defined]


class EarlyLinks:
    """One NodeLink per node, connecting on the environment's loop thread from `start()`."""

    def __init__(self, env: str, nodes: list[NodeAddress], settings: LinkSettings):
        self.settings = settings
        self.addresses = {node.name: node for node in nodes}
        self.remote = LoopThread(f"envdeck-edge-{env}")
        self.links = {node.name: NodeLink(node, settings, self.remote) for node in nodes}  # type: ignore[arg-type]
        for link in self.links.values():
            link.single_attempt = True  # a node refused now is the run's answer for it, not tried again
        self.task: asyncio.Future[None] | None = None
        self.adopted = False

    async def start(self) -> None:
        """Start every node's connect on the loop thread and return at once (the outcomes are
        each link's, seen by whoever uses it next)."""
        self.task = asyncio.ensure_future(self.remote.call(_connect_all(list(self.links.values()))))
        await asyncio.sleep(0)  # hand the connects to that loop now, not at the caller's next wait

    async def close(self) -> None:
        """Links nobody adopted: a connect in progress is cancelled, the connections closed
        (nothing was sent on them) and the loop thread stopped."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.task is not None:
            await asyncio.wait({self.task})
            if not self.task.cancelled():
                self.task.exception()  # retrieved: each link's own error is its node's result
        if self.adopted:
            return  # the backend closes them
        if self.remote.running:
            await self.remote.call(_close_all(list(self.links.values())))
            await self.remote.stop()


async def _connect_all(links: list[NodeLink]) -> None:
    await asyncio.gather(*(link.connection() for link in links), return_exceptions=True)


async def _close_all(links: list[NodeLink]) -> None:
    await asyncio.gather(*(link.close() for link in links), return_exceptions=True)
