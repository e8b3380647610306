"""EdgeProvisioner: the lifecycle's `edge` step (kind `edge-claim`) on claimed SSH nodes.

The engine claims the nodes from the template's pool in the store (`edge_claims`) and
hands over an EdgeConfig whose `nodes` are the claimed ones, each with the template's
`services`. This provisioner only starts and stops those services; the native id of the
step is the claimed node names joined by "," (config order).

Every command goes over the edge backend's own links (backends/edge/link.py through an
EdgeBackend that never observes): the same known_hosts verification (no trust on first
use), ssh config, identity, connect/command timeouts, per-node channel limit and the
config's `concurrency`. Commands are the config's templates (`start`, `stop`, `status`
with `{service}`), filled by `commands.render`, which shell-quotes every value: a
service name is an argument, never shell. A node name is never put into a command.

What "active" means is what the observing backend says: the `status` template exits 0.

- create: on every node, each service that `status` does not report active is started
  (a running service is left alone, so a repeated create starts nothing twice).
- find: the native id when every node already runs every service (adopted), else None.
- health: a fresh `status` of every service on every node; the reason names the node and
  service that is not active, or the node that cannot be reached (never terminal: a node
  may come back, a refused host key may be trusted by an admin).
- delete: stops the services that are active; a node that cannot be reached is left for
  `gone`, which stays False for it, so the engine's step timeout makes it an orphan.
- sweep: [] -- the claims live in the store, and the engine releases them; nothing on a
  node carries the environment's name.
- sleep/wake: stops the active services and remembers them as
  `{"edge/service/NODE:SERVICE": {"state": "active"}}` (the observing backend's ids);
  wake starts those again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from backends.base import Provisioner
from backends.edge.backend import EdgeBackend
from backends.edge.commands import render
from backends.edge.resources import service_id
from tui.core.config import Defaults, EdgeConfig, EdgeNode
from tui.core.errors import BackendDenied, BackendError, BackendUnreachable, InvalidRequest
from tui.core.lifecycle.records import Leftover, StepHealth, StepSpec

KIND = "edge-claim"
ACTIVE = "active"
_SHOWN_PROBLEMS = 3  # problems named in one reason / error message
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ServiceState:
    """A fresh `status` of one service on one node."""

    node: str
    service: str
    active: bool
    detail: str  # the first line the status command printed, or how it exited

    def problem(self) -> str:
        return f"node {self.node}: service {self.service} is not active ({self.detail})"


class EdgeProvisioner(Provisioner):
    name = "edge"
    config: EdgeConfig

    def __init__(self, env: str, config: EdgeConfig, defaults: Defaults, *, template: str):
        super().__init__(env, config, defaults, template=template)
        # The backend is used for its links only: one verified, multiplexed connection per node.
        self._edge = EdgeBackend(env, config, defaults)

    # -- the step ------------------------------------------------------------
    async def find(self, step: StepSpec) -> str | None:
        nodes = self._claimed(step, None)
        try:
            states = await self._statuses(step, nodes)
        except BackendError:
            return None  # create() reports what is wrong
        return self._native_id(nodes) if all(s.active for s in states) else None

    async def create(self, step: StepSpec, token: str) -> str:
        nodes = self._claimed(step, None)

        async def start_all(node: EdgeNode) -> None:
            for service in self._services(step, node):
                if not (await self._status(node, service)).active:
                    await self._run_checked(node, service, "start")

        _raise_failures(await self._per_node(nodes, start_all), "start")
        return self._native_id(nodes)

    async def health(self, step: StepSpec, native_id: str) -> StepHealth:
        nodes = self._claimed(step, native_id)
        outcomes = await self._per_node(nodes, lambda node: self._node_statuses(step, node))
        problems: list[str] = []
        for outcome in outcomes:
            if isinstance(outcome, BackendError):
                problems.append(str(outcome))
            else:
                problems.extend(s.problem() for s in outcome if not s.active)
        if problems:
            return StepHealth(False, _join(problems))
        return StepHealth(True)

    async def delete(self, step: StepSpec, native_id: str) -> None:
        nodes = self._claimed(step, native_id)

        async def stop_all(node: EdgeNode) -> None:
            for service in reversed(self._services(step, node)):
                if (await self._status(node, service)).active:
                    await self._run_checked(node, service, "stop")

        outcomes = await self._per_node(nodes, stop_all)
        # A node we cannot reach is `gone()`'s to report (False until the step times out);
        # a stop that ran and failed is an answer worth giving now.
        _raise_failures([o for o in outcomes if not isinstance(o, BackendUnreachable | BackendDenied)], "stop")
        # a node that did not answer is not stopped: said, so that the engine asks again (with backoff,
        # within the step's timeout) once it answers, instead of waiting on gone() alone
        _raise_failures([o for o in outcomes if isinstance(o, BackendUnreachable)], "stop")

    async def gone(self, step: StepSpec, native_id: str) -> bool:
        nodes = self._claimed(step, native_id)
        try:
            states = await self._statuses(step, nodes)
        except BackendUnreachable:   # not known: the engine asks again until the step's timeout
            raise
        except BackendError:
            return False
        return not any(s.active for s in states)

    async def sweep(self) -> list[Leftover]:
        """Nothing to sweep here: the claims of the environment are rows in the store, which
        the engine releases; a node carries no mark of the environment."""
        return []

    # -- sleep and wake ------------------------------------------------------
    async def sleep(self) -> dict[str, dict[str, Any]]:
        nodes = list(self.config.nodes)
        # Every node is asked first: a node we cannot reach fails the sleep before anything stops.
        states = await self._statuses(None, nodes)
        memory = {service_id(s.node, s.service): {"state": ACTIVE} for s in states if s.active}
        running = [s for s in states if s.active]

        async def stop_node(node: EdgeNode) -> None:
            for s in reversed([s for s in running if s.node == node.name]):
                await self._run_checked(node, s.service, "stop")

        busy = {s.node for s in running}
        _raise_failures(await self._per_node([n for n in nodes if n.name in busy], stop_node),
                        "stop", stopped_before=sorted(memory))
        return memory

    async def wake(self, memory: dict[str, dict[str, Any]]) -> None:
        wanted: dict[str, list[str]] = {}
        unknown: list[str] = []
        for rid, before in memory.items():
            if (before or {}).get("state") != ACTIVE:
                continue
            located = self._locate(rid)
            if located is None:
                unknown.append(rid)
            else:
                wanted.setdefault(located[0].name, []).append(located[1])
        by_name = {n.name: n for n in self.config.nodes}

        async def start_node(node: EdgeNode) -> None:
            for service in wanted[node.name]:
                if not (await self._status(node, service)).active:
                    await self._run_checked(node, service, "start")

        outcomes: list[object] = list(await self._per_node([by_name[n] for n in wanted], start_node))
        outcomes += [BackendError(f"{rid}: no such node in this environment's claimed nodes", backend="edge")
                     for rid in unknown]
        _raise_failures(outcomes, "start")

    async def close(self) -> None:
        await self._edge.close()

    # -- internals -----------------------------------------------------------
    def _claimed(self, step: StepSpec | None, native_id: str | None) -> list[EdgeNode]:
        """The nodes a step acts on: the claimed nodes, or those its native id names."""
        if step is not None and step.kind != KIND:
            raise InvalidRequest(f"step {step.id}: the edge provisioner makes {KIND!r} steps, "
                                 f"not {step.kind!r}", backend="edge")
        if native_id is None:
            nodes = list(self.config.nodes)
        else:
            names = [n for n in native_id.split(",") if n]
            missing = [n for n in names if n not in self._edge.nodes]
            if missing:
                raise InvalidRequest(f"step {_step_name(step)}: node {missing[0]!r} of {native_id!r} is not "
                                     "one of the environment's claimed nodes", backend="edge")
            nodes = [self._edge.nodes[n] for n in names]
        if not nodes:
            raise InvalidRequest(f"step {_step_name(step)}: no edge node is claimed", backend="edge")
        return nodes

    @staticmethod
    def _services(step: StepSpec | None, node: EdgeNode) -> list[str]:
        """The step's services (the template's), else the node's from the config."""
        listed = step.fields.get("services") if step is not None else None
        if isinstance(listed, list | tuple):
            return [str(s) for s in listed]
        return list(node.services)

    @staticmethod
    def _native_id(nodes: Sequence[EdgeNode]) -> str:
        return ",".join(n.name for n in nodes)

    def _locate(self, rid: str) -> tuple[EdgeNode, str] | None:
        """(node, service) of `edge/service/NODE:SERVICE` for one of the claimed nodes."""
        prefix = "edge/service/"
        if not rid.startswith(prefix):
            return None
        for node in sorted(self.config.nodes, key=lambda n: -len(n.name)):  # "a:b:web" is a:b's, not a's
            head = f"{node.name}:"
            if rid[len(prefix):].startswith(head) and len(rid) > len(prefix) + len(head):
                return node, rid[len(prefix) + len(head):]
        return None

    async def _per_node(self, nodes: Sequence[EdgeNode],
                        work: Callable[[EdgeNode], Awaitable[_T]]) -> list[_T | BackendError]:
        """`work` on every node, at most `concurrency` nodes at once; a node's BackendError is
        its outcome, so one dead node never hides the others' answers."""
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(node: EdgeNode) -> _T | BackendError:
            async with gate:
                try:
                    return await work(node)
                except BackendError as exc:
                    return exc

        return list(await asyncio.gather(*(one(n) for n in nodes)))

    async def _statuses(self, step: StepSpec | None, nodes: Sequence[EdgeNode]) -> list[ServiceState]:
        outcomes = await self._per_node(nodes, lambda node: self._node_statuses(step, node))
        _raise_failures(outcomes, "status")
        return [s for outcome in outcomes if not isinstance(outcome, BackendError) for s in outcome]

    async def _node_statuses(self, step: StepSpec | None, node: EdgeNode) -> list[ServiceState]:
        return [await self._status(node, service) for service in self._services(step, node)]

    async def _status(self, node: EdgeNode, service: str) -> ServiceState:
        out = await self._edge.links[node.name].run(self._command(node, "status", service))
        first = next((ln.strip() for ln in (out.stdout + out.stderr).splitlines() if ln.strip()), "")
        if out.exit_code == 0:
            return ServiceState(node.name, service, True, first or "active")
        return ServiceState(node.name, service, False,
                            f"status exited {out.exit_code}" + (f": {first[:200]}" if first else ""))

    async def _run_checked(self, node: EdgeNode, service: str, action: str) -> None:
        out = await self._edge.links[node.name].run(self._command(node, action, service))
        if out.exit_code != 0:
            detail = next((ln.strip() for ln in (out.stderr + out.stdout).splitlines() if ln.strip()), "")
            raise BackendError(f"node {node.name}: {action} {service} exited {out.exit_code}"
                               + (f": {detail[:200]}" if detail else ""), backend="edge")

    def _command(self, node: EdgeNode, action: str, service: str) -> str:
        return render(getattr(self.config.commands_for(node), action), service=service)


def _step_name(step: StepSpec | None) -> str:
    return step.id if step is not None else "edge"


def _join(problems: Sequence[str]) -> str:
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    more = len(problems) - _SHOWN_PROBLEMS
    return shown + (f"; and {more} more" if more > 0 else "")


def _raise_failures(outcomes: Sequence[object], action: str, *, stopped_before: Sequence[str] = ()) -> None:
    """Raise one BackendError naming every node that failed (the type of the errors when
    they agree: unreachable, denied), or return when none did."""
    errors = [o for o in outcomes if isinstance(o, BackendError)]
    if not errors:
        return
    message = _join([str(e) for e in errors])
    if stopped_before:
        message += f" (the {action} ran for the others; active before: {', '.join(stopped_before)})"
    kinds = {type(e) for e in errors}
    cls: type[BackendError] = BackendError
    if kinds <= {BackendDenied}:
        cls = BackendDenied
    elif all(issubclass(k, BackendUnreachable) for k in kinds):
        cls = BackendUnreachable
    raise cls(message, backend="edge")
