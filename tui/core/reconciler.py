"""The reconciler: observe → diff against desired → record → repair per policy.

A background asyncio service, independent of any UI (it runs headless under
`envdeck reconcile`). One loop per (environment, backend):
- passes never overlap (one lock per loop; `run_once` takes the same lock);
- errors back off exponentially with full jitter, per backend;
- a repair that failed for the same desired value waits its own backoff instead
  of being retried in a hot loop;
- an environment's automatic repairs can be paused (observing goes on) for every process on
  the store (`repair_pauses`, no expiry: read before each repair, so another process's pause
  stops this one's repairs), and one resource's automatic repairs held until a time
  (`repair_holds` in the store);
- a desired-state overlay (a value set by a manual action, kept in the store with
  who/when/why) replaces the config's value of that field when diffing;
- subscribers get typed changes through plain callbacks that must not block.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from backends.base import Backend
from tui.core.audited import audited, exception_text
from tui.core.backend_recovery import recovery_entry
from tui.core.config import EnvdeckConfig, EnvironmentConfig
from tui.core.env_state import (
    BackendStatusChanged,
    Change,
    DriftsChanged,
    EnvironmentsChanged,
    EnvPaused,
    EnvState,
    FaultsChanged,
    LeaderChanged,
    RepairPause,
    RepairPerformed,
    ResourcesChanged,
    SamplesAdded,
    TimelineAdded,
    timeline_entry,
)
from tui.core.errors import BackendError, BackendUnreachable, InvalidRequest, StateError
from tui.core.follower import Follower
from tui.core.leadership import Leadership
from tui.core.leases import Fenced
from tui.core.lifecycle.driver import CreateProvisioner, LifecycleDriver
from tui.core.lifecycle.shading import shade
from tui.core.model import (
    AuditResult,
    BackendState,
    Drift,
    DriftItem,
    Health,
    Observation,
    Origin,
    RepairRecord,
    Resource,
    ResourceDelta,
    TimelineEntry,
    iso,
    now_utc,
)
from tui.core.policy import REPAIR, Policy
from tui.core.retention import Retention
from tui.core.shown_value import shown_value
from tui.core.store import Store

log = logging.getLogger("envdeck.reconciler")


def _repair_stopped(exc: BaseException) -> str:
    """The audit message of a repair stopped midway (a failure is caught and recorded)."""
    return "cancelled" if isinstance(exc, asyncio.CancelledError) else exception_text(exc)


@dataclasses.dataclass(slots=True)
class _Applied:
    """What one backend's last _apply left: its resources (the very dict: a writer that
    replaces it makes the next delta a full comparison; those changing it in place drop
    this record) and the ids of those with desired state (a drift mark), which every delta
    re-diffs."""

    resources: dict[str, Resource]
    desired: set[str]

    @classmethod
    def of(cls, resources: dict[str, Resource], considered: list[Resource]) -> _Applied:
        return cls(resources, {r.id for r in considered if r.drift is not None})

    def merge(self, delta: ResourceDelta) -> tuple[dict[str, Resource], list[Resource], list[str]]:
        """The resources with the delta applied, those with desired state among them, and
        the ids removed."""
        new = dict(self.resources)
        removed = [rid for rid in delta.removed if new.pop(rid, None) is not None]
        for rid in removed:
            self.desired.discard(rid)
        for r in delta.changed:
            new[r.id] = r
            if r.drift is not None:
                self.desired.add(r.id)
            else:
                self.desired.discard(r.id)
        return new, [new[rid] for rid in self.desired if rid in new], removed


Subscriber = Callable[[Change], None]
BackendFactory = Callable[..., dict[str, Backend]]


class Reconciler:
    def __init__(self, config: EnvdeckConfig, store: Store, policy: Policy, *,
                 backends_factory: BackendFactory, envs: list[str] | None = None,
                 clock: Callable[[], datetime] = now_utc, rng: random.Random | None = None,
                 provisioners: CreateProvisioner | None = None, declared: Iterable[str] | None = None):
        self.config = config
        self.backends_factory = backends_factory
        # the config's own environments (the others in `config` were created from templates)
        self.declared = frozenset(config.environments if declared is None else declared)
        # None: every environment the user can see; else only these (`--env NAME`)
        self.env_filter: frozenset[str] | None = None
        self.store = store
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.Random()
        names = envs if envs is not None else policy.visible_environments()
        self.envs: dict[str, EnvState] = {}
        self.backends: dict[str, dict[str, Backend]] = {}
        for name in names:
            env_cfg = config.environments[name]
            self.envs[name] = EnvState(name=name, repair=env_cfg.repair, description=env_cfg.description)
            self.backends[name] = backends_factory(name, env_cfg, config)
            for bname in self.backends[name]:
                self.envs[name].backends[bname] = BackendState(name=bname)
                self.envs[name].resources[bname] = {}
        self._locks = {(e, b): asyncio.Lock() for e, bs in self.backends.items() for b in bs}
        self._wake = {(e, b): asyncio.Event() for e, bs in self.backends.items() for b in bs}
        for e, bs in self.backends.items():
            for b, backend in bs.items():
                backend.request_pass = functools.partial(self.request_pass, e, b)
        self._pass_requested: set[tuple[str, str]] = set()  # by a backend, since its pass began
        # watched backends this process changed since their watch last reported (_follow_watch)
        self._changed_since_watch: set[tuple[str, str]] = set()
        # watched backends whose last observation predates the end of a lifecycle hold: their
        # watch stopped, the next turn of the loop observes afresh (a list) first (_follow_watch)
        self._observe_afresh: set[tuple[str, str]] = set()
        # overlays whose value changed after this process first read them: (env, resource, field) ->
        # when it read the change (time.monotonic); their drift waits for a list begun later (_judged_later)
        self._desired_changed: dict[tuple[str, str, str], float] = {}
        self._overrides_read: set[str] = set()
        # when the list being applied now began (_listed_pass); absent: a watch's or a cache's observation
        self._listing: dict[tuple[str, str], float] = {}
        self._subscribers: list[Subscriber] = []
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        # failed repairs: DriftItem.key() -> (attempts, earliest retry time)
        self._repair_failures: dict[tuple[str, str, str], tuple[int, float]] = {}
        self._denied_repairs: set[tuple[str, str, str]] = set()
        self._known_faults: dict[tuple[str, str], set[tuple[str, str]]] = {}
        # when each unreachable backend stopped answering, for the Timeline row of its recovery
        self._unreachable_since: dict[tuple[str, str], datetime] = {}
        # what the last _apply left, for applying a watch's delta on top (_Applied)
        self._applied: dict[tuple[str, str], _Applied] = {}
        # the store's pause of each environment as last read (load_pause applies only a change of it)
        self._pause_read: dict[str, RepairPause | None] = {}
        self.running = False
        # repairs and lifecycle steps of an environment only while this process leads it (issue 16);
        # made before the lifecycle driver, whose engine drives under these leases
        self.leadership = Leadership(store, lambda: list(self.envs), on_change=self._leader_changed)
        self.lifecycle = LifecycleDriver(self, provisioners)
        # an environment another live process leads is not observed here: its publications are shown
        self.follower = Follower(self)
        # old metric samples and timeline rows deleted, for the environments this process leads
        self.retention = Retention(self, config.state.retention)

    # -- subscribers ---------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _publish(self, change: Change) -> None:
        for callback in list(self._subscribers):
            try:
                callback(change)
            except Exception:  # a broken subscriber never stops the reconciler
                log.exception("subscriber failed on %s", type(change).__name__)

    # -- leadership (tui/core/leadership.py) ----------------------------------
    def _leader_changed(self, env: str) -> None:
        state = self.envs.get(env)
        if state is None:
            return
        view = self.leadership.view(env)
        if (state.leader, state.lease_epoch, state.lease_note) == (view.leader, view.epoch, view.note):
            return
        state.leader, state.lease_epoch, state.lease_note = view.leader, view.epoch, view.note
        state.lease_since = (self.leadership.held.get(env) or self.leadership.seen.get(env) or None) and (
            (self.leadership.held.get(env) or self.leadership.seen[env]).acquired_at)
        self._publish(LeaderChanged(env, view.leader, view.note, self.leadership.took_over.pop(env, "")))
        if view.leading:
            self.wake(env)  # a follower that took the lease observes at once

    async def load_leaders(self) -> None:
        """Who leads each environment, from the store (the status of a process that only observes)."""
        await self.leadership.refresh()
        for env in self.envs:
            self._leader_changed(env)

    # -- lifecycle -----------------------------------------------------------
    async def load_last_known(self) -> None:
        """Show the last stored state (with its age) until the first pass answers."""
        self._applied.clear()  # the resources are replaced in place below: no delta applies on top
        for env, state in self.envs.items():
            snapshot = await self.store.load_snapshot(env)
            stored = await self.store.load_backend_states(env)
            for bname, resources in snapshot.items():
                if bname not in state.resources:
                    continue
                for r in resources:
                    r.health = Health.UNKNOWN
                    r.health_reason = f"not observed since envdeck started; last observed {iso(r.observed_at)}"
                    state.resources[bname][r.id] = r
                state.revision += 1
            for bname, bstate in stored.items():
                if bname in state.backends:
                    mine = state.backends[bname]
                    mine.observed_at = bstate.observed_at
                    mine.nodes_total, mine.nodes_unreachable = bstate.nodes_total, bstate.nodes_unreachable
            await self.load_pause(env)  # paused by another process, or before a restart
        await self.load_leaders()

    async def start(self) -> None:
        if self.running:
            return
        self.running = True
        await self.load_last_known()
        self.leadership.closed = False
        for env in list(self.envs):  # with no live leader, this process leads (a single user: as before)
            await self.leadership.claim(env)
        await self.load_leaders()
        self.leadership.start()
        await self.follower.start()
        for env, backends in self.backends.items():
            for bname, backend in backends.items():
                backend.continuous = True
                await backend.start()
                self._tasks.append(asyncio.create_task(self._loop(env, bname), name=f"reconcile:{env}:{bname}"))
        self.lifecycle.start()
        self.retention.start()

    async def stop(self) -> None:
        self.running = False
        await self.retention.stop()
        await self.lifecycle.stop()
        await self.follower.stop()
        await self.leadership.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.close_backends()

    def _spawn(self, coro) -> None:
        """Fire-and-forget store writes, awaited by stop() so none is lost."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close_backends(self) -> None:
        for backends in self.backends.values():
            for backend in backends.values():
                with contextlib.suppress(Exception):
                    await backend.close()

    # -- environments created and destroyed while envdeck runs (issue 15) ----------------
    def _set_section(self, name: str, env_cfg: EnvironmentConfig | None) -> None:
        """Add, replace or drop a created environment's section in the (effective) config the
        policy and the session share; copy-on-write, so that nothing iterating it sees it change."""
        for config in {id(c): c for c in (self.config, self.policy.config)}.values():
            environments = {k: v for k, v in config.environments.items() if k != name}
            if env_cfg is not None:
                environments[name] = env_cfg
            config.environments = environments

    async def add_environment(self, name: str, env_cfg: EnvironmentConfig) -> bool:
        """Observe a created environment from now on, with backends from the factory (their
        loops started when the reconciler runs); a changed section (edge nodes claimed)
        replaces what was observed under that name. The policy learns its roles either way;
        it is observed only when the user has a role in it (and it is not outside `--env`).
        Never for a config environment. True when the observed environments changed."""
        if name in self.declared:
            return False
        if name in self.envs and self.config.environments.get(name) == env_cfg:
            return False
        self._set_section(name, env_cfg)
        replaced = name in self.envs
        if replaced:
            await self._drop_environment(name)
        if self.policy.role(name) is None or (self.env_filter is not None and name not in self.env_filter):
            if replaced:
                self._publish(EnvironmentsChanged([], [name]))
            return replaced
        backends = self.backends_factory(name, env_cfg, self.config)
        state = EnvState(name=name, repair=env_cfg.repair, description=env_cfg.description)
        for bname, backend in backends.items():
            state.backends[bname] = BackendState(name=bname)
            state.resources[bname] = {}
            self._locks[(name, bname)] = asyncio.Lock()
            self._wake[(name, bname)] = asyncio.Event()
            backend.request_pass = functools.partial(self.request_pass, name, bname)
        self.backends = {**self.backends, name: backends}
        self.envs = {**self.envs, name: state}
        if self.running:
            for bname, backend in backends.items():
                backend.continuous = True
                try:
                    await backend.start()
                except Exception:  # noqa: BLE001 - the loop's passes report it
                    log.exception("start of %s/%s failed", name, bname)
                self._tasks.append(asyncio.create_task(self._loop(name, bname), name=f"reconcile:{name}:{bname}"))
        if not replaced:
            self._publish(EnvironmentsChanged([name], []))
        return True

    async def remove_environment(self, name: str) -> bool:
        """Stop observing a created environment (destroyed): its loops end, its backends
        close, the policy forgets it. Never a config environment. True when it was observed."""
        if name in self.declared or (name not in self.envs and name not in self.config.environments):
            return False
        observed = name in self.envs
        if observed:
            await self._drop_environment(name)
        self._set_section(name, None)
        if observed:
            self._publish(EnvironmentsChanged([], [name]))
        return observed

    async def _drop_environment(self, name: str) -> None:
        backends = self.backends.get(name, {})
        names = {f"reconcile:{name}:{bname}" for bname in backends}
        mine = [task for task in self._tasks if task.get_name() in names]
        for task in mine:
            task.cancel()
        for task in mine:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = [task for task in self._tasks if task not in mine]
        self.backends = {k: v for k, v in self.backends.items() if k != name}
        self.envs = {k: v for k, v in self.envs.items() if k != name}
        self._pause_read.pop(name, None)  # an environment made again reads its pause afresh
        for bname, backend in backends.items():
            self._locks.pop((name, bname), None)
            self._wake.pop((name, bname), None)
            self._known_faults.pop((name, bname), None)
            self._pass_requested.discard((name, bname))
            self._changed_since_watch.discard((name, bname))
            self._observe_afresh.discard((name, bname))
            with contextlib.suppress(Exception):
                await backend.close()

    async def observed_resources(self, env: str) -> list[Resource]:
        """What `env` was last observed to hold, after one pass of each backend that has not
        answered yet (cloning a config environment reads it)."""
        for bname, backend in self.backends.get(env, {}).items():
            if self.envs[env].backends[bname].reachable is not True:
                await backend.start()
                await self.pass_once(env, bname, repair=False)
        return self.envs[env].all_resources() if env in self.envs else []

    def pause(self, env: str, paused: bool = True, by: RepairPause | None = None) -> None:
        """Show the automatic repairs of `env` paused (or resumed) in this process. Observing goes
        on: a paused environment still shows its drift, it is only not repaired. The pause every
        process honours is the store's (Session.set_paused writes it, load_pause reads it)."""
        state = self.envs[env]
        state.paused, state.pause = paused, by if paused else None
        self._publish(EnvPaused(env, paused, state.pause))
        if not paused and state.repair == "auto":
            self.wake(env)  # repair what drifted while paused

    async def load_pause(self, env: str) -> None:
        """Read the store's pause of `env` (another process may have paused or resumed it) and
        apply it when it changed since the last read. A StateError is logged: the state as last
        read stays (a pause seen is kept while the store cannot be read)."""
        try:
            stored = await self.store.pause(env)
        except StateError as exc:
            log.error("cannot read whether the repairs of %s are paused: %s", env, exc)
            return
        state = self.envs.get(env)
        if state is None or (env in self._pause_read and self._pause_read[env] == stored):
            return
        self._pause_read[env] = stored
        if (state.paused, state.pause) != (stored is not None, stored):
            self.pause(env, stored is not None, stored)

    # -- desired-state overlays and repair holds --------------------------------
    async def load_overrides(self, env: str) -> None:
        """Read the overlays, the unexpired repair holds and the pause of `env` from the store
        (the CLI or another envdeck may have changed them since the last pass)."""
        state = self.envs[env]
        try:  # the holds first: a promotion's hold ends after its overlay is written (promote/engine.py)
            holds = await self.store.holds(env, self.clock())
            overlays = await self.store.overlays(env)
        except StateError as exc:
            log.error("cannot read the overlays of %s: %s", env, exc)
            return
        read = {(o["resource"], o["field"]): o for o in overlays}
        self._note_desired_changes(env, state.overlays, read)
        state.overlays = read
        state.holds = {h["resource"]: h for h in holds}
        await self.load_pause(env)

    def held(self, env: str, resource: str) -> datetime | None:
        """Until when automatic repair of `resource` is held (None: not held)."""
        hold = self.envs[env].holds.get(resource)
        if hold is None or hold["until"] <= self.clock():
            return None
        return hold["until"]

    def desired_of(self, env: str, resource: Resource) -> dict[str, Any]:
        """The desired fields of `resource` as envdeck enforces them: the config's, with the
        environment's overlays in their place."""
        backend = self.backends[env].get(resource.backend)
        values = dict(backend.desired_fields(resource)) if backend is not None else {}
        for (rid, field), overlay in self.envs[env].overlays.items():
            if rid == resource.id and field in values:
                values[field] = overlay["value"]
        return values

    def conflicts(self, env: str, resource: Resource, action: str, params: dict[str, str]) -> list[DriftItem]:
        """The desired fields that `action` would set against the desired state, as drift items
        (desired = what envdeck enforces now, actual = what the action sets). Empty when the
        action leaves the desired state alone or agrees with it."""
        backend = self.backends[env].get(resource.backend)
        if backend is None:
            return []
        wanted = self.desired_of(env, resource)
        out = []
        for field, value in backend.action_effect(resource, action, params).items():
            if field in wanted and not backend.field_in_sync(field, wanted[field], value):
                out.append(DriftItem(resource.id, field, wanted[field], value))
        return out

    def _with_overlays(self, env: str, bname: str, drifts: list[DriftItem],
                       resources: list[Resource]) -> list[DriftItem]:
        """The backend's drift against the config, redone for the fields that have an overlay."""
        overlays = {k: o for k, o in self.envs[env].overlays.items() if k[0].startswith(bname + "/")}
        if not overlays:
            return drifts
        backend = self.backends[env][bname]
        out: list[DriftItem] = []
        reported = set()
        for d in drifts:
            reported.add((d.resource, d.field))
            overlay = overlays.get((d.resource, d.field))
            if overlay is None:
                out.append(d)
            elif not backend.field_in_sync(d.field, overlay["value"], d.actual):
                out.append(DriftItem(d.resource, d.field, overlay["value"], d.actual))
        present = {r.id: r for r in resources}
        for (rid, field), overlay in overlays.items():
            if (rid, field) in reported or rid not in present:
                continue
            declared = backend.desired_fields(present[rid])
            if field not in declared:
                continue  # the config no longer declares it: nothing to override
            # not reported as drift: the observed value is (in sync with) the declared one
            if not backend.field_in_sync(field, overlay["value"], declared[field]):
                out.append(DriftItem(rid, field, overlay["value"], declared[field]))
        return out

    def wake(self, env: str, backend: str | None = None) -> None:
        """Ask for an early pass (after an action or a repair)."""
        for (e, b), event in self._wake.items():
            if e == env and (backend is None or b == backend):
                event.set()

    def request_pass(self, env: str, backend: str) -> None:
        """A backend has news for an early pass (`Backend.request_pass`). Unlike a bare
        wake(), a request that arrives during a pass is kept: the next pass follows it."""
        self._pass_requested.add((env, backend))
        self.wake(env, backend)

    # -- the loops -----------------------------------------------------------
    def _interval(self, env: str, bname: str) -> float:
        cfg = getattr(self.config.environments[env], bname, None)
        return getattr(cfg, "interval", None) or self.config.defaults.interval

    def _backoff(self, failures: int, base: float) -> float:
        ceiling = min(self.config.defaults.max_backoff, base * (2 ** max(0, failures - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)

    async def _loop(self, env: str, bname: str) -> None:
        backend = self.backends[env][bname]
        state = self.envs[env].backends[bname]
        while self.running:
            if self.follower.following(env):  # another process observes it and publishes (tui/core/follower.py)
                state.next_pass = None
                self._wake[(env, bname)].clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake[(env, bname)].wait(), timeout=1.0)
                continue
            if not self.leadership.leads(env) and not await self.leadership.claim(env) \
                    and self.follower.following(env):
                continue  # the lease last seen had aged out (a late round); the store says who leads: follow
            self._pass_requested.discard((env, bname))
            try:
                if backend.supports_watch:
                    if (env, bname) in self._observe_afresh:  # not the stopped watch's cache: a list
                        self._observe_afresh.discard((env, bname))
                        await self._listed_pass(env, bname)
                    delay = await self._watch_once(env, bname, backend)
                else:
                    await self._listed_pass(env, bname)
                    delay = state.backoff_s if state.failures else self._interval(env, bname)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. the store failing mid-pass: keep the loop alive
                log.exception("pass of %s/%s failed", env, bname)
                state.failures += 1
                state.error = f"envdeck could not record the pass: {exc}"
                state.backoff_s = self._backoff(state.failures, min(5.0, self._interval(env, bname)))
                delay = state.backoff_s
            state.next_pass = self._at(delay)
            self._publish(BackendStatusChanged(env, bname, state))
            wake = self._wake[(env, bname)]
            if (env, bname) not in self._pass_requested:  # else: requested during the pass
                wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=delay)

    def _at(self, delay: float) -> datetime:
        return self.clock() + timedelta(seconds=delay)

    # -- a watching backend whose server stops answering -----------------------
    def _hear_answer_due(self, env: str, bname: str, backend: Backend) -> None:
        """Let a watching backend that probes its server (`report_answer_due`: the Kubernetes
        one, backends/kubernetes/liveness.py) tell when its server's answer is overdue."""
        if hasattr(backend, "report_answer_due"):
            backend.report_answer_due = functools.partial(self.answer_due, env, bname)

    def answer_due(self, env: str, bname: str, due: datetime | None) -> None:
        """A watching backend's server has not answered since `due` (None: it answers again).
        A watch has no pass that could be overdue, so its state reads as a polled backend's
        pass due at `due` and not ended (`watching` off, `next_pass` = due): the overview marks
        it `k8s?12s` once 10 s late, as `aws?12s`, until it answers (or reads unreachable).
        Told only while the backend's watch() runs, which makes `watching` right again."""
        state = self.envs[env].backends.get(bname) if env in self.envs else None
        if state is None:
            return
        if due is None:
            state.watching = True
        else:
            state.watching = False
            state.next_pass = due
        self._publish(BackendStatusChanged(env, bname, state))

    async def _watch_once(self, env: str, bname: str, backend: Backend) -> float:
        state = self.envs[env].backends[bname]
        state.watching = True
        self._hear_answer_due(env, bname, backend)
        try:
            await self._follow_watch(env, bname, backend.watch())
            return 0.5  # the stream ended cleanly (timeout); resume soon
        except asyncio.CancelledError:
            raise
        except (BackendError, TimeoutError, OSError) as exc:
            self._failed(env, bname, exc)
            return state.backoff_s
        except Exception as exc:  # noqa: BLE001 - a bug in one backend must not stop the others
            log.exception("watch of %s/%s failed", env, bname)
            self._failed(env, bname, exc)
            return state.backoff_s
        finally:
            state.watching = False

    async def _follow_watch(self, env: str, bname: str, stream: AsyncIterator[Observation]) -> None:
        """Apply each observation the watch yields. A wake() meanwhile (resume after a pause,
        an overlay or a hold changed, a pass asked for) re-evaluates the latest observation at
        once instead of waiting for the next watch event: the drift against the desired state
        as it is now, and the repairs, under the same lock as a pass. Not after a change this
        process made (an action, a repair): that observation no longer shows the resource,
        and the watch brings the one that does. Nor once a lifecycle hold (e.g. sleep) has
        ended since it was taken: it may show what the hold left (0 replicas) before wake
        restored it (a watch lags; the Kubernetes one did by ~2 s), so the watch stops and
        the loop observes afresh (`pass_once`: a list, not the watch's cache) before watching
        again; that observation, taken after the hold ended, is the one repairs act on."""
        key = (env, bname)
        wake = self._wake[key]
        latest: Observation | None = None
        latest_held = False  # `latest` was taken while the environment's repairs were held
        next_obs: asyncio.Future[Observation] = asyncio.ensure_future(anext(stream))
        try:
            while True:
                woken = asyncio.ensure_future(wake.wait())
                try:
                    await asyncio.wait({next_obs, woken}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woken.cancel()
                if next_obs.done():
                    try:
                        obs = next_obs.result()
                    except StopAsyncIteration:
                        return
                    async with self._locks[key]:
                        self._changed_since_watch.discard(key)
                        await self._apply(env, bname, obs, repair=self._mode_repairs(env))
                    latest, latest_held = obs, self.lifecycle.holds_repairs(env)
                    if not self.running or self.follower.following(env):  # another process leads it now
                        return
                    next_obs = asyncio.ensure_future(anext(stream))
                    continue
                if key in self._observe_afresh:  # a drift waits for a list (_judged_later)
                    return
                wake.clear()
                self._pass_requested.discard(key)
                if latest is None or key in self._changed_since_watch:
                    continue
                if latest_held and not self.lifecycle.holds_repairs(env):
                    self._observe_afresh.add(key)  # the hold ended after `latest` was taken
                    self.request_pass(env, bname)  # at once, not after the loop's pause
                    return
                async with self._locks[key]:
                    if self.envs[env].backends[bname].reachable is not False:  # else: not news of a live backend
                        await self._reevaluate(env, bname, latest)
        finally:
            next_obs.cancel()
            await asyncio.gather(next_obs, return_exceptions=True)
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _reevaluate(self, env: str, bname: str, obs: Observation) -> list[RepairRecord]:
        """Diff and repair an observation applied already: its events and samples are not
        recorded again (the faults and the drifts are recorded only when new)."""
        return await self._apply(env, bname, dataclasses.replace(obs, events=[], samples=[], delta=None),
                                 repair=self._mode_repairs(env))

    # -- a desired state changed (by a promotion, a kept value) ----------------------
    def _note_desired_changes(self, env: str, before: dict[tuple[str, str], dict[str, Any]],
                              after: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Remember when this process read each overlay whose value changed (written, changed or
        dropped, here or by another process) since its previous read of `env` (the first read
        changes nothing: the first observations are lists)."""
        if env not in self._overrides_read:
            self._overrides_read.add(env)
            return
        now = time.monotonic()
        for key in before.keys() | after.keys():
            old, new = before.get(key), after.get(key)
            if (old is None) != (new is None) or (old and new and old["value"] != new["value"]):
                self._desired_changed[(env, *key)] = now

    def _judged_later(self, env: str, bname: str, drifts: list[DriftItem]) -> list[DriftItem]:
        """The drifts to judge now: not those of a field whose desired value changed after the list
        that this observation comes from began. Such a drift appears because the DESIRED side
        changed, and the observation may predate the write that goes with it: a promotion sets
        the image and then the overlay, and a watch's latest observation (re-evaluated when the
        overlay's audit row wakes the loop) or a cache not yet told of the image shows the old
        one; repairing would write the image a second time, as the reconciler's. They are
        judged on the next list, begun after this process read the overlay, so after the image
        was written (asked for at once: a watched backend's watch stops and the loop lists, as
        after a lifecycle hold); a genuine drift is still there then and repaired once."""
        key = (env, bname)
        if not self._desired_changed:
            return drifts
        listed, prefix = self._listing.get(key), bname + "/"
        if listed is not None:
            for k in [k for k, at in self._desired_changed.items()
                      if k[0] == env and k[1].startswith(prefix) and at < listed]:
                del self._desired_changed[k]
        later = [d for d in drifts if (env, d.resource, d.field) in self._desired_changed]
        if not later:
            return drifts
        if self.backends[env][bname].supports_watch:
            self._observe_afresh.add(key)
        self.request_pass(env, bname)
        return [d for d in drifts if d not in later]

    async def _listed_pass(self, env: str, bname: str) -> bool:
        """pass_once from the loop, its observation known as a list begun now (a watched
        backend's loop lists only with its watch stopped: `_observe_afresh`)."""
        self._listing[(env, bname)] = time.monotonic()
        try:
            return await self.pass_once(env, bname)
        finally:
            self._listing.pop((env, bname), None)

    def changed_by_us(self, env: str, bname: str) -> None:
        """This process changed the backend (an action, a repair): until the watch reports
        again, its latest observation is stale and no wake() re-evaluates it."""
        if self.backends.get(env, {}).get(bname) is not None and self.backends[env][bname].supports_watch:
            self._changed_since_watch.add((env, bname))

    def _mode_repairs(self, env: str) -> bool:
        return self.envs[env].repair == "auto"

    async def pass_once(self, env: str, bname: str, *, repair: bool | None = None) -> bool:
        """One observe pass of one backend; True when it succeeded."""
        backend = self.backends[env][bname]
        timeout = max(self.config.defaults.timeout * 3, 5.0)
        async with self._locks[(env, bname)]:
            try:
                obs = await asyncio.wait_for(backend.observe(), timeout=timeout)
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                self._failed(env, bname, BackendUnreachable(f"no answer within {timeout:.0f}s", backend=bname))
                return False
            except Exception as exc:  # noqa: BLE001 - typed errors and bugs alike become "unreachable" here
                if not isinstance(exc, BackendError | OSError):
                    log.exception("observe of %s/%s failed", env, bname)
                self._failed(env, bname, exc)
                return False
            await self._apply(env, bname, obs, repair=self._mode_repairs(env) if repair is None else repair)
            return True

    def _failed(self, env: str, bname: str, exc: BaseException) -> None:
        state = self.envs[env].backends[bname]
        was_reachable = state.reachable is not False
        state.failures += 1
        state.reachable = False
        state.error = str(exc) or type(exc).__name__
        state.last_pass = self.clock()
        if state.nodes_total is not None:  # a backend of hosts that answers no more: none of them reached
            state.nodes_unreachable = state.nodes_total
        base = 1.0 if self.backends[env][bname].supports_watch else min(5.0, self._interval(env, bname))
        state.backoff_s = self._backoff(state.failures, base)
        log.warning("%s/%s unreachable (%d failures, next try in %.1fs): %s", env, bname, state.failures,
                    state.backoff_s, state.error)
        if was_reachable:
            self._unreachable_since[(env, bname)] = state.last_pass
            self._mark_unknown(env, bname, state)
            self._spawn(self._record_backend(env, bname, state, exc))
        self._publish(BackendStatusChanged(env, bname, state))

    def _mark_unknown(self, env: str, bname: str, state: BackendState) -> None:
        resources = self.envs[env].resources[bname]
        self._applied.pop((env, bname), None)  # changed in place below: the next observation is compared whole
        since = iso(state.observed_at) or "never"
        changed = []
        for rid, r in list(resources.items()):
            copy = dataclasses.replace(r, health=Health.UNKNOWN,
                                       health_reason=f"{bname} unreachable; last observed {since}")
            resources[rid] = copy
            changed.append(copy)
        self.envs[env].revision += 1
        self._publish(ResourcesChanged(env, bname, changed, []))

    async def _record_backend(self, env: str, bname: str, state: BackendState, exc: BaseException) -> None:
        with contextlib.suppress(StateError):
            await self.store.save_backend_state(env, state)
            await self.store.add_timeline(env, [(self.clock(), f"{bname}", "backend", "high", "Unreachable",
                                                 str(exc)[:500], 1)])
            if self.leadership.leads(env) and env in self.envs:  # followers show it unreachable too
                await self.follower.feed.publish(env, self.leadership.holder, self.envs[env].faults,
                                                 self._retries(env))

    def _retries(self, env: str) -> dict[str, tuple[int, float]]:
        """Each backend's failed passes in a row and its backoff, as followers show them."""
        return {b: (s.failures, s.backoff_s) for b, s in self.envs[env].backends.items()}

    # -- applying an observation --------------------------------------------
    async def _apply(self, env: str, bname: str, obs: Observation, *, repair: bool) -> list[RepairRecord]:
        state = self.envs[env]
        bstate = state.backends[bname]
        backend = self.backends[env][bname]
        now = self.clock()
        recovered = bstate.reachable is False
        bstate.reachable, bstate.error, bstate.failures, bstate.backoff_s = True, None, 0, 0.0
        bstate.observed_at = obs.observed_at
        bstate.last_pass = now
        bstate.nodes_total, bstate.nodes_unreachable = obs.nodes_total, obs.nodes_unreachable

        await self.load_overrides(env)
        old = state.resources[bname]
        view = self.lifecycle.view(env)
        applied = self._applied.pop((env, bname), None)
        if obs.delta is not None and view is None and not recovered and applied is not None \
                and applied.resources is old:
            # a watch's delta on top of what the last _apply left: the work follows the changes
            new, considered, removed = applied.merge(obs.delta)
            candidates = {r.id: r for r in obs.delta.changed}
            candidates.update((r.id, r) for r in considered)
            diffed, resources = dataclasses.replace(obs, resources=considered), list(candidates.values())
        else:
            new, considered, removed, diffed, resources = {}, obs.resources, None, obs, obs.resources
        faults = obs.faults
        try:
            drifts = self._with_overlays(env, bname, backend.diff(diffed), considered)
        except Exception:  # noqa: BLE001
            log.exception("diff of %s/%s failed", env, bname)
            drifts = []
        drifts = self._judged_later(env, bname, drifts)
        if view is not None:  # a created environment asleep or being created: what that explains is no fault
            shaded = shade(view, resources, faults, drifts, old)
            resources, faults, drifts = shaded.resources, shaded.faults, shaded.drifts
        drifted = {d.resource for d in drifts}

        changed = []
        for r in resources:
            marked = r.drift
            if r.id in drifted:
                r.drift = Drift.DRIFTED
            elif r.drift == Drift.DRIFTED:
                r.drift = Drift.IN_SYNC
            new[r.id] = r
            if old.get(r.id) is not r or r.drift != marked:  # new, or its drift mark changed
                changed.append(r)
        if removed is None:
            removed = [rid for rid in old if rid not in new]
        if removed and (self._repair_failures or self._denied_repairs or self._desired_changed):
            self._forget(env, removed)
        state.resources[bname] = new  # type: ignore[assignment]
        state.revision += 1
        if view is None and backend.supports_watch:  # a shaded state is never a delta's base (the shading would stay)
            self._applied[(env, bname)] = _Applied.of(new, considered)

        entries: list[TimelineEntry] = []
        if recovered:  # once per outage: the next pass finds it reachable
            entries.append(recovery_entry(bname, self._unreachable_since.pop((env, bname), None), now))
        for ev in obs.events:
            sev = "medium" if ev.type == "Warning" else "info"
            entries.append(TimelineEntry(ev.at, ev.resource, "event", sev, ev.reason, ev.message, ev.count))
        current = {(f.resource, f.reason) for f in faults}
        known = self._known_faults.get((env, bname), set())
        for f in faults:
            if (f.resource, f.reason) not in known:
                entries.append(TimelineEntry(f.since or now, f.resource, "fault", str(f.severity), f.reason, f.message,
                                             f.count))
        self._known_faults[(env, bname)] = current
        old_drifts = {(d.resource, d.field) for d in state.drifts.get(bname, [])}
        for d in drifts:
            if (d.resource, d.field) not in old_drifts:
                entries.append(TimelineEntry(now, d.resource, "drift", "medium", f"{d.field} drifted",
                                             f"desired {shown_value(d.desired)}, actual {shown_value(d.actual)}"))
        state.faults[bname] = list(faults)
        state.drifts[bname] = drifts

        try:
            if not self.leadership.member:  # team mode: the store refuses a member role these writes
                await self.store.record_observation(  # one commit for the lot
                    env, bname, upserts=changed, removed=removed, full=recovered, state=bstate,
                    samples=obs.samples, samples_at=obs.observed_at, drifts=drifts, at=now, entries=entries)
            if self.leadership.leads(env):  # what followers show (tui/core/change_feed.py)
                await self.follower.feed.publish(env, self.leadership.holder, state.faults, self._retries(env))
        except StateError as exc:
            log.error("cannot record %s/%s: %s", env, bname, exc)

        if changed or removed:
            self._publish(ResourcesChanged(env, bname, changed, removed))
        if obs.samples:
            self._publish(SamplesAdded(env, bname, list(obs.samples)))
        self._publish(FaultsChanged(env, bname, state.faults[bname]))
        self._publish(DriftsChanged(env, bname, drifts))
        if entries:
            self._publish(TimelineAdded(env, [timeline_entry(e) for e in entries]))
        self._publish(BackendStatusChanged(env, bname, bstate))

        records: list[RepairRecord] = []
        if repair and drifts and not state.paused:
            records = await self._repair_all(env, bname, drifts, user=self.policy.user, origin=Origin.RECONCILER)
        return records

    def _forget(self, env: str, removed: list[str]) -> None:
        """What is kept per resource (a failed repair's backoff, a denied one, a desired change)
        goes with the resource: churned pods would otherwise leave their keys behind."""
        gone = set(removed)
        for key in [k for k in self._desired_changed if k[0] == env and k[1] in gone]:
            del self._desired_changed[key]
        # keyed by DriftItem.key(): (resource, field, desired)
        for key in [k for k in self._repair_failures if k[0] in gone]:
            del self._repair_failures[key]
        self._denied_repairs.difference_update([k for k in self._denied_repairs if k[0] in gone])

    # -- repairs -------------------------------------------------------------
    async def _repair_all(self, env: str, bname: str, drifts: list[DriftItem], *, user: str,
                          origin: str, force: bool = False) -> list[RepairRecord]:
        if self.lifecycle.holds_repairs(env):
            return []  # a created environment provisioning, asleep, failed or being torn down: observed only
        if origin == Origin.RECONCILER:  # the store's pause, read again now: another process may have paused
            await self.load_pause(env)
            if self.envs[env].paused or self._pause_read.get(env) is not None:
                return []
        if not self.leadership.leads(env) and not await self.leadership.claim(env):
            return []  # another live process leads it (or fenced this one): observed only
        records = []
        for drift in drifts:
            record = await self._repair_one(env, bname, drift, user=user, origin=origin, force=force)
            if record is not None:
                records.append(record)
        if any(r.result == AuditResult.SUCCEEDED for r in records):
            self.changed_by_us(env, bname)
            self.wake(env, bname)
        return records

    async def _repair_one(self, env: str, bname: str, drift: DriftItem, *, user: str, origin: str,
                          force: bool) -> RepairRecord | None:
        backend = self.backends[env][bname]
        key = drift.key()
        action = backend.repair_action(drift)
        params = {"field": drift.field, "desired": drift.desired}
        decision = self.policy.check(env, REPAIR)
        if not decision.allowed:
            if key in self._denied_repairs and not force:
                return None  # audited once already; do not flood the trail every pass
            self._denied_repairs.add(key)
            await self.store.audit_record(user=user, env=env, target=drift.resource, action=action,
                                          params=params, origin=origin, result=AuditResult.DENIED,
                                          message=decision.reason)
            return self._finish_record(env, RepairRecord(drift.resource, drift.field, action,
                                                         AuditResult.DENIED, decision.reason), origin)
        if origin == Origin.RECONCILER and self.held(env, drift.resource) is not None:
            return None  # its automatic repair is held (a manual action's value, for a while)
        attempts, not_before = self._repair_failures.get(key, (0, 0.0))
        loop_time = asyncio.get_running_loop().time()
        if not force and attempts and loop_time < not_before:
            return None  # the same repair failed recently: wait for its backoff
        epoch = self.leadership.epoch(env)
        if epoch is None:
            return None  # no longer the leader (the lease lapsed while this pass ran)
        try:
            # the row carries the epoch: the store refuses it (Fenced) once another process leads
            async with audited(self.store, user=user, env=env, target=drift.resource, action=action,
                               params=params, origin=origin, reason=_repair_stopped, epoch=epoch) as op:
                if not self.leadership.leads(env):  # frozen after the row was written: no call
                    op.finish(AuditResult.INTERRUPTED, "not started: this process no longer leads the environment")
                    return None
                try:
                    result = await asyncio.wait_for(backend.repair(drift),
                                                    timeout=max(30.0, self.config.defaults.timeout * 3))
                    ok, message = result.ok, result.message
                except Exception as exc:  # noqa: BLE001 - a failed repair is a record (and a backoff), not an error
                    ok, message = False, exception_text(exc)
                status = AuditResult.SUCCEEDED if ok else AuditResult.FAILED
                op.finish(status, message)
        except Fenced as exc:
            self.leadership.lose(env, f"fenced: {exc}; not repairing it here")
            return None
        except StateError as exc:  # the store unreachable: no row, no repair (retried on a later pass)
            log.error("not repairing %s of %s: cannot write its audit row: %s", drift.resource, env, exc)
            return None
        if ok:
            self._repair_failures.pop(key, None)
        else:
            attempts += 1
            self._repair_failures[key] = (attempts, loop_time + self._backoff(attempts, 30.0))
        return self._finish_record(env, RepairRecord(drift.resource, drift.field, action, status, message), origin)

    def _finish_record(self, env: str, record: RepairRecord, origin: str) -> RepairRecord:
        state = self.envs[env]
        state.repairs = (state.repairs + [record])[-200:]
        entry = TimelineEntry(self.clock(), record.resource, "repair",
                              "info" if record.result == "succeeded" else "high",
                              f"{record.action} {record.result}", f"{record.field}: {record.message}")
        self._spawn(self._add_timeline_quietly(env, [entry]))
        self._publish(RepairPerformed(env, record, origin))
        self._publish(TimelineAdded(env, [timeline_entry(entry)]))
        return record

    async def _add_timeline_quietly(self, env: str, entries: list[TimelineEntry]) -> None:
        with contextlib.suppress(StateError, ValueError):
            await self.store.add_timeline(env, entries)

    async def repair(self, env: str, *, user: str, origin: str, resource: str | None = None,
                     field: str | None = None) -> list[RepairRecord]:
        """Repair on request (`R` in the TUI, `reconcile --repair`): every current drift of
        `env`, or only those of one resource/field. Still under the access policy. InvalidRequest,
        saying why, for a created environment whose repairs are held (not ready)."""
        state = self.envs[env]
        if state.repair == "observe":
            return []
        held = self.lifecycle.held_reason(env)
        if held is not None:
            raise InvalidRequest(held)
        if not self.leadership.leads(env) and not await self.leadership.claim(env):
            raise InvalidRequest(self.leadership.led_by(env) or self.leadership.notes.get(env)
                                 or f"env {env}: this process does not lead it")
        records = []
        for bname, drifts in state.drifts.items():
            chosen = [d for d in drifts if (resource is None or d.resource == resource)
                      and (field is None or d.field == field)]
            if chosen:
                async with self._locks[(env, bname)]:
                    records += await self._repair_all(env, bname, chosen, user=user, origin=origin, force=True)
        return records

    # -- one-shot passes for the CLI ------------------------------------------
    async def run_once(self, *, repair: bool = False, repair_origin: str = Origin.CLI) -> dict[str, list[RepairRecord]]:
        """One observe pass of every backend of every environment, concurrently.
        Repairs: `auto` environments always; `propose` ones when `repair` is True. First the
        lifecycle: expired TTLs and every pending operation of a created environment are
        carried out (so a command without `--wait` is completed by `envdeck reconcile`)."""
        await self.lifecycle.run_pending()
        for backends in self.backends.values():
            for backend in backends.values():
                await backend.start()
        await self.load_last_known()
        followed = await self.follower.load_followed()  # another live process observes these
        jobs = [self.pass_once(env, bname, repair=False) for env, bs in self.backends.items() for bname in bs
                if env not in followed]
        await asyncio.gather(*jobs)
        out: dict[str, list[RepairRecord]] = {}
        for env, state in self.envs.items():
            do_repair = state.repair == "auto" or (repair and state.repair == "propose")
            records: list[RepairRecord] = []
            if do_repair and not self.leadership.leads(env):
                if not await self.leadership.claim(env):  # another live holder repairs it: "env X is led by HOLDER"
                    log.warning("not repairing: %s", self.leadership.led_by(env) or self.leadership.notes.get(env))
                    do_repair = False
            if do_repair:
                origin = Origin.RECONCILER if state.repair == "auto" and not repair else repair_origin
                for bname, drifts in state.drifts.items():
                    if drifts:
                        records += await self._repair_all(env, bname, drifts, user=self.policy.user,
                                                          origin=origin, force=True)
            out[env] = records
        if not self.running:  # one-shot: the leases this pass took (its lifecycle drives too) are given back
            await self.leadership.release_all()
        await self.load_leaders()
        return out
