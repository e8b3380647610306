"""`envdeck agent [--env GLOB]... [--listen HOST:PORT] [--listen-any] [--log-format json|text]`:
the reconciler as a headless daemon (systemd, a Kubernetes Deployment: docs/deploy/).

It opens one session over the environments the globs match (every environment the user
can see without `--env`; a glob that matches none is a usage error, exit 2, naming it) and
reconciles them until SIGTERM or SIGINT: observe every backend, repair per each
environment's `repair` mode, carry out the lifecycle operations and expired TTLs of created
environments (the lifecycle driver). Its log is stdout, one JSON object per line
(`tui.cli.agent_log`); `/healthz` and `/metrics` are served on a loopback port
(`tui.cli.agent_http`, `tui.core.metrics`). A port it cannot bind (another local user took it
first) does not stop it: a warning names the address and who holds it, reconciling goes on, and
the port is tried again every $ENVDECK_AGENT_LISTEN_RETRY seconds (docs/deploy/README.md).

- SIGTERM / SIGINT: the HTTP server and the loops stop and the agent exits 0 (well within a
  second: closing the session is bounded by `CLOSE_BUDGET_S`).
- SIGHUP: the config file is read again. A config that does not validate, or in which a
  glob now matches nothing, is refused with an error line and the agent goes on with the
  previous one; else the session is closed and opened again on the new config (the
  counters of /metrics carry over).
- /healthz: 200 while some backend passed within three of its intervals (or holds a live
  watch), and during the first three intervals after start; 503 when no pass has
  succeeded for three intervals. One unreachable cloud out of several is a metric
  (`envdeck_backend_up`), not a reason to restart the agent.

Audit rows: the agent's repairs are `reconciler` rows and its TTL destroys `ttl` rows, as
in a TUI; the user column says which account ran it (a dedicated `envdeck` user).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from tui import __version__
from tui.cli.agent_http import AgentServer, ListenAddress, parse_listen, port_holder
from tui.cli.agent_log import setup_agent_logging
from tui.cli.opening import load, open_session
from tui.core.config import EnvdeckConfig
from tui.core.env_state import (
    BackendStatusChanged,
    Change,
    EnvironmentsChanged,
    EnvPaused,
    LeaderChanged,
    LifecycleChanged,
    RepairPause,
    RepairPerformed,
    TimelineAdded,
)
from tui.core.errors import ConfigError, EnvdeckError, InvalidRequest
from tui.core.heap import settle_heap
from tui.core.metrics import ReconcileMetrics
from tui.core.model import AuditResult, Origin
from tui.core.session import Session

log = logging.getLogger("envdeck.agent")

#: How long releasing the leases may take on SIGTERM (then they expire on their own).
RELEASE_BUDGET_S = 0.5
#: How long closing the session may take on SIGTERM before the agent exits anyway.
CLOSE_BUDGET_S = 0.7
#: Reads of the audit trail for who resumed an environment (the row follows the store's write), and the gap
RESUMER_READS = 10
RESUMER_READ_GAP_S = 0.2
#: The newest audit rows of the environment searched for that resume
RESUMER_ROWS = 20
#: /healthz turns 503 when no pass succeeded for this many intervals.
STALE_INTERVALS = 3
#: How often a metrics address that could not be bound is tried again ($ENVDECK_AGENT_LISTEN_RETRY).
LISTEN_RETRY_S = 30.0


def listen_retry_s() -> float:
    try:
        return max(0.1, float(os.environ.get("ENVDECK_AGENT_LISTEN_RETRY", LISTEN_RETRY_S)))
    except ValueError:
        return LISTEN_RETRY_S


def select_environments(visible: list[str], globs: list[str]) -> list[str]:
    """The visible environments matching any of `globs` (fnmatch, case-sensitive), in the
    config's order; InvalidRequest naming the first glob that matches none."""
    chosen: set[str] = set()
    for glob in globs:
        matched = [name for name in visible if fnmatch.fnmatchcase(name, glob)]
        if not matched:
            raise InvalidRequest(f"--env {glob!r} matches no environment that you can see")
        chosen.update(matched)
    return [name for name in visible if name in chosen]


