"""The lifecycle engine: carries a managed environment's pending operation (create, destroy,
sleep, wake) to its end, step by step, resumable after a crash at any point.

- Driven only by the leader of the environment (issue 16): the engine takes the
  environment's leadership lease (tui/core/leadership.py, the reconciler's own `Leadership`
  when the driver hands it in; a private one otherwise), so the process that carries out its
  lifecycle is the one that repairs it. A second process gets `LeaseBusy` naming the holder. A
  holder on this host whose pid is gone (a killed envdeck) is replaced at once. The lease is
  renewed while the engine works; a private one is released at the end (a reconciler's stays
  with its leader, and a one-shot command releases it when it closes).
- Fencing: every write of a drive (step rows, state, spec, edge claims, sleep memory, orphans,
  expiry) and every step's audit row carries the epoch the drive began under; the store
  refuses it (`Fenced`) once another process took the lease. Before each backend call the
  engine also checks that its lease has not lapsed on its own monotonic clock (a process frozen
  past its lease stops before calling anything). Either way it stops with `LeaseBusy`, drops
  the lease and logs why ("fenced: …"). A TTL's destroy request is the leader's decision too
  (`expire_due` claims the lease and the request carries its epoch).
- Create: steps run in the plan's waves (independent steps concurrently). A step starts only
  when every step it depends on is Healthy by a *fresh* observation: that step's own last
  `health()` answer when this drive saw it turn Healthy (a backend's health() always asks the
  server, never a cache), else (found healthy in the store: a resumed create) a `health()`
  call made then. Per step:
  the row goes to `creating` with a fixed token BEFORE the backend call (committed while the
  dependencies' fresh health is asked, and only while the create is the pending operation;
  nothing of the step is asked of its backend before both), `find()` adopts what
  a crashed run created, else `create()`; the native id is stored (`waiting`), then `health()`
  is polled (0.5 s, ×1.5, at most 2 s) until Healthy, terminal, or the step's timeout (clock based).
  A failure leaves the environment `failed` with the step and reason, or, with
  `on_failure: destroy`, tears it down; either way drive() raises LifecycleFailed.
- The edge step first claims nodes of its pool (store, atomic), writes them into
  `spec.environment["edge"]["nodes"]` with the template's services, then runs like any step.
- Destroy: steps in reverse wave order, `delete()` then `gone()` (a timeout, or an error,
  makes an Orphan with the reason; a backend that cannot be reached (BackendUnreachable) is
  asked again with backoff until the step's timeout, then the destroy stops: `failed` at that
  step, "cannot reach BACKEND: ...", no orphan, carried on by a later destroy), edge claims released once the edge step is gone; then
  `sweep()` on every backend of the environment (concurrently) and `delete_leftover()` of what it finds;
  what cannot be deleted is an Orphan. `destroyed`, with the orphans listed.
- Sleep: `sleep()` per backend, each backend's memory saved as it goes, then `sleeping`.
  Wake: `wake(memory)` per backend, then every step's health (fresh) → `ready`.
- Every step: an audit row (`lifecycle.<op>`, target `NAME/STEP`, the requesting user and
  origin) begun before and finished after, a timeline entry, and `on_change(managed)`.
- `expire_due()`: requests destroy (user "envdeck", origin ttl) of what has outlived its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from backends.base import Provisioner
from tui.core.audited import AuditedOperation, AuditFields, audited, exception_text
from tui.core.errors import (
    BackendUnreachable,
    EnvdeckError,
    ForeignResource,
    InvalidRequest,
    LifecycleFailed,
    NotFound,
)
from tui.core.leadership import Leadership
from tui.core.leases import Fenced, this_holder
from tui.core.lifecycle.end_rows import EndOf, end_of, same_outcome, ttl_destroy_retried
from tui.core.lifecycle.lifecycle_store import LifecycleStore, busy_text, managed_from_row
from tui.core.lifecycle.plan import build_plan
from tui.core.lifecycle.records import (
    AWS_ENV_TAG,
    DEFAULT_STEP_TIMEOUT_S,
    K8S_ENV_LABEL,
    EnvLifecycleState,
    Leftover,
    ManagedEnvironment,
    Operation,
    Orphan,
    RenderedEnvironment,
    StepHealth,
    StepRecord,
    StepSpec,
    StepState,
    k8s_label_value,
)
from tui.core.lifecycle.render import resolve_refs
from tui.core.lifecycle.schedule import dependents_may_start, run_as_ready
from tui.core.model import AuditResult, Origin, TimelineEntry, iso, now_utc
from tui.core.sanitize import clean
from tui.core.store import Store

__all__ = ["AUDIT_ENDS", "LeaseBusy", "LifecycleEngine", "ProvisionerFactory", "default_holder"]


def new_token() -> str:
    """A step's create token: `t<unix seconds>-<random>` (≤ 64 ASCII: EC2's ClientToken). The time
    lets a provisioner tell a thing its own crashed create made (after it) from an older one
    (records.token_time)."""
    return f"t{int(time.time())}-{uuid.uuid4().hex[:24]}"

log = logging.getLogger(__name__)

#: the deferred audit row of the create/delete step the current task carries out (`_Run._audited`)
_STEP_AUDIT: contextvars.ContextVar[AuditedOperation | None] = contextvars.ContextVar("lifecycle_step_audit",
                                                                                      default=None)

#: (backend, env, backend config section, template) -> Provisioner; production:
#: backends.registry.create_provisioner with the defaults bound by the service.
ProvisionerFactory = Callable[[str, str, Any, str], Provisioner]
OnChange = Callable[[ManagedEnvironment], Awaitable[None] | None]

#: set by a drive no requester waits for (the reconciler's lifecycle loop, `LifecycleDriver._drive_quietly`):
#: the end of each operation it carries out is one audit row of its own (`_Run._end_row`); a `--wait`
#: request ends its own row instead
AUDIT_ENDS: contextvars.ContextVar[bool] = contextvars.ContextVar("lifecycle_audit_ends", default=False)

BACKENDS = ("aws", "kubernetes", "edge")
EDGE_CLAIM = "edge-claim"
TTL_USER = "envdeck"
#: how many of an environment's newest audit rows are read for the request an end row answers
END_ROW_LOOKBACK = 200
TRANSIENT_ATTEMPTS = 3  # find/create of a step against an unreachable backend, within its deadline
UNREACHED_BACKOFF_S = 15.0  # the longest pause between two calls of a destroy step to an unreachable backend


class LeaseBusy(EnvdeckError):
    """Another live process is carrying out an operation on this environment."""


class _NotStarted(Exception):
    """A create's step not started: a destroy was requested meanwhile (carried out next)."""


class StepFailure(Exception):
    def __init__(self, step: str, reason: str):
        reason = clean(reason, max_len=2000)
        super().__init__(f"{step}: {reason}")
        self.step, self.reason = step, reason


class Unreached(StepFailure):
    """A destroy step (or sweep) whose backend did not answer until the step's timeout passed:
    not done, not an orphan. The destroy stops and the environment is `failed` at that step;
    a later destroy carries it on from there."""


def default_holder() -> str:
    """"user@host:pid" of this process: the lease's holder (tui/core/leases.py; the effective
    uid's login name, never $USER)."""
    return this_holder()


def _audit_reason(exc: BaseException) -> str:
    """A step's audit message for an exception its body lets out."""
    return exc.reason if isinstance(exc, StepFailure) else exception_text(exc)


def _by(message: str, holder: str) -> str:
    """An audit or timeline message naming the process that carried the step out."""
    return f"{message} (by {holder})" if message else f"by {holder}"


def _why(exc: Exception) -> str:
    """A backend error's reason; a LeaseBusy or a fenced write is never a step's failure (re-raised)."""
    if isinstance(exc, (LeaseBusy, Fenced)):
        raise exc
    if isinstance(exc, (EnvdeckError, StepFailure)):
        return exc.reason if isinstance(exc, StepFailure) else str(exc)
    return f"{type(exc).__name__}: {exc}"   # an unexpected error of a provisioner: still the step's


