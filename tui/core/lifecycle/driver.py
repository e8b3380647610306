"""The reconciler's lifecycle loop: it carries out what the lifecycle service hands over.

Every ~2 s (and at once when woken by a request of this process): the expired TTLs are
turned into destroy requests (`engine.expire_due`), then every created environment with a
pending operation is driven (`engine.drive`), one task per environment, never two at once
in this process; one that another process drives (its lease is taken) is skipped quietly
(LeaseBusy) and looked at again next time. Every change the engine reports, and every change
another process made to the store, is published as `LifecycleChanged`; the observed
environments follow: a created environment is observed while it exists (its section from
the rendered template), dropped when destroyed (`Reconciler.add_environment` /
`remove_environment`, which publish `EnvironmentsChanged`).

Repairs of a created environment are held while it is planned, provisioning, asleep,
failed or being torn down, or while an operation is pending on it: observing goes on
(`held_reason` says why, for a repair asked by hand). While it sleeps, what its sleep memory
names is shown Suspended ("asleep"), and while it is being created its missing resources are
Progressing (`view`, tui/core/lifecycle/shading.py). When it becomes ready or goes to sleep,
each of its backends is asked for a pass at once (`Reconciler.request_pass`), so the overview
does not show the state of before until the next interval.

Each round also carries on the promotions a killed envdeck left unfinished into an environment
this process leads (`promotions`, tui/core/promote/resume.py, set by the session).

`run_pending()` is the one-shot form (`envdeck reconcile`): the expired TTLs and every
pending operation, each carried out to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from tui.core.config import AwsConfig, Defaults, EdgeConfig, KubernetesConfig, StrictModel
from tui.core.env_state import LifecycleChanged
from tui.core.errors import EnvdeckError, InvalidRequest, LifecycleFailed
from tui.core.lifecycle.effective import environment_config, live
from tui.core.lifecycle.engine import AUDIT_ENDS, LeaseBusy, LifecycleEngine, ProvisionerFactory
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment
from tui.core.lifecycle.shading import LifecycleView

if TYPE_CHECKING:
    from tui.core.reconciler import Reconciler


class PromotionResumer(Protocol):
    """Unfinished promotions this process carries on (tui/core/promote/resume.py; set by the session)."""

    async def due(self) -> list[str]: ...

    async def resume(self, pid: str) -> None: ...

__all__ = ["HELD_STATES", "CreateProvisioner", "LifecycleDriver", "ProvisionerFactory", "bind_provisioners"]

log = logging.getLogger("envdeck.lifecycle")

#: How often the loop looks for pending operations and expired TTLs.
INTERVAL_S = 2.0
#: How often a command with --wait looks at an operation another process carries out.
FOLLOW_S = 1.0
#: States in which a created environment's drift is observed but never repaired.
HELD_STATES = frozenset({EnvLifecycleState.PLANNED, EnvLifecycleState.PROVISIONING, EnvLifecycleState.SLEEPING,
                         EnvLifecycleState.DESTROYING, EnvLifecycleState.FAILED})
#: States after which a created environment's backends are asked for a pass at once.
_FRESH_PASS_STATES = frozenset({EnvLifecycleState.READY, EnvLifecycleState.SLEEPING})


#: The shape of `backends.registry.create_provisioner`: (backend, env, validated section of the
#: rendered environment, defaults, template) -> Provisioner. The composition root hands it in.
CreateProvisioner = Callable[[str, str, Any, Defaults, str], Any]

_SECTIONS: dict[str, type[StrictModel]] = {"aws": AwsConfig, "kubernetes": KubernetesConfig, "edge": EdgeConfig}


def bind_provisioners(create: CreateProvisioner | None, defaults: Defaults) -> ProvisionerFactory:
    """The engine's ProvisionerFactory over `create`: the backend section of the rendered
    environment validated as the model the observing backend takes, the defaults bound."""

    def make(backend: str, env: str, section: Any, template: str) -> Any:
        if create is None:
            raise InvalidRequest(f"this envdeck was started without provisioners: it cannot create "
                                 f"{backend} resources", backend=backend)
        model = _SECTIONS.get(backend)
        if model is not None and not isinstance(section, model):
            try:
                section = model.model_validate(section or {})
            except ValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()))
                raise InvalidRequest(f"{env}: the rendered {backend} section is not valid"
                                     f"{' at ' + where if where else ''}: {first.get('msg', exc)}",
                                     backend=backend) from None
        return create(backend, env, section, defaults, template)

    return make


def _fingerprint(managed: ManagedEnvironment) -> tuple:
    """What a subscriber would see change."""
    return (managed.state, managed.operation, managed.step, managed.reason, managed.expires_at,
            managed.updated_at, tuple((s.id, s.state, s.message, s.attempts) for s in managed.steps),
            tuple(managed.orphans))


class LifecycleDriver:
    def __init__(self, reconciler: Reconciler, provisioners: CreateProvisioner | None, *,
                 interval_s: float = INTERVAL_S):
        self.reconciler = reconciler
        self.interval_s = interval_s
        self.lstore = LifecycleStore(reconciler.store)
        self.engine = LifecycleEngine(reconciler.store, self.lstore,
                                      bind_provisioners(provisioners, reconciler.config.defaults),
                                      clock=self._now, on_change=self._engine_changed,
                                      edge_pools=lambda: reconciler.config.edge_pools,
                                      leadership=reconciler.leadership,  # one lease, one epoch (issue 16)
                                      # a drive's provisioners closed after it returns (awaited by stop())
                                      background=lambda coro: reconciler._spawn(coro))
        #: the last known record of every created environment (destroyed ones included)
        self.managed: dict[str, ManagedEnvironment] = {}
        self._seen: dict[str, tuple] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sync_locks: dict[str, asyncio.Lock] = {}
        self._driving: dict[str, asyncio.Task] = {}
        #: promotions left unfinished into an environment this process leads, carried on here (issue 18)
        self.promotions: PromotionResumer | None = None
        self._promoting: dict[str, asyncio.Task] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        #: resource ids each sleeping environment's sleep memory names
        self._asleep: dict[str, frozenset[str]] = {}
        #: environments whose backends are to be asked for a pass once observed as they are now
        self._pass_due: set[str] = set()
        #: per environment, the (state, rendered environment section) of the engine's last report
        #: that brought the observed environments up to date (`_engine_changed`)
        self._synced: dict[str, tuple[EnvLifecycleState, dict[str, Any]]] = {}

    def _now(self):
        return self.reconciler.clock()

    # -- what the reconciler asks ------------------------------------------------
    def holds_repairs(self, env: str) -> bool:
        """Whether `env` is a created environment whose repairs are held now."""
        managed = self.managed.get(env)
        if managed is None or env in self.reconciler.declared:
            return False
        return managed.state in HELD_STATES or managed.operation is not None

    def held_reason(self, env: str) -> str | None:
        """Why the repairs of `env` are held (None: they are not)."""
        if not self.holds_repairs(env):
            return None
        managed = self.managed[env]
        if managed.operation is not None:
            return (f"{env}: a {managed.operation} is under way; envdeck repairs a created environment "
                    f"only once it is ready")
        why = f"{env} is {managed.state}"
        if managed.state == EnvLifecycleState.FAILED and (managed.step or managed.reason):
            why += f" (step {managed.step}: {managed.reason})" if managed.step else f" ({managed.reason})"
        hint = {EnvLifecycleState.FAILED: f"; envdeck env destroy {env} tears it down",
                EnvLifecycleState.SLEEPING: f"; envdeck env wake {env} brings it back"}.get(managed.state, "")
        return f"{why}: envdeck repairs a created environment only while it is ready{hint}"

    def view(self, env: str) -> LifecycleView | None:
        """The lifecycle state the reconciler evaluates `env` under (None: a config environment
        or one envdeck does not manage)."""
        managed = self.managed.get(env)
        if managed is None or env in self.reconciler.declared:
            return None
        return LifecycleView(env, managed.state, self._asleep.get(env, frozenset()))

    def wake(self) -> None:
        """Look for pending operations now (a request was just handed over)."""
        if self._wake is not None:
            self._wake.set()

    # -- the loop -----------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="reconcile:lifecycle")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._driving.values(), *self._promoting.values()) if t is not None]
        self._task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._driving.clear()
        self._promoting.clear()

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except EnvdeckError as exc:  # the store unreachable (a restart, a cut): said, retried next round
                log.error("the lifecycle loop could not run a round: %s", exc)
            except Exception:  # noqa: BLE001 - a bug: keep the loop alive
                log.exception("the lifecycle loop failed a round")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)

    async def tick(self) -> None:
        """One round: expired TTLs, the store's news, a task for each pending operation (and for
        each unfinished promotion into an environment this process leads)."""
        await self.refresh()
        await self._carry_on_promotions()
        if not any(live(m) for m in self.managed.values()):
            return
        await self._expire()
        await self.refresh()
        for name, managed in list(self.managed.items()):
            if managed.operation is not None and name not in self._driving and not self._busy(name):
                task = asyncio.create_task(self._drive_quietly(name), name=f"lifecycle:{name}")
                self._driving[name] = task
                task.add_done_callback(lambda _t, n=name: self._driving.pop(n, None))

    async def _carry_on_promotions(self) -> None:
        if self.promotions is None:
            return
        try:
            due = await self.promotions.due()
        except EnvdeckError as exc:
            log.error("cannot look for unfinished promotions: %s", exc)
            return
        except Exception:  # noqa: BLE001 - a bug here must not cost the lifecycle its round
            log.exception("looking for unfinished promotions failed")
            return
        for pid in due:
            if pid not in self._promoting:
                task = asyncio.create_task(self.promotions.resume(pid), name=f"promotion:{pid}")
                self._promoting[pid] = task
                task.add_done_callback(lambda _t, p=pid: self._promoting.pop(p, None))

    async def run_pending(self) -> None:
        """One-shot (`envdeck reconcile`): expired TTLs, then every pending operation carried
        out to its end (concurrently), the observed environments brought up to date."""
        await self.refresh()
        if not any(live(m) for m in self.managed.values()):
            return
        await self._expire()
        await self.refresh()
        pending = [name for name, m in self.managed.items() if m.operation is not None]
        await asyncio.gather(*(self._drive_quietly(name) for name in pending))
        await self.refresh()

    async def _expire(self) -> None:
        try:
            expired = await self.engine.expire_due()
        except EnvdeckError as exc:
            log.error("cannot look for expired environments: %s", exc)
            return
        for name in expired:
            log.info("%s expired: destroy requested", name)

    def _busy(self, name: str) -> bool:
        lock = self._locks.get(name)
        return lock is not None and lock.locked()

    async def _drive_quietly(self, name: str) -> None:
        # the background drive of an environment belongs to its leader (issue 16)
        if not await self.reconciler.leadership.claim(name):
            log.info("not driving %s: %s", name, self.reconciler.leadership.led_by(name) or "not its leader")
            return
        token = AUDIT_ENDS.set(True)   # nobody waits for this drive: it audits each operation's end
        try:
            await self.drive(name)
        except LeaseBusy:
            pass  # another process drives it; its changes reach us through the store
        except LifecycleFailed as exc:
            log.warning("%s", exc)
        except EnvdeckError as exc:
            log.error("cannot carry out the operation of %s: %s", name, exc)
        except Exception:  # noqa: BLE001 - one environment's bug must not stop the others
            log.exception("lifecycle of %s failed", name)
        finally:
            AUDIT_ENDS.reset(token)

    # -- driving ------------------------------------------------------------------
    async def drive(self, name: str) -> ManagedEnvironment:
        """Carry out the pending operation of `name` in this process (never twice at once:
        a second caller waits for the first, then drives what is left). LifecycleFailed on
        failure, LeaseBusy when another process holds the lease."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        managed: ManagedEnvironment | None = None
        try:
            async with lock:
                managed = await self.engine.drive(name)
        finally:
            if managed is None:   # it stopped: what it left, read from the store
                await self.changed(name)
        # done: the record the engine read after its last write, published as `changed` would
        self._note(managed)
        await self._sync(name)
        return managed

    async def follow(self, name: str) -> ManagedEnvironment:
        """`drive`, or, while another process holds the lease, follow its progress through the
        store (its changes published) until the operation is done; LifecycleFailed when the
        environment ends `failed` (the step and reason)."""
        while True:
            try:
                return await self.drive(name)
            except LeaseBusy:
                managed = await self.changed(name)
                if managed.operation is None:
                    if managed.state == EnvLifecycleState.FAILED:
                        raise LifecycleFailed(name, managed.step, managed.reason) from None
                    return managed
                await asyncio.sleep(FOLLOW_S)

    # -- changes ------------------------------------------------------------------
    def remember(self, rows: list[ManagedEnvironment]) -> None:
        """What the session read when it opened (repairs held from the first pass on)."""
        for managed in rows:
            self.managed[managed.name] = managed
            self._seen[managed.name] = _fingerprint(managed)

    def _engine_changed(self, managed: ManagedEnvironment) -> None:
        """The engine's report of a state or step change (published at once; the observed
        environments follow in the background, when what they depend on changed: the state or
        the rendered section, e.g. the edge nodes claimed; a step row changes neither, and
        validating the section again for each of them cost ~2 ms of the event loop's CPU per
        operation)."""
        self._note(managed)
        key = (managed.state, managed.spec.environment)
        if self._synced.get(managed.name) == key:
            return
        self._synced[managed.name] = key
        self.reconciler._spawn(self._sync(managed.name))

    def _note(self, managed: ManagedEnvironment) -> bool:
        """Remember and publish `managed` when it differs from what was last published."""
        before = self.managed.get(managed.name)
        if (managed.state in _FRESH_PASS_STATES and managed.operation is None and before is not None
                and (before.state != managed.state or before.operation is not None)):
            self._pass_due.add(managed.name)   # asked for once `_sync` observes it as it is now
        self.managed[managed.name] = managed
        fingerprint = _fingerprint(managed)
        if self._seen.get(managed.name) == fingerprint:
            return False
        self._seen[managed.name] = fingerprint
        self.reconciler._publish(LifecycleChanged(managed.name, managed))
        return True

    async def changed(self, name: str) -> ManagedEnvironment:
        """Read `name` from the store, publish it if it changed and bring the observed
        environments up to date; returns the record."""
        managed = await self.lstore.require(name)
        self._note(managed)
        await self._sync(name)
        return managed

    async def refresh(self) -> None:
        """Read the created environments again (other processes change them too): the live
        ones, and the last word of each known one that is no longer live (destroyed, or its
        row replaced)."""
        rows = {m.name: m for m in await self.lstore.list()}
        for name in [n for n, m in self.managed.items() if n not in rows and live(m)]:
            gone = await self.lstore.get(name)
            if gone is not None:
                rows[name] = gone
        for managed in rows.values():
            self._note(managed)
        for name in [n for n in self.managed if n not in rows]:
            self.managed.pop(name, None)
            self._seen.pop(name, None)
        observed = {n for n in self.reconciler.envs if n not in self.reconciler.declared}
        for name in sorted(set(rows) | observed):
            await self._sync(name)

    async def _sync(self, name: str) -> None:
        """Observe `name` while it exists, not once it is destroyed (one change at a time per
        environment: the engine's reports come in quick succession)."""
        if name in self.reconciler.declared:
            return
        async with self._sync_locks.setdefault(name, asyncio.Lock()):
            managed = self.managed.get(name)
            section = None
            if managed is not None and live(managed):
                try:
                    section = environment_config(managed)
                except ValidationError as exc:
                    log.warning("created environment %s not observed: its section does not validate: %s",
                                name, exc)
            if section is None:
                self._asleep.pop(name, None)
                self._pass_due.discard(name)
                await self.reconciler.remove_environment(name)
                return
            if await self._load_asleep(name, managed):
                self._pass_due.add(name)   # e.g. found asleep at start: its first pass came too early
            await self.reconciler.add_environment(name, section)
            if name in self._pass_due:
                self._pass_due.discard(name)
                for bname in self.reconciler.backends.get(name, {}):
                    self.reconciler.request_pass(name, bname)

    async def _load_asleep(self, name: str, managed: ManagedEnvironment | None) -> bool:
        """Read what sleep scaled down when `name` is (newly) asleep, forget it otherwise; True
        when what is asleep changed."""
        if managed is None or managed.state != EnvLifecycleState.SLEEPING:
            return self._asleep.pop(name, None) is not None
        if name in self._asleep and name not in self._pass_due:
            return False
        try:
            memory = await self.lstore.sleep_memory(name)
        except EnvdeckError as exc:
            log.error("cannot read the sleep memory of %s: %s", name, exc)
            return False
        asleep = frozenset(rid for per in memory.values() for rid in per)
        changed = self._asleep.get(name) != asleep
        self._asleep[name] = asleep
        return changed