class Agent:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.globs: list[str] = list(args.env or [])
        self.metrics = ReconcileMetrics()
        self.session: Session | None = None
        self.config: EnvdeckConfig | None = None
        self.started = time.monotonic()
        self.stopping = asyncio.Event()
        self.reloading = asyncio.Event()
        self._reachable: dict[tuple[str, str], bool | None] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._pauses: dict[str, RepairPause | None] = {}  # the pause each resume ends (its log says whose)
        self._log_tasks: set[asyncio.Task[None]] = set()

    # -- the session ----------------------------------------------------------------
    async def open(self, cfg: EnvdeckConfig) -> Session:
        """A session over the chosen environments (InvalidRequest: a glob matches none)."""
        session = await open_session(self.args, cfg, origin=Origin.RECONCILER)
        setup_agent_logging(self.args.log_format)  # open_session set up the file log
        if not self.globs:
            return session
        visible = session.environments()
        try:
            chosen = select_environments(visible, self.globs)
        except InvalidRequest:
            await session.close()
            raise
        if chosen == visible:
            return session
        await session.close()
        session = await open_session(self.args, cfg, origin=Origin.RECONCILER, envs=chosen)
        setup_agent_logging(self.args.log_format)
        return session

    async def _start(self, session: Session) -> None:
        self.session = session
        self._unsubscribe = session.subscribe(self._on_change)
        await session.start_reconciling()
        log.info("reconciling", extra={"ctx": {"envs": session.environments(), "version": __version__}})

    async def _close_session(self) -> None:
        session, self.session = self.session, None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if session is not None:
            await session.close()

    async def _reload(self) -> None:
        """SIGHUP: the config read again; refused (the previous one kept) when it does not
        validate or a glob matches nothing in it."""
        try:
            cfg = load(self.args)
        except ConfigError as exc:
            log.error("config reload refused; going on with the previous config",
                      extra={"ctx": {"problems": list(exc.problems)}})
            return
        await self._close_session()
        try:
            session = await self.open(cfg)
        except EnvdeckError as exc:  # ConfigError, or a glob that matches nothing now
            log.error("config reload refused; going on with the previous config",
                      extra={"ctx": {"problems": list(getattr(exc, "problems", None) or [str(exc)])}})
            assert self.config is not None
            session = await self.open(self.config)
        else:
            self.config = cfg
            log.info("config reloaded", extra={"ctx": {"config": cfg.source}})
        await self._start(session)

    # -- running --------------------------------------------------------------------
    async def run(self) -> int:
        address = parse_listen(self.args.listen, listen_any=self.args.listen_any)  # refused before anything
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reloading.set)
        try:
            self.config = load(self.args)
            session = await self.open(self.config)
            server = AgentServer(address, self.health, self.render_metrics)
            listen_later: asyncio.Task[None] | None = None
            bind_error: OSError | None = None
            try:
                port: int | None = await server.start()
            except OSError as exc:  # e.g. another local user holds the port: reconciling matters more
                port, bind_error = None, exc
            except BaseException:
                await session.close()
                raise
            heap = settle_heap()  # a long-running process with a big inventory: no long full-GC pauses
            try:
                if port is not None:
                    log.info("listening", extra={"ctx": {"address": f"{address.host}:{port}", "port": port}})
                else:
                    assert bind_error is not None
                    self._say_not_listening(address, bind_error)
                    listen_later = asyncio.create_task(self._listen_later(server))
                await self._start(session)
                while not await self._wait_for_signal():
                    self.reloading.clear()
                    await self._reload()
                log.info("stopping")
            finally:
                if listen_later is not None:
                    listen_later.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await listen_later
                await self._shutdown(server)
                heap.unsettle()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        return 0

    def _say_not_listening(self, address: ListenAddress, exc: OSError) -> None:
        """The metrics address could not be bound: a warning naming it and, when /proc says, who
        holds the port; the agent goes on reconciling (`_listen_later` tries again)."""
        holder = port_holder(address.port) if address.port else None
        log.warning("metrics endpoint disabled: cannot listen on %s (%s%s); /healthz and /metrics are off, and "
                    "whatever answers on that port is not this agent; reconciling goes on; trying again every "
                    "%gs", address, exc.strerror or exc, f", held by {holder}" if holder else "", listen_retry_s(),
                    extra={"ctx": {"address": str(address), "port": address.port, "error": str(exc),
                                   "holder": holder}})

    async def _listen_later(self, server: AgentServer) -> None:
        """Bind the metrics address again every `listen_retry_s()` until it is free."""
        while True:
            await asyncio.sleep(listen_retry_s())
            try:
                port = await server.start()
            except OSError:
                continue
            log.info("listening", extra={"ctx": {"address": f"{server.address.host}:{port}", "port": port}})
            return

    async def _wait_for_signal(self) -> bool:
        """True on SIGTERM/SIGINT, False on SIGHUP."""
        waits = [asyncio.create_task(self.stopping.wait()), asyncio.create_task(self.reloading.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        return self.stopping.is_set()

    async def _shutdown(self, server: AgentServer) -> None:
        await server.stop()
        # release this process's leases before the session closes, so that another agent
        # takes over at once rather than after the lease expires (issue 16)
        if self.session is not None:
            try:
                await asyncio.wait_for(self.session.release_leadership(), timeout=RELEASE_BUDGET_S)
            except TimeoutError:
                log.warning("the leases were not released within %.1fs; they expire on their own",
                            RELEASE_BUDGET_S)
        try:
            await asyncio.wait_for(self._close_session(), timeout=CLOSE_BUDGET_S)
        except TimeoutError:
            log.warning("the session did not close within %.1fs; exiting anyway", CLOSE_BUDGET_S)

    # -- /healthz and /metrics ---------------------------------------------------------
    def _interval(self, env: str, backend: str) -> float:
        assert self.session is not None
        config = self.session.config
        section = getattr(config.environments.get(env), backend, None)
        return float(getattr(section, "interval", None) or config.defaults.interval)

    def health(self) -> tuple[int, dict[str, Any]]:
        session = self.session
        if session is None:  # between two sessions (SIGHUP) or shutting down
            return 200, {"status": "reloading", "envs": [], "last_pass_age_s": None}
        now = time.monotonic()
        states = session.states()
        ages: list[float] = []
        limit = 0.0
        down: list[str] = []
        for env, state in states.items():
            for bname, bstate in state.backends.items():
                limit = max(limit, STALE_INTERVALS * self._interval(env, bname))
                if bstate.reachable is False:
                    down.append(f"{env}/{bname}")
                seen = self.metrics.last_ok.get((env, bname))
                if bstate.watching and bstate.reachable is True:
                    ages.append(0.0)  # a live watch: no news is news
                elif seen is not None:
                    ages.append(now - seen)
        body: dict[str, Any] = {"status": "ok", "envs": list(states), "last_pass_age_s": None,
                                "down": down, "version": __version__}
        if not limit:
            return 200, body  # nothing to observe (no environment, or none with a backend)
        if not ages:
            waited = now - self.started
            if waited <= limit:
                body["status"] = "starting"
                return 200, body
            body["status"] = f"no pass has succeeded in {waited:.0f}s"
            return 503, body
        newest = min(ages)
        body["last_pass_age_s"] = round(newest, 3)
        if newest > limit:
            body["status"] = f"no pass has succeeded in {newest:.0f}s"
            return 503, body
        return 200, body

    def render_metrics(self) -> str:
        states = self.session.states() if self.session is not None else {}
        return self.metrics.exposition(states, version=__version__)

    # -- the log ----------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        self.metrics.observe(change)
        if isinstance(change, BackendStatusChanged):
            self._log_backend(change)
        elif isinstance(change, RepairPerformed):
            record = change.record
            ok = record.result == AuditResult.SUCCEEDED
            log.log(logging.INFO if ok else logging.WARNING, "repair %s", record.result, extra={"ctx": {
                "env": change.env, "backend": record.resource.partition("/")[0], "resource": record.resource,
                "field": record.field, "action": record.action, "result": str(record.result),
                "message": record.message, "origin": change.origin}})
        elif isinstance(change, TimelineAdded):
            for entry in change.entries:
                if entry["kind"] in ("drift", "fault"):
                    log.log(logging.WARNING if entry["severity"] in ("high", "critical") else logging.INFO,
                            "%s %s", entry["kind"], entry["reason"], extra={"ctx": {
                                "env": change.env, "backend": str(entry["resource"]).partition("/")[0],
                                "resource": entry["resource"], "kind": entry["kind"],
                                "severity": entry["severity"], "message": entry["message"]}})
        elif isinstance(change, LifecycleChanged):
            managed = change.managed
            log.info("lifecycle %s", managed.state, extra={"ctx": {
                "env": change.env, "state": str(managed.state),
                "operation": str(managed.operation) if managed.operation is not None else None,
                "step": managed.step, "reason": managed.reason}})
        elif isinstance(change, EnvironmentsChanged):
            log.info("environments changed", extra={"ctx": {"added": change.added, "removed": change.removed}})
        elif isinstance(change, EnvPaused):
            self._log_pause(change)
        elif isinstance(change, LeaderChanged) and not self.stopping.is_set():  # not the release on SIGTERM
            log.log(logging.WARNING if change.note else logging.INFO, "leader %s", change.leader or "none",
                    extra={"ctx": {"env": change.env, "leader": change.leader, "note": change.note}})

    def _log_pause(self, change: EnvPaused) -> None:
        """`repairs paused env=… by=alice reason=…` at once (the store's pause says who);
        `repairs resumed env=… by=bob paused_by=alice` once the resume's audit row names who
        resumed (the store's pause row is gone by then: only the trail knows)."""
        if change.paused:
            self._pauses[change.env] = change.by
            log.info("repairs paused", extra={"ctx": {
                "env": change.env, "by": change.by.user if change.by is not None else "",
                "since": change.by.at if change.by is not None else "",
                "reason": change.by.reason if change.by is not None else ""}})
            return
        ended = self._pauses.pop(change.env, None)
        task = asyncio.get_running_loop().create_task(self._log_resumed(change.env, ended))
        self._log_tasks.add(task)
        task.add_done_callback(self._log_tasks.discard)

    async def _log_resumed(self, env: str, ended: RepairPause | None) -> None:
        by = ""
        for _ in range(RESUMER_READS):  # the resume's row follows the store's write by a moment
            by = await self._resumer(env)
            if by:
                break
            await asyncio.sleep(RESUMER_READ_GAP_S)
        log.info("repairs resumed", extra={"ctx": {
            "env": env, "by": by, "paused_by": ended.user if ended is not None else ""}})

    async def _resumer(self, env: str) -> str:
        """Who resumed `env`: the newest succeeded `resume` row that ended a pause, or ''."""
        session = self.session
        if session is None:
            return ""
        try:
            rows = await session.audit_entries(env, limit=RESUMER_ROWS)
        except EnvdeckError:
            return ""
        for row in rows:  # newest first: the resume that ended a pause, unless a pause is newer
            if row["result"] != AuditResult.SUCCEEDED or row["action"] not in ("pause", "resume"):
                continue
            message = str(row["message"])
            if row["action"] == "resume" and message.startswith("resumed"):
                return str(row["user"])
            if row["action"] == "pause" and message.startswith("paused"):
                return ""  # paused again since: the resume's row is not written yet
        return ""

    def _log_backend(self, change: BackendStatusChanged) -> None:
        key = (change.env, change.backend)
        state = change.state
        before = self._reachable.get(key)
        if state.reachable is before or state.reachable is None:
            return
        self._reachable[key] = state.reachable
        if state.reachable:
            count = 0
            if self.session is not None and change.env in self.session.states():
                count = len(self.session.state(change.env).resources.get(change.backend, {}))
            log.info("backend reachable", extra={"ctx": {"env": change.env, "backend": change.backend,
                                                         "resources": count}})
        else:
            log.warning("backend unreachable", extra={"ctx": {
                "env": change.env, "backend": change.backend, "error": state.error,
                "failures": state.failures, "backoff_s": round(state.backoff_s, 3)}})


async def cmd_agent(args: argparse.Namespace) -> int:
    return await Agent(args).run()