def _plan(managed: ManagedEnvironment) -> tuple[list[StepSpec], list[list[str]]]:
    """The steps (every edge in depends_on) and their waves."""
    plan = build_plan(managed.spec)
    return list(plan.steps), [list(w) for w in plan.waves]


def _resolved(step: StepSpec, native_ids: dict[str, str]) -> StepSpec:
    """The step with its `{step-id}` references filled where they can be (health, delete and
    find of a step whose references were resolved when it was created)."""
    try:
        return dataclasses.replace(step, fields=resolve_refs(step.fields, native_ids))
    except InvalidRequest:
        return step


def owned_leftover(leftover: Leftover, instance: str, steps: list[StepSpec], native_ids: Mapping[str, str]) -> bool:
    """Whether the sweep may delete `leftover`: it carries this environment's instance id AND the
    step mark of one of its steps of that backend; a Namespace only when it is the object of this
    environment's own Namespace step. Anything else that merely carries `envdeck:env=NAME` is left
    alone (whoever can tag or label could otherwise make the sweep delete it)."""
    if leftover.instance not in {instance, k8s_label_value(instance) if instance else ""}:
        return False
    for step in steps:
        if step.backend != leftover.backend or leftover.step not in {step.id, k8s_label_value(step.id)}:
            continue
        if leftover.kind != "Namespace":
            return True
        if step.kind == "Namespace" and leftover.native_id in {native_ids.get(step.id), step.fields.get("name")}:
            return True
    return False


def _env_mark(backend: str, env: str) -> str:
    return f"{K8S_ENV_LABEL}={env}" if backend == "kubernetes" else f"{AWS_ENV_TAG}={env}"


def _sweep_message(backend: str, env: str, deleted: list[str], alone: list[str], left: list[Orphan]) -> str:
    """The sweep's audit message: every deletion named (kind + id), what could not be deleted, and
    what was left alone."""
    parts = [f"{len(deleted)} leftover(s) deleted" + (f": {', '.join(deleted)}" if deleted else "")]
    if left:
        parts.append(f"{len(left)} could not be deleted: " + ", ".join(f"{o.resource} ({o.reason})" for o in left))
    if alone:
        parts.append(f"left alone: {', '.join(alone)} carry {_env_mark(backend, env)} but were not created by "
                     "this environment")
    return "; ".join(parts)


def _node_dicts(pool: Any) -> list[dict[str, Any]]:
    nodes = pool.get("nodes") if isinstance(pool, Mapping) else getattr(pool, "nodes", None)
    return [n.model_dump(mode="json") if hasattr(n, "model_dump") else dict(n) for n in nodes or []]


class LifecycleEngine:
    def __init__(self, store: Store, lstore: LifecycleStore, provisioners: ProvisionerFactory, *,
                 holder: str | None = None, clock: Callable[[], datetime] = now_utc,
                 on_change: OnChange | None = None, lease_s: float = 60.0,
                 poll: tuple[float, float] = (0.5, 2.0),
                 edge_pools: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
                 leadership: Leadership | None = None,
                 background: Callable[[Coroutine[Any, Any, None]], None] | None = None):
        self.store = store
        self.lstore = lstore
        self.provisioners = provisioners
        #: the leases the engine drives under: the reconciler's, or a private one (lease_s)
        self.own_leadership = leadership is None
        self.leadership = leadership or Leadership(store, lambda: (), holder=holder or default_holder(),
                                                   ttl_s=lease_s, clock=clock)
        self.holder = self.leadership.holder
        self.clock = clock
        self.on_change = on_change
        self.lease_s = lease_s
        self.poll = poll
        #: pool name -> EdgePoolConfig (or {"nodes": [...]}), or a callable giving that mapping
        #: (the config's `edge_pools`): the nodes an edge step claims from
        self.edge_pools = edge_pools
        #: runs a coroutine after drive() returns, its owner awaiting it before it stops (the
        #: reconciler's `_spawn`): a drive's provisioners are closed there (their clients, pools and
        #: connections: 2-5 ms after the last step); None: closed before drive() returns
        self.background = background
        self._driving: set[str] = set()

    # -- entry points --------------------------------------------------------------
    async def drive(self, name: str) -> ManagedEnvironment:
        """Carry out the pending operation (and any requested meanwhile) to its end; returns the
        environment at rest. LifecycleFailed when a step failed; LeaseBusy when another
        process drives it."""
        if name in self._driving:
            raise LeaseBusy(f"{name}: {self.holder} is already carrying out an operation on it")
        self._driving.add(name)      # before any await: two drives in this process never interleave
        try:
            await self.lstore.require(name)
            epoch = await self._take_lease(name)
        except BaseException:
            self._driving.discard(name)
            raise
        renewer = asyncio.create_task(self._renew(name))
        run = _Run(self, name, epoch)
        try:
            return await run.carry_out()
        except Fenced as exc:
            self.leadership.lose(name, f"fenced: {exc}; not carrying out its lifecycle here")
            raise LeaseBusy(f"{name}: the lease was taken over by another process (fenced: {exc})") from None
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            try:
                if self.background is not None:
                    self.background(run.close())
                else:
                    await run.close()
            finally:
                try:
                    if self.own_leadership:
                        await self.leadership.release(name)
                finally:
                    self._driving.discard(name)

    async def expire_due(self) -> list[str]:
        """Request destroy (user "envdeck", origin ttl) of every ready, sleeping or failed
        environment past its expires_at; returns their names. Only the environment's leader
        decides: the lease is claimed first (skipped while another process leads) and the
        request carries its epoch (refused once fenced)."""
        now = self.clock()
        due = []
        for managed in await self.lstore.list():
            if managed.state not in (EnvLifecycleState.READY, EnvLifecycleState.SLEEPING, EnvLifecycleState.FAILED):
                continue
            if managed.expires_at is None or managed.expires_at > now or managed.operation == Operation.DESTROY:
                continue
            took = not self.leadership.leads(managed.name)
            if not await self.leadership.claim(managed.name):
                log.info("TTL destroy of %s left to its leader: %s", managed.name,
                         self.leadership.led_by(managed.name) or self.leadership.notes.get(managed.name, ""))
                continue
            try:
                audit = await self._ttl_request_row(managed)
                await self.lstore.request(managed.name, Operation.DESTROY, TTL_USER, Origin.TTL,
                                          epoch=self.leadership.epoch(managed.name), audit=audit)
                if audit is not None:
                    await audit.finish_row(AuditResult.SUCCEEDED, f"expired at {iso(managed.expires_at)}: "
                                                                  "destroy handed over to the reconciler")
            except Fenced as exc:
                self.leadership.lose(managed.name, f"fenced: {exc}; its TTL is left to its leader")
                continue
            except (InvalidRequest, NotFound) as exc:
                log.info("TTL destroy of %s not requested: %s", managed.name, exc)
                continue
            finally:
                if took and self.own_leadership:
                    await self.leadership.release(managed.name)
            due.append(managed.name)
        return due

    async def _ttl_request_row(self, managed: ManagedEnvironment) -> AuditedOperation | None:
        """The TTL's destroy request row (user `envdeck`, origin `ttl`), written with the request
        (`LifecycleStore.request(audit=)`, nothing when it is refused); None when the destroy is
        asked again after the same request failed (tui/core/lifecycle/end_rows.py): the end rows
        of its attempts name that one request."""
        rows: list[dict[str, Any]] = []
        with contextlib.suppress(Exception):
            rows = await self.store.audit_entries(managed.name, limit=END_ROW_LOOKBACK)
        if ttl_destroy_retried(rows):
            return None
        fields = AuditFields(user=TTL_USER, env=managed.name, target=managed.name, action="env.destroy",
                             params={"wait": False, "expires_at": iso(managed.expires_at)}, origin=str(Origin.TTL))
        return AuditedOperation(self.store, 0, deferred=fields, epoch=self.leadership.epoch(managed.name))

    # -- lease ---------------------------------------------------------------------
    async def _take_lease(self, name: str) -> int:
        """Lead `name` (take or extend its lease); its epoch. LeaseBusy naming the holder when
        another live process leads it."""
        if await self.leadership.claim(name):
            epoch = self.leadership.epoch(name)
            if epoch is not None:
                return epoch
        lease = self.leadership.seen.get(name)
        other = busy_text(lease) if lease is not None and lease.holder not in (None, self.holder) else \
            (self.leadership.notes.get(name) or "another process")
        raise LeaseBusy(f"{name}: {other} is carrying out an operation on it; try again later")

    async def _renew(self, name: str) -> None:
        """Renew the lease while driving (a running reconciler renews it too: harmless); a
        renewal refused drops it (`Leadership.lose`) and the drive stops at its next check."""
        while True:
            await asyncio.sleep(self.leadership.renew_s)
            if not await self.leadership.renew(name):
                log.warning("%s: the lease of %s was taken over", name, self.holder)
                return


