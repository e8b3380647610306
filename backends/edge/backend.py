"""EdgeBackend: SSH nodes and their services, observed with one probe per node.

Resource ids: `edge/node/NAME`, `edge/service/NODE:SERVICE`. Logs of a node are
its configured `log_files` (all of them, or one chosen with `container=PATH`).

A node that a pass showed without a fresh sample (connecting, unreachable) and
whose connect then succeeds in the background makes the backend call
`request_pass()` (set by the reconciler): once per reconnect, one call for nodes
that come back together, so it shows Healthy within seconds, not a pass later.

The connections and all the work on them (SSH packets, channels, parsing the probes'
output) run on an event loop of the backend's own in a thread of its own (`remote`,
backends/edge/loop_thread.py): every public async method hands its work over and the
caller's loop (the TUI's) receives only the finished result. What belongs to the caller
stays on its loop: `request_pass()`, fleet `on_result` callbacks, the lines of `logs()`
(relayed in batches) and the terminal of `interactive_shell()`. close() stops the thread.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from backends.base import Backend
from backends.edge import links as edge_links
from backends.edge.actions import EdgeActions
from backends.edge.commands import ProbeRequest, new_nonce, probe_command, render
from backends.edge.early import EarlyLinks, NodeAddress
from backends.edge.fleet import CUT_MARK, FleetResult, ResultCallback, run_bounded, select_names
from backends.edge.hostkeys import known_hosts_files
from backends.edge.link import LinkSettings, NodeLink
from backends.edge.logstream import stream_lines
from backends.edge.loop_thread import LoopThread, on_own_loop
from backends.edge.metric_history import MetricHistory
from backends.edge.probe import cpu_percent, parse_probe
from backends.edge.resources import (
    LinkView,
    NodeState,
    faults_for,
    node_id,
    node_resource,
    service_resource,
)
from tui.core.config import Defaults, EdgeConfig, EdgeNode
from tui.core.errors import BackendDenied, BackendError, BackendUnreachable, InvalidRequest, NotFound
from tui.core.model import (
    ActionResult,
    ActionSpec,
    DriftItem,
    Event,
    Health,
    LogLine,
    MetricSeries,
    Observation,
    Resource,
    now_utc,
)
from tui.core.xray import Link

ALL_LINES = 10_000  # what `tail=None` (everything) asks the log command for
CONNECT_WAIT_S = 2.0  # how long an observe pass waits for a node's reconnect (see _connect_wait)
PASS_MARGIN_S = 0.5  # an observe pass ends this long before the reconciler's cut (_pass_budget)
PASS_REQUEST_DELAY_S = 1.0  # nodes reconnecting within this of each other get one early pass
LOG_RELAY_LINES = 2_000  # lines of logs() buffered on the backend's loop for the caller (batches)


class EdgeBackend(EdgeActions, Backend):
    name = "edge"
    config: EdgeConfig

    def __init__(self, env: str, config: EdgeConfig, defaults: Defaults):
        super().__init__(env, config, defaults)
        self.settings = LinkSettings(
            known_hosts_files=known_hosts_files(config.known_hosts), ssh_config=config.ssh_config,
            connect_timeout=config.connect_timeout, command_timeout=config.command_timeout,
            keepalive=config.keepalive, max_backoff=defaults.max_backoff)
        self.nodes: dict[str, EdgeNode] = {n.name: n for n in config.nodes}
        #: the loop the connections live on (started by the first call, stopped by close())
        self.remote = LoopThread(f"envdeck-edge-{env}")
        #: the loop of the last caller: request_pass() and on_result callbacks run there
        self.owner_loop: asyncio.AbstractEventLoop | None = None
        self.links: dict[str, NodeLink] = {n.name: NodeLink(n, self.settings, self.remote) for n in config.nodes}
        self._state: dict[str, NodeState] = {n.name: NodeState() for n in config.nodes}
        self._history = MetricHistory()
        self._fault_since: dict[str, datetime] = {}
        self._last_health: dict[str, Health] = {}
        self._resources: dict[str, Resource] = {}
        self.connect_wait_s = CONNECT_WAIT_S
        self.pass_request_delay_s = PASS_REQUEST_DELAY_S
        self._shown_stale: set[str] = set()  # nodes the last pass showed without a fresh sample
        self._reconnected_in_pass: set[str] = set()  # connected while a pass ran: its end decides
        self._observing = 0
        self._pass_request: asyncio.TimerHandle | None = None
        for name, link in self.links.items():
            link.on_connected = functools.partial(self._node_connected, name)

    def adopt(self, early: EarlyLinks) -> bool:
        """Take over the connections `envdeck run` started before this backend existed
        (backends/edge/early.py): only when they are this config's nodes, each at the same
        address, with the same link settings; then they are this backend's links and loop.
        False (nothing taken) otherwise: the caller closes them."""
        if self.remote.running or early.settings != self.settings or early.addresses.keys() != self.nodes.keys():
            return False
        if any(NodeAddress.of(node) != early.addresses[name] for name, node in self.nodes.items()):
            return False
        self.remote = early.remote
        for name, link in early.links.items():
            link.node = self.nodes[name]  # the validated entry from now on (the same address)
            link.on_connected = functools.partial(self._node_connected, name)
            self.links[name] = link
        early.adopted = True
        return True

    # -- lifecycle -----------------------------------------------------------
    async def close(self) -> None:
        """Close every connection, then stop the backend's loop and join its thread."""
        if self.remote.running:
            await self.remote.call(self._close_links())
            await self.remote.stop()
        else:
            await self._close_links()

    async def _close_links(self) -> None:
        if self._pass_request is not None:
            self._pass_request.cancel()
            self._pass_request = None
        await asyncio.gather(*(link.close() for link in self.links.values()), return_exceptions=True)

    def resource_links(self, resources: list[Resource]) -> list[Link]:
        return edge_links.resource_links(resources)

    def describe(self) -> str:
        return f"edge: {len(self.nodes)} SSH node{'s' if len(self.nodes) != 1 else ''}"

    @on_own_loop
    async def check(self) -> str:
        outcomes = await asyncio.gather(*(link.connection() for link in self.links.values()),
                                        return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        for err in errors:
            if not isinstance(err, BackendError):
                raise err
        if self.links and len(errors) == len(outcomes):
            raise _all_failed(errors, len(outcomes))
        text = f"{len(outcomes) - len(errors)}/{len(outcomes)} nodes reachable"
        if errors:
            text += "; " + "; ".join(str(e) for e in errors[:3])
        return text

    # -- observing -----------------------------------------------------------
    @on_own_loop
    async def observe(self) -> Observation:
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(node: EdgeNode) -> None:
            async with gate:
                await self._sample(node)

        budget = self._pass_budget()
        tasks = {n.name: asyncio.ensure_future(one(n)) for n in self.config.nodes}
        self._observing += 1
        try:
            await self._within_budget(tasks, budget)
        except BaseException:  # cut short (the reconciler's timeout, Ctrl-C): the last shown pass stands
            for task in tasks.values():
                task.cancel()
            self._observing -= 1
            late, self._reconnected_in_pass = self._reconnected_in_pass, set()
            for name in late:
                self._node_connected(name)
            raise
        self._observing -= 1
        self._passed({n for n, st in self._state.items() if not st.fresh})
        now = now_utc()
        resources: list[Resource] = []
        samples: list[tuple[str, str, float]] = []
        for node in self.config.nodes:
            st, view = self._state[node.name], self._view(node.name)
            resources.append(node_resource(node, view, st, self.config.thresholds, now))
            resources.extend(service_resource(node, s, view, st, now) for s in node.services)
            if st.fresh:
                samples.extend(_samples_of(node, st))
        self._history.add(now, samples)
        self._resources = {r.id: r for r in resources}
        obs = Observation("edge", resources, faults_for(resources, self._fault_since, now),
                          self._events(resources, now), now, samples)
        obs.nodes_total = len(self._state)
        obs.nodes_unreachable = sum(1 for st in self._state.values() if not st.fresh)
        if self._state and not any(st.fresh for st in self._state.values()):
            raise _all_failed([BackendDenied(self._state[n].error or "") if link.refusal else
                               BackendUnreachable(self._state[n].error or "") for n, link in self.links.items()],
                              len(self.links))
        return obs

    def _pass_budget(self) -> float:
        """How long a pass waits for its nodes: the reconciler cuts an observe pass at
        max(3 × defaults.timeout, 5 s) (Reconciler.pass_once) with a message that can name no
        node, so the pass ends 0.5 s before that itself and names the nodes that did not
        answer. A silent node costs its own `connect_timeout` when that is shorter."""
        return max(self.defaults.timeout * 3, 5.0) - PASS_MARGIN_S

    async def _within_budget(self, tasks: dict[str, asyncio.Future], budget: float) -> None:
        """Await the nodes' samples; those still running after `budget` seconds are cancelled and
        their nodes say so ("node N: no answer within Bs ..."). A sample's bug is raised."""
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks.values(), timeout=budget)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
        for name, task in tasks.items():
            if task.cancelled():
                self._state[name].error = (
                    f"node {name}: no answer within {budget:g}s (the observe pass's limit, "
                    f"max(3 × defaults.timeout, 5 s) − {PASS_MARGIN_S:g} s; edge.connect_timeout is "
                    f"{self.config.connect_timeout:g}s)")
            elif task.exception() is not None:
                raise task.exception()

    async def _sample(self, node: EdgeNode) -> None:
        link, st = self.links[node.name], self._state[node.name]
        st.fresh = False
        commands = self.config.commands_for(node)
        wanted = [render(commands.status, service=s) for s in node.services]
        if commands.version:  # after the statuses: index len(services) + i is service i's version
            wanted += [render(commands.version, service=s) for s in node.services]
        req = ProbeRequest(new_nonce(), tuple(wanted), cpu_delta=st.sample is None or st.sample.cpu is None)
        try:
            sent = time.time()
            out = await link.run(probe_command(req), timeout=self._probe_timeout(), respect_backoff=True,
                                 connect_wait=self._connect_wait(link), drop_on_timeout=True,
                                 limit_channels=False)
            received = time.time()
        except BackendError as exc:
            st.error = str(exc)  # the link keeps reachability and last_seen
            return
        st.error = None
        sample = parse_probe(out.stdout, req.nonce)
        if not sample.complete and out.exit_code:
            sample.problems.append(f"probe exited {out.exit_code}: {out.stderr.strip()[:200]}")
        previous = st.sample
        if sample.cpu_next is not None:
            st.cpu_percent = cpu_percent(sample.cpu, sample.cpu_next)
        elif previous is not None:
            st.cpu_percent = cpu_percent(previous.cpu_next or previous.cpu, sample.cpu)
        st.clock_skew_s = (None if sample.remote_time is None
                           else round(sample.remote_time + 0.5 - (sent + received) / 2, 1))
        n = len(node.services)
        st.services = {node.services[i]: s for i, s in sample.services.items() if i < n}
        st.versions = {node.services[i - n]: s.first_line[:200] for i, s in sample.services.items()
                       if n <= i < 2 * n and s.active and s.first_line}
        st.sample, st.sampled_at, st.fresh = sample, link.last_seen, True

    # -- early passes after a background reconnect ---------------------------
    def _node_connected(self, name: str) -> None:
        """A connect of node `name` succeeded. If the last pass showed the node stale, ask
        for an early pass (once for this reconnect). During a pass, the end of the pass decides."""
        if self._observing:
            self._reconnected_in_pass.add(name)
        elif name in self._shown_stale:
            self._shown_stale.discard(name)
            self._schedule_pass_request()

    def _passed(self, stale: set[str]) -> None:
        """A pass is about to show `stale` nodes without a fresh sample. Those that connected
        during the pass, after their sample had given up, are owed an early pass."""
        late = {n for n in self._reconnected_in_pass & stale if self.links[n].connected}
        self._reconnected_in_pass.clear()
        self._shown_stale = stale - late
        if late:
            self._schedule_pass_request()

    def _schedule_pass_request(self) -> None:
        """One request_pass() call after a short delay, however many nodes ask meanwhile."""
        if self.request_pass is None or self._pass_request is not None:
            return
        self._pass_request = asyncio.get_running_loop().call_later(self.pass_request_delay_s,
                                                                   self._request_pass_now)

    def _request_pass_now(self) -> None:
        """On the backend's loop: call request_pass() on the loop of the backend's caller."""
        self._pass_request = None
        owner = self.owner_loop
        if owner is None or owner is asyncio.get_running_loop():
            self._call_request_pass()
        elif not owner.is_closed():
            owner.call_soon_threadsafe(self._call_request_pass)

    def _call_request_pass(self) -> None:
        if self.request_pass is not None:
            self.request_pass()

    def _connect_wait(self, link: NodeLink) -> float | None:
        """How long a pass waits for a node's connect. A reconnect (the node was tried
        before), and any connect under a running reconciler (`continuous`), gets a short
        budget and then goes on in the background, so one dead node does not hold up the
        pass; in a one-shot command (`envdeck status`) a node's first connect is waited
        for in full, so that it says what really happened."""
        if link.attempts == 0 and not self.continuous:
            return None
        return min(self.connect_wait_s, self.config.connect_timeout)

    def _probe_timeout(self) -> float:
        """The probe is quick (well under a second on a live node): a node that takes longer
        than the connect timeout to answer it is treated as gone, not waited for."""
        return min(self.config.command_timeout, max(self.config.connect_timeout, 5.0))

    def _view(self, name: str) -> LinkView:
        link = self.links[name]
        refusal = link.refusal
        return LinkView(link.reachable, self._state[name].error or link.error, link.last_seen,
                        refusal.status if refusal else None,
                        refusal.presented.fingerprint if refusal else None, connecting=link.connecting)

    def _events(self, resources: list[Resource], now: datetime) -> list[Event]:
        events = []
        for r in resources:
            before = self._last_health.get(r.id)
            self._last_health[r.id] = r.health
            if before is not None and before != r.health:
                events.append(Event(r.id, "HealthChanged",
                                    f"{before} → {r.health}" + (f": {r.health_reason}" if r.health_reason else ""),
                                    now, "Normal" if r.health == Health.HEALTHY else "Warning"))
        return events

    @on_own_loop
    async def metrics(self, resource_id: str | None, window_s: float) -> list[MetricSeries]:
        return self._history.window(resource_id, window_s, now_utc())

    # -- desired state -------------------------------------------------------
    def diff(self, observation: Observation) -> list[DriftItem]:
        """Every listed service should be active; a service of an unreachable node is not judged."""
        return [DriftItem(r.id, "active", True, False) for r in observation.resources
                if r.kind == "service" and r.attributes.get("active") is False]

    def repair_action(self, drift: DriftItem) -> str:
        return "start"

    def desired_fields(self, resource: Resource) -> dict[str, Any]:
        return {"active": True} if resource.kind == "service" else {}

    def action_effect(self, resource: Resource, action: str, params: dict[str, str]) -> dict[str, Any]:
        if resource.kind == "service" and action in ("start", "stop"):
            return {"active": action == "start"}
        return {}

    @on_own_loop
    async def repair(self, drift: DriftItem) -> ActionResult:
        if drift.field != "active" or "/service/" not in drift.resource:
            raise InvalidRequest(f"edge cannot repair {drift.field} of {drift.resource}", backend="edge")
        return await self.perform(self.resource_for(drift.resource), "start", {})

    # -- reading -------------------------------------------------------------
    async def logs(self, resource_id: str, *, follow: bool = False, tail: int | None = 100,
                   container: str | None = None, previous: bool = False) -> AsyncIterator[LogLine]:
        """The lines of a node's log files or a service's log command. The channels live on
        the backend's loop; their lines reach the caller's loop in batches (LineRelay)."""
        source = self._logs(resource_id, follow=follow, tail=tail, container=container)
        if self.remote.running_here():
            async for line in source:
                yield line
            return
        relay = await self.remote.call(_open_relay(source))
        try:
            while True:
                batch = await self.remote.call(relay.take())
                for item in batch:
                    if isinstance(item, BaseException):
                        raise item
                    if item is None:
                        return
                    yield item
        finally:
            if self.remote.running:
                await self.remote.call(relay.stop())

    async def _logs(self, resource_id: str, *, follow: bool, tail: int | None,
                    container: str | None) -> AsyncIterator[LogLine]:
        kind, node, service = self.parse_id(resource_id)
        commands = self.config.commands_for(node)
        lines = ALL_LINES if tail is None else max(0, tail)
        if kind == "service":
            wanted = [(f"{node.name}:{service}", render(commands.logs, service=service, lines=lines))]
        else:
            files = [container] if container else list(node.log_files)
            if not files:
                raise InvalidRequest(f"node {node.name} has no log_files in the config", backend="edge")
            for f in files:
                if f not in node.log_files:
                    raise InvalidRequest(f"{f} is not one of the log_files of node {node.name}: "
                                         f"{', '.join(node.log_files) or 'none'}", backend="edge")
            wanted = [(f"{node.name}:{f}", render(commands.file_logs, file=f, lines=lines)) for f in files]
        link = self.links[node.name]
        procs = []
        try:
            for source, command in wanted:
                procs.append((source, await link.open_stream(command)))
        except BaseException:
            for _, proc in procs:
                proc.close()
            raise
        async for line in stream_lines(procs, follow=follow, lines_per_source=lines):
            yield line

    # -- fleet ---------------------------------------------------------------
    def node_names(self) -> list[str]:
        """The node names in config order (the fleet protocol, backends/base.py)."""
        return [n.name for n in self.config.nodes]

    def select_nodes(self, patterns: Sequence[str] | None) -> list[str]:
        """Node names matching names or globs (all nodes for None); InvalidRequest if none match."""
        names = select_names(list(self.nodes), patterns)
        if patterns and not names:
            raise InvalidRequest(f"no node matches {', '.join(patterns)}; nodes: {', '.join(self.nodes)}",
                                 backend="edge")
        return names

    def node_connected(self, name: str) -> bool:
        """Whether the node's SSH connection is open now (a flag, read from any thread)."""
        link = self.links.get(name)
        return link is not None and link.connected

    @on_own_loop
    async def run_fleet(self, command: str, nodes: Sequence[str] | None = None, *,
                        concurrency: int | None = None,
                        on_result: ResultCallback | None = None) -> list[FleetResult]:
        """Run one shell command on many nodes (names or globs) over their shared connections."""
        if not command.strip():
            raise InvalidRequest("the command is empty", backend="edge")

        async def work(name: str) -> FleetResult:
            start = time.monotonic()
            out = await self.links[name].run(command)
            stdout = out.stdout + (CUT_MARK if out.truncated else "")
            return FleetResult(name, out.exit_code, time.monotonic() - start, stdout, out.stderr)

        return await run_bounded(self.select_nodes(nodes), work, lambda n: n,
                                 concurrency=concurrency or self.config.concurrency, on_result=on_result)

    @on_own_loop
    async def run_fleet_action(self, action: str, targets: Sequence[str], params: dict[str, str] | None = None,
                               *, concurrency: int | None = None,
                               on_result: ResultCallback | None = None) -> list[FleetResult]:
        """Perform one action on many resources (ids, or node names for node actions).
        Each result's `node` is the resource name (NODE or NODE:SERVICE)."""
        resources = [self.resource_for(t if "/" in t else node_id(t)) for t in targets]

        async def work(res: Resource) -> FleetResult:
            start = time.monotonic()
            result = await self.perform(res, action, dict(params or {}))
            data = result.data
            return FleetResult(res.name, data.get("exit_code", 0 if result.ok else 1), time.monotonic() - start,
                               data.get("stdout", result.message if result.ok else ""),
                               data.get("stderr", "" if result.ok else result.message))

        return await run_bounded(resources, work, lambda r: r.name,
                                 concurrency=concurrency or self.config.concurrency, on_result=on_result)

    # -- ids -----------------------------------------------------------------
    def parse_id(self, rid: str) -> tuple[str, EdgeNode, str | None]:
        """(kind, node, service) of `edge/node/N` or `edge/service/N:S`."""
        parts = rid.split("/", 2)
        if len(parts) != 3 or parts[0] != "edge" or parts[1] not in ("node", "service"):
            raise NotFound(f"{rid} is not an edge resource id (edge/node/NAME, edge/service/NODE:SERVICE)",
                           backend="edge")
        name, service = parts[2], None
        if parts[1] == "service":
            name, _, service = parts[2].partition(":")
        node = self.nodes.get(name)
        if node is None:
            raise NotFound(f"no edge node {name!r} in this environment", backend="edge")
        if service is not None and service not in node.services:
            raise NotFound(f"node {name} has no service {service!r} in the config", backend="edge")
        return parts[1], node, service

    def resource_for(self, rid: str) -> Resource:
        """The last observed resource with this id, or a bare one built from the id."""
        if rid in self._resources:
            return self._resources[rid]
        kind, node, service = self.parse_id(rid)
        return Resource(rid, "edge", kind, node.name if service is None else f"{node.name}:{service}")

    def actions(self, resource: Resource) -> list[ActionSpec]:
        return self.action_specs(resource)