class _Run:
    """One drive() of one environment: its provisioners and the operations it carries out."""

    def __init__(self, engine: LifecycleEngine, name: str, epoch: int):
        self.engine = engine
        self.lstore = engine.lstore
        self.store = engine.store
        self.name = name
        self.epoch = epoch   # of the lease this drive runs under: every write carries it
        self._provisioners: dict[str, Provisioner] = {}
        self.managed: ManagedEnvironment | None = None
        #: the held record was read after this drive's last write (a step row clears it)
        self._read_last = False
        #: the audit rows of sweeps that changed nothing, with their ends: written with the end of
        #: the destroy (`finish_destroy`), or at once when the destroy stops before it
        self._sweep_rows: list[tuple[AuditedOperation, tuple[str, str]]] = []
        #: the create's steps found Healthy in this drive by their own last health() (a fresh
        #: answer of the backend, never a cache: backends/base.py): a dependent starts on that
        #: answer; a step found healthy in the store (a resumed create) is asked again
        self._seen_healthy: set[str] = set()

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.engine.clock

    async def close(self) -> None:
        """Close the drive's provisioners, all at once (their clients, connections and pools)."""
        provisioners = list(self._provisioners.values())
        self._provisioners.clear()
        await asyncio.gather(*(prov.close() for prov in provisioners), return_exceptions=True)

    # -- the loop --------------------------------------------------------------------
    async def carry_out(self) -> ManagedEnvironment:
        failure: LifecycleFailed | None = None
        managed = await self._reload()
        for _ in range(8):   # an operation requested meanwhile is carried out next (bounded)
            op = managed.operation
            if op is None:
                break
            before, ended = managed, None
            try:
                if op == Operation.CREATE:
                    await self._create()
                elif op == Operation.DESTROY:
                    await self._destroy()
                elif op == Operation.SLEEP:
                    await self._sleep()
                elif op == Operation.WAKE:
                    await self._wake()
            except LifecycleFailed as exc:
                failure = ended = exc
            # the state it left, and an operation requested meanwhile: each operation ends with a read
            # after its last write (`_changed()`), not read a second time
            managed = self.managed if self._read_last and self.managed is not None else await self._reload()
            if AUDIT_ENDS.get():
                await self._end_row(op, before, managed, ended)
            if failure is not None and managed.operation is None:
                break
        if failure is not None:
            raise failure
        return managed

    async def _end_row(self, op: Operation, before: ManagedEnvironment, after: ManagedEnvironment,
                       failure: LifecycleFailed | None) -> None:
        """One audit row saying how an operation carried out here ended (`env.create pr-10 ready`,
        `failed at step S: reason`, `destroyed; 2 orphan(s) left`): user and action those of the
        request (`env.clone` for a clone), origin `reconciler`, params with the request's audit row id
        (`request`), its origin and the process that carried it out (`by`). None when the request is a
        `--wait` one (its requester ends its own row, joined or not), nor when the same request was
        carried out again with the outcome of its previous end row (a failing TTL destroy asked again
        every round): tui/core/lifecycle/end_rows.py. Best effort: the operation's outcome is in the
        store whatever becomes of this row."""
        actions = ("env.create", "env.clone") if op == Operation.CREATE else (f"env.{op}",)
        found = EndOf()
        with contextlib.suppress(Exception):
            found = end_of(await self.store.audit_entries(self.name, limit=END_ROW_LOOKBACK), actions)
        if found.waited:
            return
        if failure is not None:
            result, message = AuditResult.FAILED, f"failed at step {failure.step}: {failure.reason}"
        elif after.orphans:
            result, message = AuditResult.FAILED, f"{after.state}; {len(after.orphans)} orphan(s) left"
        else:
            result, message = AuditResult.SUCCEEDED, str(after.state)
        message = clean(_by(message, self.engine.holder), max_len=2000)
        if found.previous is not None and same_outcome(found.previous, str(result), message):
            return
        params: dict[str, Any] = {"operation": str(op), "requested_origin": before.requested_origin,
                                  "by": self.engine.holder}
        if found.request is not None:
            params["request"] = found.request
        with contextlib.suppress(Exception):
            await self.store.audit_record(user=before.requested_by or before.owner, env=self.name, target=self.name,
                                          action=found.action or actions[0], params=params,
                                          origin=str(Origin.RECONCILER), result=str(result), message=message)

    async def _reload(self) -> ManagedEnvironment:
        self.managed = await self.lstore.require(self.name)
        self._read_last = True
        return self.managed

    async def _state_written(self, row: Any, *, orphans: list[Orphan] | None = None) -> None:
        """Report the environment after a state change whose statement gave back its row
        (`set_state(returning=True)`): that row with the spec, steps and orphans the drive holds
        (only this drive, under its lease, writes them; `orphans`: the ones it just wrote), as a
        read right after would give."""
        held = self.managed
        if row is None or held is None:
            await self._changed()
            return
        self.managed = managed_from_row(row, spec=held.spec, steps=list(held.steps),
                                        orphans=list(held.orphans) if orphans is None else orphans)
        self._read_last = True
        await self._report(self.managed)

    async def _changed(self, step: StepRecord | None = None) -> None:
        """Report the environment to `on_change`: read again after a change of its own row; after
        a step row this drive just wrote (`step`), the record it holds with that row in place of
        the old one (the same as a read would give: a step row changes nothing else, and only
        this drive, under its lease, writes them), without a round trip to the store."""
        managed = self._with_step(step) if step is not None else None
        if managed is None:
            managed = await self._reload()
        await self._report(managed)

    async def _report(self, managed: ManagedEnvironment) -> None:
        callback = self.engine.on_change
        if callback is not None:
            try:
                result = callback(managed)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # a subscriber's error never stops a lifecycle operation
                log.exception("on_change of %s failed", self.name)

    def _with_step(self, step: StepRecord) -> ManagedEnvironment | None:
        """The held record with `step` (a copy: the caller goes on changing its row) in place;
        None when there is no held record or it has no such step (read it again)."""
        managed = self.managed
        if managed is None or not any(s.id == step.id for s in managed.steps):
            return None
        copy = dataclasses.replace(step)
        self.managed = dataclasses.replace(managed, steps=[copy if s.id == step.id else s for s in managed.steps])
        return self.managed

    def provisioner(self, backend: str) -> Provisioner:
        prov = self._provisioners.get(backend)
        if prov is None:
            managed = self.managed
            assert managed is not None
            prov = self.engine.provisioners(backend, self.name, managed.spec.environment.get(backend),
                                            managed.template)
            prov.bind_instance(managed.instance or managed.spec.instance)   # before any other call
            self._provisioners[backend] = prov
        return prov

    def backends(self) -> list[str]:
        managed = self.managed
        assert managed is not None
        named = {s.backend for s in managed.spec.steps}
        named |= {b for b in BACKENDS if managed.spec.environment.get(b) is not None}
        return [b for b in BACKENDS if b in named] + sorted(named - set(BACKENDS))

    # -- audit and timeline ---------------------------------------------------------------
    def _who(self) -> tuple[str, str]:
        managed = self.managed
        assert managed is not None
        return (managed.requested_by or managed.owner, managed.requested_origin or str(Origin.RECONCILER))

    @contextlib.asynccontextmanager
    async def _audited(self, op: Operation, target: str, params: dict[str, Any], *,
                       step: bool = False, later: bool = False) -> AsyncIterator[AuditedOperation]:
        """One step's audit row (tui/core/audited.py): begun before the provisioner is asked to
        change anything. The user is who requested the operation; `by` (params and message) is
        the process carrying it out (the lease holder, user@host:pid): in a shared store another
        user's `reconcile` or agent may carry out alice's request with its own credentials.
        `step`: the row of a create or delete step is deferred: written in the transaction of the
        step's first row (`_row`), before its first backend change, and its end with its last
        row (`_row(ends=...)`): one commit each instead of two. `later`: deferred too, written by the
        body itself (`_begin_row`) before it changes anything, or handed to the end of the
        operation (a sweep that finds nothing to delete: `_sweep_rows`)."""
        user, origin = self._who()
        by = self.engine.holder
        self._check_lease()
        async with audited(self.store, user=user, env=self.name, target=f"{self.name}/{target}",
                           action=f"lifecycle.{op}", params={**params, "by": by}, origin=origin,
                           reason=lambda exc: _by(_audit_reason(exc), by), epoch=self.epoch,
                           deferred=step or later) as row:
            token = _STEP_AUDIT.set(row) if step else None
            try:
                yield row
            finally:
                if token is not None:
                    _STEP_AUDIT.reset(token)
                if row.result is not None and not row.ended:  # an exception's reason says `by` itself
                    row.message = _by(row.message, by)
            if row.result is None:
                row.succeed(_by("", by))

    async def _note(self, target: str, reason: str, message: str, *, severity: str = "info") -> None:
        await self.store.add_timeline(self.name, [self._entry(target, reason, message, severity=severity)])

    def _entry(self, target: str, reason: str, message: str, *, severity: str = "info") -> TimelineEntry:
        """A timeline entry of this drive (the message names the process carrying it out)."""
        return TimelineEntry(self.clock(), target, "lifecycle", severity, clean(reason),
                             clean(_by(message, self.engine.holder), max_len=2000))

    def _check_lease(self) -> None:
        """Stop (LeaseBusy) once this process no longer leads the environment: the lease was
        taken over, or it lapsed on this process's own clock (frozen, cut off from the store)."""
        leadership = self.engine.leadership
        if not leadership.leads(self.name) or leadership.epoch(self.name) != self.epoch:
            why = leadership.notes.get(self.name) or "its lease lapsed"
            raise LeaseBusy(f"{self.name}: the lease of {self.engine.holder} was taken over by another process "
                            f"or lapsed ({why}); stopping")

    async def _row(self, record: StepRecord, *notes: TimelineEntry, ends: tuple[str, str] | None = None,
                   only_while: Operation | None = None, then: Callable[[], Awaitable[None]] | None = None) -> bool:
        """Write a step row (fenced by the epoch) with its timeline `notes` in the same commit
        and, before the backend call that follows, check that the lease still holds on this
        process's clock. The step's deferred audit row (`_audited(step=True)`) is written with
        its first row; `ends` (result, message): the audit row's end, written with this row.
        `only_while`: written only while that operation is still the pending one (False: not
        written, another was requested). `then`: awaited once the row is asked for, before its
        transaction is taken (the rows asked for meanwhile join it)."""
        self._check_lease()
        self._read_last = False
        audit = _STEP_AUDIT.get()
        end = (str(ends[0]), _by(ends[1], self.engine.holder)) if ends is not None else None
        together: list[StepRecord] = []
        if not await self.lstore.upsert_step(record, epoch=self.epoch, timeline=notes, audit=audit, audit_end=end,
                                             only_while=only_while, together=together, then=then):
            return False
        self._check_lease()
        for other in together:   # the other steps' rows of the same commit: reported with this one
            if other.env == self.name and other.id != record.id:
                self._with_step(other)
        await self._changed(record)
        return True

    # -- create ----------------------------------------------------------------------------
    async def _create(self) -> None:
        managed = self.managed
        assert managed is not None
        self._seen_healthy.clear()
        await self._state_written(await self.lstore.set_state(self.name, EnvLifecycleState.PROVISIONING,
                                                              epoch=self.epoch, returning=True))
        try:
            steps, waves = _plan(managed)
        except EnvdeckError as exc:
            await self._create_failed(StepFailure("plan", str(exc)))
            return
        by_id = {s.id: s for s in steps}
        rows = {r.id: r for r in managed.steps}
        for s in steps:
            if s.id not in rows:
                await self.lstore.upsert_step(StepRecord(self.name, s.id, s.backend, s.kind), epoch=self.epoch)
        order = [i for wave in waves for i in wave]
        requested: list[Operation | None] = []

        async def still_create() -> bool:
            requested.append(await self.lstore.pending(self.name))
            if requested[-1] != Operation.CREATE:
                self._read_last = False   # the held record predates the request: read it again
            return requested[-1] == Operation.CREATE

        # each step starts once its own dependencies are done (then checked fresh by the step), and
        # only while the create is still the pending operation (asked by the step: `_run_create_step`);
        # a step not started (a destroy requested meanwhile) stops the others from starting
        results = await run_as_ready(order, {i: by_id[i].depends_on for i in order},
                                     lambda i: self._create_step(by_id[i], by_id, still_create))
        raised = [results[i] for i in order
                  if isinstance(results.get(i), BaseException) and not isinstance(results[i], _NotStarted)]
        for r in raised:
            if not isinstance(r, StepFailure):
                raise r
        if raised:
            await self._create_failed(raised[0])
            return
        if any(r != Operation.CREATE for r in requested) or any(isinstance(results.get(i), _NotStarted) for i in order):
            return     # destroy requested meanwhile: carried out next
        # the TTL runs from the creation (the record's created_at, fixed at insert): set with `ready`,
        # unless an expiry is there already (an `extend` meanwhile is kept)
        ttl_s = managed.spec.ttl_s
        await self._state_written(await self.lstore.set_state(
            self.name, EnvLifecycleState.READY, finished=Operation.CREATE, epoch=self.epoch,
            timeline=[self._entry(self.name, "Ready", f"{self.name} is ready")],
            expires_unless_set=managed.created_at + timedelta(seconds=ttl_s) if ttl_s else None, returning=True))

    async def _create_failed(self, exc: StepFailure) -> None:
        managed = self.managed
        assert managed is not None
        destroy = managed.spec.on_failure == "destroy"
        note = self._entry(exc.step, "Failed", exc.reason + ("; tearing it down (on_failure: destroy)"
                                                             if destroy else ""), severity="high")
        await self.lstore.set_state(self.name, EnvLifecycleState.FAILED, step=exc.step, reason=exc.reason,
                                    finished=Operation.CREATE, then=Operation.DESTROY if destroy else None,
                                    epoch=self.epoch, timeline=[note])
        await self._changed()
        raise LifecycleFailed(self.name, exc.step, exc.reason)

    async def _native_ids(self) -> dict[str, str]:
        return {r.id: r.native_id for r in await self._rows() if r.native_id}

    async def _record(self, step_id: str) -> StepRecord:
        """The step's row (a copy: the caller changes and writes it)."""
        held = self.managed.steps if self.managed is not None else []
        for r in [*held, *([] if any(r.id == step_id for r in held) else await self.lstore.steps(self.name))]:
            if r.id == step_id:
                return dataclasses.replace(r)
        raise NotFound(f"{self.name}: no step {step_id}")

    async def _rows(self) -> list[StepRecord]:
        """The step rows as the store holds them: the held record's (read at the start of the
        operation or of a step's start, each row this drive wrote since put in by `_with_step`;
        only this drive, under its lease, writes step rows), read when nothing is held."""
        if self.managed is not None and self.managed.steps:
            return list(self.managed.steps)
        return await self.lstore.steps(self.name)

    async def _create_step(self, step: StepSpec, by_id: dict[str, StepSpec],
                           still_create: Callable[[], Awaitable[bool]]) -> None:
        row = await self._record(step.id)
        if row.state == StepState.HEALTHY and row.native_id:
            return
        async with self._audited(Operation.CREATE, step.id, {"backend": step.backend, "kind": step.kind}, step=True):
            started = await self._run_create_step(step, by_id, row, still_create)   # its last row ends the audit row
        if started is None:
            raise _NotStarted(step.id)

    async def _run_create_step(self, step: StepSpec, by_id: dict[str, StepSpec], row: StepRecord,
                               still_create: Callable[[], Awaitable[bool]]) -> str | None:
        """Create one step; None when it did not start (a destroy was requested meanwhile). Whether
        the create is still the pending operation is asked after the dependencies' fresh health,
        in the transaction of the step's `creating` row (no query of its own on the chain); by a
        query before, when the step changes the store first (an edge claim) or writes no such row
        (resumed after its create)."""
        deadline = self.clock() + timedelta(seconds=step.timeout_s)
        native_ids = await self._native_ids()
        if step.kind != EDGE_CLAIM and row.state != StepState.WAITING:
            return await self._start_create_step(step, by_id, row, native_ids, deadline)
        try:
            await self._dependencies_healthy(step, by_id, native_ids, deadline)
        except StepFailure:
            if await still_create():
                raise
            return self._not_started()
        # an edge claim asks whether the create is still pending in its own transaction
        if step.kind != EDGE_CLAIM and not await still_create():
            return self._not_started()
        try:
            if step.kind == EDGE_CLAIM:
                claiming = await self._claim(step)
                if claiming is None:
                    return self._not_started()
                step = claiming
            step = dataclasses.replace(step, fields=resolve_refs(step.fields, native_ids))
            prov = self.provisioner(step.backend)
        except Exception as exc:
            reason = _why(exc)
            await self._fail_row(row, reason)
            raise StepFailure(step.id, reason) from None
        native_id = row.native_id if row.state == StepState.WAITING else None
        if native_id is None:
            row.state, row.token = StepState.CREATING, row.token or new_token()
            row.started_at, row.finished_at = row.started_at or self.clock(), None
            row.attempts += 1
            row.message = ""
            await self._row(row)              # committed BEFORE the backend call
            native_id, stored = await self._find_or_create_step(prov, step, row, deadline)
            return await self._become_healthy(step, row, native_id, deadline, stored)
        return await self._become_healthy(step, row, native_id, deadline)

    async def _start_create_step(self, step: StepSpec, by_id: dict[str, StepSpec], row: StepRecord,
                                 native_ids: dict[str, str], deadline: datetime) -> str | None:
        """A step not created yet: its `creating` row (with its audit row, only while the create is
        the pending operation) is committed while its dependencies' fresh health is asked, both
        before its own first backend call; a dependency found unhealthy then fails the row. A
        provisioner that cannot be built fails the step before (no attempt is recorded)."""
        try:
            prov = self.provisioner(step.backend)
        except Exception as exc:
            reason = _why(exc)
            await self._fail_row(row, reason)
            raise StepFailure(step.id, reason) from None
        healthy = asyncio.ensure_future(self._dependencies_healthy(step, by_id, native_ids, deadline))
        row.state, row.token = StepState.CREATING, row.token or new_token()
        row.started_at, row.finished_at = row.started_at or self.clock(), None
        row.attempts += 1
        row.message = ""
        try:
            written = await self._row(row, only_while=Operation.CREATE)
        except BaseException:
            healthy.cancel()
            await asyncio.gather(healthy, return_exceptions=True)
            raise
        try:
            await healthy
        except StepFailure as exc:
            if not written:
                return self._not_started()
            await self._fail_row(row, exc.reason)
            raise
        if not written:
            return self._not_started()
        try:   # after the dependencies' health: a reference to one never created is said by that check
            step = dataclasses.replace(step, fields=resolve_refs(step.fields, native_ids))
        except Exception as exc:
            reason = _why(exc)
            await self._fail_row(row, reason)
            raise StepFailure(step.id, reason) from None
        native_id, stored = await self._find_or_create_step(prov, step, row, deadline)
        return await self._become_healthy(step, row, native_id, deadline, stored)

    async def _find_or_create_step(self, prov: Provisioner, step: StepSpec, row: StepRecord,
                                   deadline: datetime) -> tuple[str, asyncio.Future[bool]]:
        """find() or create() after the `creating` row, then the native id stored (`waiting`).

        That row is written while the first health() is asked (the future returned): a read
        needs no row before it, and what makes a resume safe was committed before create()
        (the `creating` row with its token; a crash before the `waiting` commit resumes by
        find(), as a crash between create()'s answer and this row always did). Every later
        row of the step waits for it (_become_healthy)."""
        try:
            native_id = await self._find_or_create(prov, step, row.token or "", deadline)
        except Exception as exc:
            reason = _why(exc)
            await self._fail_row(row, reason)
            raise StepFailure(step.id, reason) from None
        row.state, row.native_id = StepState.WAITING, native_id
        stored = asyncio.ensure_future(self._row(dataclasses.replace(row),
                                                 self._entry(step.id, "Created", f"{step.kind} {native_id}")))
        return native_id, stored

    async def _become_healthy(self, step: StepSpec, row: StepRecord, native_id: str, deadline: datetime,
                              stored: asyncio.Future[bool] | None = None) -> str:
        """Poll health() until Healthy, then the `healthy` row; `stored`: the `waiting` row being
        written meanwhile, awaited before any later row of the step (and before its outcome)."""
        try:
            await self._wait_healthy(step, native_id, deadline, stored=stored)
        except StepFailure as exc:
            if stored is not None:
                await stored
            await self._fail_row(row, exc.reason)
            raise
        except BaseException:
            if stored is not None:
                await asyncio.gather(stored, return_exceptions=True)
            raise
        if stored is not None:
            await stored
        self._seen_healthy.add(step.id)   # by the answer just given: its dependents start on it
        row.state, row.message, row.finished_at = StepState.HEALTHY, "", self.clock()
        # the dependents start once this row is asked for: their `creating` rows join its transaction
        await self._row(row, self._entry(step.id, "Healthy", f"{step.kind} {native_id} is healthy"),
                        ends=(AuditResult.SUCCEEDED, f"healthy ({native_id})"), then=dependents_may_start)
        return native_id

    def _not_started(self) -> None:
        """A create's step not started: a destroy was requested meanwhile. Its audit row (deferred,
        not written) is dropped, and the held record is read again before the next operation."""
        audit = _STEP_AUDIT.get()
        if audit is not None and audit.deferred is not None:
            audit.ended = True
        self._read_last = False
        return None

    async def _find_or_create(self, prov: Provisioner, step: StepSpec, token: str, deadline: datetime) -> str:
        """find(), else create() with the step's token. An unreachable backend (a timeout, a
        refused connection, 5xx, throttling: each call makes one attempt at an endpoint that
        does not answer) is tried again up to TRANSIENT_ATTEMPTS times within the step's
        deadline: find() first each time, and create() carries the same token (EC2's
        ClientToken, the owner marks find() looks for), so a create that did happen before
        its answer was lost is found, never made twice."""
        delay, longest = self.engine.poll   # the health poll's pace: 0.5 s, x1.5, at most 2 s
        attempt = 1
        while True:
            try:
                return await prov.find(step) or await prov.create(step, token)
            except BackendUnreachable:
                if attempt >= TRANSIENT_ATTEMPTS or self.clock() >= deadline:
                    raise
            self._check_lease()
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, longest)
            attempt += 1

    async def _dependencies_healthy(self, step: StepSpec, by_id: dict[str, StepSpec], native_ids: dict[str, str],
                                    deadline: datetime) -> None:
        """Every step `step` depends on Healthy by a fresh observation: the dependency's own last
        health() answer when this drive saw it turn Healthy (`_seen_healthy`: the backend's answer
        of moments before, never a cache), else a health() asked now (a dependency found healthy
        in the store, by a resumed create). The checks are made concurrently; the first failure
        (in depends_on order among those that failed) is raised and the other checks are cancelled."""
        deps = [by_id[d] for d in step.depends_on if d in by_id and d not in self._seen_healthy]
        if len(deps) == 1:
            await self._wait_healthy(_resolved(deps[0], native_ids), native_ids.get(deps[0].id), deadline,
                                     waiting_for=step.id)
            return
        tasks = [asyncio.ensure_future(self._wait_healthy(_resolved(dep, native_ids), native_ids.get(dep.id),
                                                          deadline, waiting_for=step.id)) for dep in deps]
        if not tasks:
            return
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()

    async def _fail_row(self, row: StepRecord, reason: str) -> None:
        row.state, row.message, row.finished_at = StepState.FAILED, reason, self.clock()
        await self._row(row)

    async def _wait_healthy(self, step: StepSpec, native_id: str | None, deadline: datetime, *,
                            waiting_for: str = "", stored: asyncio.Future[bool] | None = None) -> None:
        """Poll a fresh health() until Healthy; StepFailure (naming the waiting step when this is
        a dependency check) on a terminal answer or at the deadline. `stored`: the step's
        `waiting` row still being written, awaited before its last message is kept."""
        owner = waiting_for or step.id
        if native_id is None:
            raise StepFailure(owner, f"{step.id} was never created")
        try:
            prov = self.provisioner(step.backend)
        except Exception as exc:
            raise StepFailure(owner, _why(exc)) from None
        delay, longest = self.engine.poll
        shown = None
        while True:
            try:
                health = await prov.health(step, native_id)
            except Exception as exc:   # a transient error is "not healthy yet"; the timeout decides
                health = StepHealth(False, _why(exc))
            self._check_lease()
            if health.healthy:
                return
            if not waiting_for and health.reason != shown:   # what the step waits for, shown as it changes
                shown = health.reason
                if stored is not None:
                    await stored
                await self._waiting_message(step.id, health.reason)
            what = f"{step.id} is not healthy: {health.reason}" if waiting_for else health.reason
            if health.terminal:
                raise StepFailure(owner, what or "failed")
            if self.clock() >= deadline:
                raise StepFailure(owner, f"not healthy after {step.timeout_s:g}s: {what or 'no reason given'}")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, longest) if delay else 0

    async def _waiting_message(self, step_id: str, reason: str) -> None:
        """Keep a waiting step's last answer in its row (the steps view's LAST MESSAGE, `env list`)."""
        row = await self._record(step_id)
        if row.state == StepState.WAITING and row.message != reason:
            row.message = reason
            await self._row(row)

    async def _claim(self, step: StepSpec) -> StepSpec | None:
        """Claim the edge nodes (kept by a resumed run), only while the create is the pending
        operation (None, nothing claimed, when a destroy replaced it), and write them and the
        services into spec.environment["edge"] with the timeline's "Claimed": one transaction;
        the edge provisioner is built after, with them."""
        managed = self.managed
        assert managed is not None
        fields = step.fields
        pool = str(fields.get("pool") or managed.spec.edge_pool or "")
        count = int(fields.get("count") or managed.spec.edge_count or 1)
        candidates = fields.get("nodes") or self._pool_nodes(pool)
        configs = {(n["name"] if isinstance(n, dict) else str(n)): n for n in candidates}
        if not pool or not configs:
            raise InvalidRequest(f"step {step.id}: edge pool {pool or '(none)'} has no nodes to claim")
        services = list(fields.get("services") or [])

        def with_nodes(claimed: list[str]) -> tuple[RenderedEnvironment, list[TimelineEntry]]:
            nodes = []
            for node_name in claimed:
                node = configs[node_name]
                node = dict(node) if isinstance(node, dict) else {"name": node_name, "host": node_name}
                node["services"] = sorted(set(node.get("services") or []) | set(services))
                nodes.append(node)
            edge = dict(managed.spec.environment.get("edge") or {})
            edge["nodes"] = nodes
            spec = dataclasses.replace(managed.spec, environment={**managed.spec.environment, "edge": edge})
            return spec, [self._entry(step.id, "Claimed", f"{pool}: {', '.join(claimed)}")]

        claimed = await self.lstore.claim_nodes(pool, self.name, count, list(configs), epoch=self.epoch,
                                                only_while=Operation.CREATE, then=with_nodes)
        if claimed is None:
            return None
        self._provisioners.pop(step.backend, None)
        await self._reload()
        return dataclasses.replace(step, fields={**fields, "claimed": claimed})

    def _pool_nodes(self, pool: str) -> list[dict[str, Any]]:
        pools = self.engine.edge_pools
        if callable(pools):
            pools = pools()
        found = (pools or {}).get(pool)
        return _node_dicts(found) if found is not None else []

    # -- destroy ---------------------------------------------------------------------------
    async def _destroy(self) -> None:
        managed = self.managed
        assert managed is not None
        keep_step, keep_reason = managed.step, managed.reason
        await self._state_written(await self.lstore.set_state(self.name, EnvLifecycleState.DESTROYING, step=keep_step,
                                                              reason=keep_reason, epoch=self.epoch, returning=True))
        try:
            steps, waves = _plan(managed)
        except EnvdeckError:   # a spec the plan refuses: one step at a time, in reverse spec order
            steps, waves = list(managed.spec.steps), [[st.id] for st in managed.spec.steps]
            order = list(dict.fromkeys(i for wave in reversed(waves) for i in wave))
            waits_for = {step_id: {order[n - 1]} if n else set() for n, step_id in enumerate(order)}
        else:   # a step is deleted once every step that depends on it is
            order = [i for wave in reversed(waves) for i in wave]
            waits_for = {i: set() for i in order}
            for step in steps:
                for dep in step.depends_on:
                    waits_for.setdefault(dep, set()).add(step.id)
        native_ids = await self._native_ids()
        by_id = {s.id: _resolved(s, native_ids) for s in steps}
        try:
            orphans = await self._delete_all(by_id, order, waits_for)
        except Unreached as exc:   # not reached within its timeout: failed there, resumable, no orphans
            await self._write_sweep_rows()
            await self._op_failed(Operation.DESTROY, exc.step, exc.reason)
        except BaseException:
            await self._write_sweep_rows()
            raise
        left = f"{len(orphans)} orphan(s) left" if orphans else ""
        note = self._entry(self.name, "Destroyed", f"{self.name} is destroyed" + (f"; {left}" if left else ""),
                           severity="high" if orphans else "info")
        # the claims released unless the edge left an orphan (also a claim made just before a crash), the
        # orphans, the sleep memory, the state and its entry: one transaction
        rows, self._sweep_rows = self._sweep_rows, []
        # reported from the row the statement gave back when no orphan is left (the orphans' order
        # is the store's), else read again
        row = await self.lstore.finish_destroy(self.name, orphans,
                                               release_claims=not any(o.backend == "edge" for o in orphans),
                                               step=keep_step if not left else "", reason=left or keep_reason,
                                               epoch=self.epoch, timeline=[note], audits=rows, returning=not orphans)
        await self._state_written(row, orphans=[])

    async def _write_sweep_rows(self) -> None:
        """The sweeps' audit rows kept for the end of a destroy that stops before it (best effort:
        a fenced drive's are refused like its other writes)."""
        rows, self._sweep_rows = self._sweep_rows, []
        for op, (result, message) in rows:
            op.ended = False
            with contextlib.suppress(Exception):
                await op.finish_row(result, message)

    async def _begin_row(self, op: AuditedOperation) -> None:
        """Write a deferred audit row (`_audited(later=True)`) now, before the change it is for."""
        fields = op.deferred
        if fields is not None:
            op.begun(await self.store.audit_begin(user=fields.user, env=fields.env, target=fields.target,
                                                  action=fields.action, params=fields.params, origin=fields.origin,
                                                  epoch=op.epoch))

    async def _delete_step(self, step: StepSpec, gone: Callable[[], None] = lambda: None) -> list[Orphan]:
        """Delete one step (its row `deleting` committed before the backend call, `deleted` after);
        `gone()` is called once the backend says it is gone (before that row is written: the sweep
        that waits for it need not wait for the row). The step's orphan when it could not be deleted."""
        row = await self._record(step.id)
        if row.state in (StepState.PENDING, StepState.DELETED) or (row.native_id is None and not row.attempts):
            return []        # never asked of a backend (attempts count the rows written `creating`)
        failure: str | None = None
        foreign: str | None = None
        unreached: Unreached | None = None
        native_id: str | None = None
        deadline = self.clock() + timedelta(seconds=step.timeout_s)
        async with self._audited(Operation.DESTROY, step.id, {"backend": step.backend, "kind": step.kind}, step=True):
            try:
                prov = self.provisioner(step.backend)
                native_id = row.native_id
                if native_id is None and step.kind == EDGE_CLAIM:
                    # crashed between the claim and the row: the claims in the store name the nodes (find()
                    # adopts only nodes running every service, and a half-started node must be stopped too)
                    claimed = [c.node for c in await self.lstore.claims(self.name)]
                    native_id = ",".join(claimed) or None
                elif native_id is None:   # crashed between create and its row: adopt by the marks
                    native_id = await self._reaching(step, deadline, lambda: prov.find(step))
                if native_id is not None:
                    row.state, row.native_id, row.message = StepState.DELETING, native_id, ""
                    row.started_at, row.finished_at = self.clock(), None
                    await self._row(row)          # committed BEFORE the backend call
                    found = native_id
                    await self._reaching(step, deadline, lambda: prov.delete(step, found), row)
                    await self._wait_gone(prov, step, native_id, deadline, row)
            except Unreached as exc:   # not done and not an orphan: the destroy stops failed at this step
                unreached = exc
                row.state, row.message, row.finished_at = StepState.FAILED, exc.reason, self.clock()
                await self._row(row, ends=(AuditResult.FAILED, exc.reason))
            except ForeignResource as exc:   # not this environment's: nothing of ours there, not an orphan
                foreign = _why(exc)
                row.state, row.message, row.finished_at = StepState.DELETED, foreign, self.clock()
                await self._row(row, ends=(AuditResult.SUCCEEDED, f"nothing of this environment's to delete: {foreign}"))
            except Exception as exc:   # the step is left as an orphan; the destroy goes on
                failure = _why(exc)
                row.state, row.message, row.finished_at = StepState.FAILED, failure, self.clock()
                await self._row(row, ends=(AuditResult.FAILED, failure))
            else:
                if step.kind == EDGE_CLAIM:
                    await self.lstore.release_claims(self.name, epoch=self.epoch)
                gone()
                row.state, row.message, row.finished_at = StepState.DELETED, "", self.clock()
                # gone() answered: the steps it waited for start once this row is asked for, their
                # `deleting` rows joining its transaction
                await self._row(row, self._entry(step.id, "Deleted", f"{step.kind} {native_id or ''}".strip()),
                                ends=(AuditResult.SUCCEEDED, f"deleted ({native_id or 'nothing created'})"),
                                then=dependents_may_start)
        if unreached is not None:
            raise unreached
        if foreign is not None:
            # a recorded id that is no longer marked ours is worth a look; a refused create is not
            await self._note(step.id, "Not ours", f"left alone: {foreign}",
                             severity="high" if row.native_id and native_id else "info")
            return []
        if failure is not None:
            await self._note(step.id, "Orphaned", failure, severity="high")
            return [Orphan(step.backend, row.native_id or step.id, failure)]
        return []

    async def _wait_gone(self, prov: Provisioner, step: StepSpec, native_id: str, deadline: datetime,
                         row: StepRecord | None = None) -> None:
        delay, longest = self.engine.poll
        while not await self._reaching(step, deadline, lambda: prov.gone(step, native_id), row):
            self._check_lease()
            if self.clock() >= deadline:
                raise StepFailure(step.id, f"still there {step.timeout_s:g}s after deletion was asked")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, longest) if delay else 0

    async def _reaching(self, step: StepSpec, deadline: datetime, call: Callable[[], Awaitable[Any]],
                        row: StepRecord | None = None, *, target: str | None = None) -> Any:
        """`call()` of a destroy step (or sweep, `target`), asked again while its backend cannot be
        reached (BackendUnreachable: a timeout, a refused connection, 5xx), with backoff (the poll's
        pace, doubling up to UNREACHED_BACKOFF_S), until the step's deadline; then Unreached
        ("cannot reach BACKEND: ..."). Each call is idempotent (delete: gone already = done). The
        row under way (`row`) says it is waiting for the backend, once per different reason."""
        delay, _ = self.engine.poll
        while True:
            try:
                return await call()
            except BackendUnreachable as exc:
                reason = f"cannot reach {step.backend}: {_why(exc)}"
                if self.clock() >= deadline:
                    raise Unreached(target or step.id,
                                    f"{reason} (tried for {step.timeout_s:g}s, the step's timeout)") from exc
                if row is not None and row.message != f"{reason}; trying again":
                    row.message = f"{reason}; trying again"
                    await self._row(row)
            self._check_lease()
            await asyncio.sleep(delay)
            delay = min(delay * 2, max(UNREACHED_BACKOFF_S, delay))

    async def _delete_all(self, by_id: dict[str, StepSpec], order: list[str],
                          waits_for: dict[str, set[str]]) -> list[Orphan]:
        """Delete the steps, each once the steps of `waits_for[step]` are done (`order`: reverse
        wave order), then sweep each backend once its own steps are done (`_sweep`); the orphans in `order`, then the sweep's in backend
        order. A step or sweep that raises (a lost lease) stops the destroy: nothing more starts,
        what runs is waited for (a sweep under way is cancelled), the exception is raised."""
        sweeps: dict[str, asyncio.Future[list[Orphan]]] = {}
        left = {b: {i for i in order if by_id[i].backend == b} for b in self.backends()}
        of_kind: dict[tuple[str, str], set[str]] = {}
        for i in order:
            of_kind.setdefault((by_id[i].backend, by_id[i].kind), set()).add(i)
        kinds_gone: dict[str, set[str]] = {}
        instance = self._instance()

        def sweep_when_done(step_id: str | None) -> None:
            for backend, ids in left.items():
                ids.discard(step_id or "")
                if not ids and backend not in sweeps:
                    sweeps[backend] = asyncio.ensure_future(self._sweep(backend, instance))

        def step_done(step_id: str) -> None:
            """The step is gone (or orphaned): its kind's listing may begin once every step of
            that kind is (`Provisioner.steps_gone`), its backend's sweep once every step of it is."""
            step = by_id[step_id]
            ids = of_kind[(step.backend, step.kind)]
            if step_id in ids:
                ids.discard(step_id)
                if not ids:
                    kinds_gone.setdefault(step.backend, set()).add(step.kind)
                    try:
                        prov = self.provisioner(step.backend)
                    except Exception:   # the sweep builds it again and says why
                        prov = None
                    hook = getattr(prov, "steps_gone", None)   # optional (backends.base.Provisioner has it)
                    if hook is not None:
                        hook(frozenset(kinds_gone[step.backend]))
            sweep_when_done(step_id)

        async def delete(step_id: str) -> list[Orphan]:
            orphans = await self._delete_step(by_id[step_id], lambda: step_done(step_id))
            step_done(step_id)
            return orphans

        try:
            results = await run_as_ready(order, waits_for, delete)
            for step_id in order:
                if isinstance(results.get(step_id), BaseException):
                    raise results[step_id]
            sweep_when_done(None)    # a backend with no step (its section only) is swept too
            swept = await asyncio.gather(*sweeps.values(), return_exceptions=True)
        finally:
            for task in sweeps.values():
                task.cancel()
            await asyncio.gather(*sweeps.values(), return_exceptions=True)
        orphans = [o for step_id in order for o in results.get(step_id) or []]
        by_backend = dict(zip(sweeps, swept, strict=True))
        for backend in self.backends():
            result = by_backend.get(backend, [])
            if isinstance(result, BaseException):
                raise result
            orphans.extend(result)
        return orphans

    def _instance(self) -> str:
        managed = self.managed
        assert managed is not None
        return managed.instance or managed.spec.instance

    async def _sweep(self, backend: str, instance: str) -> list[Orphan]:
        """What of `backend` still carries the environment's name, once its steps are gone (each
        backend swept as soon as its own steps are done, concurrently with the others' steps).
        Deleted only when it carries this environment's instance id and one of its steps' marks
        (`owned_leftover`); the rest is left alone and named (not deleted, not an orphan). Every
        deletion is named in the audit row (one per backend) and the timeline."""
        managed = self.managed
        assert managed is not None
        return await self._sweep_backend(backend, instance, list(managed.spec.steps), await self._native_ids())

    def _keep_sweep_row(self, op: AuditedOperation) -> None:
        """A sweep's audit row not written yet (it changed nothing): kept, with its end, for the
        transaction that ends the destroy."""
        if op.deferred is not None and op.result is not None:
            self._sweep_rows.append((op, (op.result, _by(op.message, self.engine.holder))))
            op.ended = True

    async def _sweep_backend(self, backend: str, instance: str, steps: list[StepSpec],
                             native_ids: Mapping[str, str]) -> list[Orphan]:
        deleted: list[str] = []
        alone: list[str] = []
        left: list[Orphan] = []
        # its audit row is written before the first deletion; a sweep that deletes nothing has its
        # row written with the end of the destroy (one commit for all, `_sweep_rows`)
        target = f"sweep:{backend}"
        timeouts = [s.timeout_s for s in steps if s.backend == backend]
        probe = StepSpec(id=target, backend=backend, kind="sweep", fields={},
                         timeout_s=max(timeouts, default=DEFAULT_STEP_TIMEOUT_S))
        deadline = self.clock() + timedelta(seconds=probe.timeout_s)
        async with self._audited(Operation.DESTROY, target, {"backend": backend}, later=True) as op:
            try:
                prov = self.provisioner(backend)
                leftovers = await self._reaching(probe, deadline, prov.sweep, target=target)
            except Unreached as exc:   # not swept: the destroy stops failed here (not an orphan)
                op.fail(exc.reason)
                self._keep_sweep_row(op)
                raise
            except Exception as exc:   # an orphan of the whole backend; the other backends are swept
                reason = f"sweep failed: {_why(exc)}"
                op.fail(reason)
                self._keep_sweep_row(op)
                return [Orphan(backend, "*", reason)]
            for leftover in leftovers:
                if not owned_leftover(leftover, instance, steps, native_ids):
                    alone.append(leftover.label)
                    continue
                await self._begin_row(op)
                try:
                    await self._reaching(probe, deadline, lambda lo=leftover: prov.delete_leftover(lo), target=target)
                except Unreached as exc:
                    op.fail(exc.reason)
                    raise
                except ForeignResource:   # its marks changed since the sweep listed it
                    alone.append(leftover.label)
                except Exception as exc:
                    left.append(Orphan(backend, leftover.arn or leftover.native_id, _why(exc)))
                else:
                    deleted.append(leftover.label)
            message = _sweep_message(backend, self.name, deleted, alone, left)
            op.finish(AuditResult.FAILED if left else AuditResult.SUCCEEDED, message)
            self._keep_sweep_row(op)
        notes = []
        if deleted or left:
            notes.append(self._entry(f"sweep:{backend}", "Swept", message, severity="high" if left else "info"))
        notes.extend(self._entry(f"sweep:{backend}", "Left alone",
                                 f"left alone: {label} carries {_env_mark(backend, self.name)} but was not "
                                 "created by this environment", severity="medium") for label in alone)
        if notes:
            await self.store.add_timeline(self.name, notes)
        return left

    # -- sleep and wake ---------------------------------------------------------------------
    async def _sleep(self) -> None:
        saved = await self.lstore.sleep_memory(self.name)
        for backend in self.backends():
            if backend in saved:
                continue     # slept before a crash: its memory is kept, not overwritten by zeros
            failure: str | None = None
            async with self._audited(Operation.SLEEP, backend, {"backend": backend}) as op:
                try:
                    memory = await self.provisioner(backend).sleep()
                except Exception as exc:   # the row says why, then the operation fails
                    failure = _why(exc)
                    op.fail(failure)
                else:
                    await self.lstore.save_sleep_memory(self.name, backend, memory, epoch=self.epoch)
                    op.succeed(f"{len(memory)} resource(s) scaled down")
            if failure is not None:
                await self._op_failed(Operation.SLEEP, backend, failure)
            await self._note(backend, "Asleep", f"{len(memory)} resource(s) scaled down")
        await self.lstore.set_state(self.name, EnvLifecycleState.SLEEPING, finished=Operation.SLEEP, epoch=self.epoch)
        await self._changed()

    async def _wake(self) -> None:
        memory = await self.lstore.sleep_memory(self.name)
        for backend in self.backends():
            failure: str | None = None
            async with self._audited(Operation.WAKE, backend, {"backend": backend}) as op:
                try:
                    await self.provisioner(backend).wake(memory.get(backend, {}))
                    op.succeed("restored")
                except Exception as exc:   # the row says why, then the operation fails
                    failure = _why(exc)
                    op.fail(failure)
            if failure is not None:
                await self._op_failed(Operation.WAKE, backend, failure)
        managed = await self._reload()
        steps, _ = _plan(managed)
        native_ids = await self._native_ids()
        for step in (_resolved(s, native_ids) for s in steps):
            unhealthy: StepFailure | None = None
            async with self._audited(Operation.WAKE, step.id, {"backend": step.backend, "kind": step.kind}) as op:
                try:
                    await self._wait_healthy(step, native_ids.get(step.id),
                                             self.clock() + timedelta(seconds=step.timeout_s))
                    op.succeed("healthy")
                except StepFailure as exc:   # the row says why, then the operation fails
                    unhealthy = exc
                    op.fail(exc.reason)
            if unhealthy is not None:
                await self._op_failed(Operation.WAKE, unhealthy.step, unhealthy.reason)
        await self.lstore.clear_sleep_memory(self.name, epoch=self.epoch)
        await self.lstore.set_state(self.name, EnvLifecycleState.READY, finished=Operation.WAKE, epoch=self.epoch,
                                    timeline=[self._entry(self.name, "Awake", f"{self.name} is ready again")])
        await self._changed()

    async def _op_failed(self, op: Operation, step: str, reason: str) -> None:
        await self.lstore.set_state(self.name, EnvLifecycleState.FAILED, step=step, reason=reason, finished=op,
                                    epoch=self.epoch, timeline=[self._entry(step, "Failed", f"{op}: {reason}",
                                                                            severity="high")])
        await self._changed()
        raise LifecycleFailed(self.name, step, reason)