class LineRelay:
    """On the backend's loop: pumps an async iterator of log lines into a bounded queue;
    `take()` hands the caller what is there (at least one item: a line, the exception that
    ended the stream, or None at its end) so that a fast stream crosses loops in batches."""

    def __init__(self, source: AsyncIterator[LogLine]):
        self._queue: asyncio.Queue[LogLine | BaseException | None] = asyncio.Queue(LOG_RELAY_LINES)
        self._task = asyncio.get_running_loop().create_task(self._pump(source), name="envdeck-edge-log-relay")

    async def _pump(self, source: AsyncIterator[LogLine]) -> None:
        try:
            async for line in source:
                await self._queue.put(line)
            await self._queue.put(None)
        except Exception as exc:  # noqa: BLE001 - handed to the reader, who raises it
            await self._queue.put(exc)
        finally:
            await source.aclose()  # type: ignore[attr-defined] - an async generator

    async def take(self) -> list[LogLine | BaseException | None]:
        items = [await self._queue.get()]
        while len(items) < LOG_RELAY_LINES and not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def _open_relay(source: AsyncIterator[LogLine]) -> LineRelay:
    return LineRelay(source)


def _samples_of(node: EdgeNode, st: NodeState) -> list[tuple[str, str, float]]:
    s, rid = st.sample, node_id(node.name)
    assert s is not None
    values = [("load1", s.load1), ("load5", s.load5), ("load15", s.load15), ("cpu", st.cpu_percent),
              ("memory", s.memory_percent), ("uptime", s.uptime_s), ("clock_skew", st.clock_skew_s)]
    values += [(f"disk:{mount}", used) for mount, used in sorted(s.disks.items())]
    return [(rid, name, float(v)) for name, v in values if v is not None]


def _all_failed(errors: Sequence[BaseException], total: int) -> BackendError:
    detail = "; ".join(str(e) for e in errors[:3]) + ("; …" if len(errors) > 3 else "")
    if all(isinstance(e, BackendDenied) for e in errors):
        return BackendDenied(f"all {total} edge nodes refused: {detail}", backend="edge")
    return BackendUnreachable(f"all {total} edge nodes unreachable: {detail}", backend="edge")
