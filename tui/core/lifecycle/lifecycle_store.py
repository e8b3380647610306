"""The store's lifecycle tables (migration 5 of tui/core/store.py), over the Store's
connection and its one-transaction-at-a-time lock.

- `managed_env`: one row per created environment: template, parameters, rendered spec
  (JSON), state, the operation still to carry out and who asked for it. (Its `holder`,
  `holder_until` columns are no longer used: the environment's lease is its leadership lease,
  the `leases` table of tui/core/leases.py, so that the process that drives its lifecycle is
  the one that repairs it, fenced by one epoch.)
- `lifecycle_steps`: one row per step, written *before* each backend call (the engine's
  resume point: a `creating` row asks `find()` before creating again).
- `sleep_memory`: what sleep scaled down, per backend, saved as it goes.
- `edge_claims`: (pool, node) → environment; the primary key makes a node claimable by one
  environment only, and the claim runs in one `BEGIN IMMEDIATE` transaction so that two
  processes never claim one node.
- `orphans`: what a teardown could not delete, with the reason (shown by `env list`).

Fencing (issue 16): the engine's writes carry the epoch of its lease (`epoch=`): each is
checked against the `leases` table in the same atomic unit as the write and refused with
`Fenced` when another process took the lease meanwhile (a holder frozen past its lease and
resumed writes nothing).

Checks that read then write (`insert`, `request`, `claim_nodes`) run as one atomic unit
(`SqlDb.atomic`): one `BEGIN IMMEDIATE` transaction on SQLite (another process's writer waits
for it), a SERIALIZABLE transaction retried on a serialization failure on PostgreSQL; so the
check holds when the write lands. The SQL is the engines' common one (tui/core/store_db.py).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from tui.core.audited import AuditedOperation
from tui.core.errors import InvalidRequest, NotFound
from tui.core.leases import Fenced, Lease, check_epoch
from tui.core.lifecycle.records import (
    EnvLifecycleState,
    ManagedEnvironment,
    Operation,
    Orphan,
    RenderedEnvironment,
    StepRecord,
    StepState,
)
from tui.core.model import TimelineEntry, iso, now_utc, parse_iso
from tui.core.store import Store, _serialized, finish_audit_row, insert_audit_row, insert_timeline
from tui.core.store_db import SqlDb, upsert_sql

__all__ = ["EdgeClaim", "LifecycleStore", "allowed", "busy_text"]

#: what users set by hand on an environment, dropped when it is destroyed and when its name is created
#: again (a later environment of the same name, maybe another user's, must not inherit them)
_HAND_SET = (("desired_overlay", "env"), ("repair_holds", "env"), ("repair_pauses", "env"))


@dataclass(frozen=True, slots=True)
class EdgeClaim:
    pool: str
    node: str
    env: str
    at: datetime | None


def _begun(audit: AuditedOperation | None, audit_id: int | None) -> None:
    """A deferred audit row's id once the transaction that wrote it committed."""
    if audit is not None and audit_id is not None:
        audit.begun(audit_id)


def allowed(state: EnvLifecycleState, operation: Operation, pending: Operation | None,
            has_orphans: bool = False) -> str:
    """Why `operation` may not be requested now ("" when it may): create only from planned,
    sleep from ready, wake from sleeping, destroy from anything but destroyed (a destroyed
    environment with orphans is swept again); a pending operation is replaced only by destroy."""
    if pending is not None and pending != operation and operation != Operation.DESTROY:
        return f"a {pending} is already pending"
    if pending == operation:
        return ""
    need = {Operation.CREATE: (EnvLifecycleState.PLANNED,), Operation.SLEEP: (EnvLifecycleState.READY,),
            Operation.WAKE: (EnvLifecycleState.SLEEPING,)}
    if operation == Operation.DESTROY:
        if state == EnvLifecycleState.DESTROYED and not has_orphans:
            return "it is destroyed"
        return ""
    if state not in need[operation]:
        return f"it is {state} ({operation} needs {' or '.join(need[operation])})"
    return ""


T = TypeVar("T")


def managed_from_row(row: Any, *, spec: RenderedEnvironment, steps: list[StepRecord],
                     orphans: list[Orphan]) -> ManagedEnvironment:
    """The environment of a `managed_env` row with its spec, steps and orphans (read with it, or
    held by the drive that alone writes them: `set_state(returning=True)`)."""
    return ManagedEnvironment(
        name=row["name"], template=row["template"], parameters=json.loads(row["parameters"]), owner=row["owner"],
        state=EnvLifecycleState(row["state"]), spec=spec, instance=row["instance"] or spec.instance,
        created_at=parse_iso(row["created_at"]), expires_at=parse_iso(row["expires_at"]),
        operation=Operation(row["operation"]) if row["operation"] else None, step=row["step"],
        reason=row["reason"], orphans=orphans, steps=steps,
        updated_at=parse_iso(row["updated_at"]), requested_by=row["requested_by"],
        requested_origin=row["requested_origin"])


def busy_text(lease: Lease | None) -> str:
    """"HOLDER (until TIME)" of a lease another process keeps."""
    if lease is None or lease.holder is None:
        return "nobody"
    return f"{lease.holder} (until {iso(lease.expires_at)})"


class _OneByOne(Exception):
    """A batch of one row: written on its own."""


@dataclass(slots=True)
class _RowWrite:
    """A step row waiting for its transaction (`LifecycleStore.upsert_step`)."""

    record: StepRecord
    epoch: int | None
    timeline: tuple[TimelineEntry, ...]
    audit: AuditedOperation | None
    audit_end: tuple[str, str] | None
    only_while: Operation | None
    done: asyncio.Future[bool]
    begun: int | None = None
    #: copies of the rows its transaction wrote, taken when it committed
    together: list[StepRecord] | None = None


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class LifecycleStore:
    """The lifecycle tables of one `Store` (same connection, same lock)."""

    def __init__(self, store: Store):
        self.store = store
        # the names `_serialized` and the write helpers use
        self._db = store._db
        self._lock = store._lock
        self.path = store.path
        #: step rows waiting for the next transaction (`upsert_step`'s group commit)
        self._rows: list[_RowWrite] = []

    async def _exec(self, sql: str, args: Iterable[Any] = ()) -> int:
        """One statement committed at once; returns the rows changed."""
        return await self._db.execute(sql, args)

    async def _atomic(self, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn` as one atomic read-then-write unit; rolled back on any error (a refusal
        included); a constraint that refuses a write is an InvalidRequest."""
        try:
            return await self._db.atomic(fn)
        except self._db.integrity_errors as exc:
            raise InvalidRequest(f"{self.path}: refused by the store: {exc}") from None

    async def _fenced(self, env: str, epoch: int | None, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn` (the writes of the leader of `env`); with `epoch`, in one atomic unit with the
        check that `epoch` is still the lease's (`Fenced` otherwise, nothing written)."""
        if epoch is None:
            return await fn()

        async def unit() -> T:
            await check_epoch(self._db, env, epoch)
            return await fn()

        return await self._atomic(unit)

    async def _atomic_of(self, fn: Callable[[SqlDb], Awaitable[T]], env: str = "", epoch: int | None = None) -> T:
        """`fn(db)` as one atomic unit (fenced by `epoch` when given, the check in the unit); on
        SQLite run whole in the connection's thread (`SqliteDb.atomic_in_thread`: one hand-over
        between threads instead of one per statement; each waits for the GIL while the AWS
        client threads run), elsewhere `_atomic` statement by statement on the store's connection."""
        async def unit(db: SqlDb) -> T:
            if epoch is not None:
                await check_epoch(db, env, epoch)
            return await fn(db)

        in_thread = getattr(self._db, "atomic_in_thread", None)
        if in_thread is None:
            return await self._atomic(lambda: unit(self._db))
        try:
            return await in_thread(unit)
        except self._db.integrity_errors as exc:
            raise InvalidRequest(f"{self.path}: refused by the store: {exc}") from None

    # -- managed environments ------------------------------------------------
    @_serialized
    async def insert(self, managed: ManagedEnvironment, *, requested_by: str = "", origin: str = "",
                     audit: AuditedOperation | None = None) -> None:
        """Keep a new environment (with a pending row per step of its spec). A name that exists
        and is not destroyed is refused (InvalidRequest); a destroyed row is replaced, its
        steps, sleep memory and orphans cleared. `audit`: the request's deferred audit row
        (tui/core/audited.py), written in the same transaction (nothing when it is refused)."""
        now = iso(now_utc())
        # the instance id: fixed here, once per created environment (a re-created name gets a new one)
        instance = managed.instance or managed.spec.instance or uuid.uuid4().hex
        managed.instance = managed.spec.instance = instance

        async def insert(db: SqlDb) -> int | None:
            row = await db.fetchone("SELECT state FROM managed_env WHERE name = ?", (managed.name,))
            if row is not None and row["state"] != EnvLifecycleState.DESTROYED:
                raise InvalidRequest(f"environment {managed.name} already exists ({row['state']})")
            # and what was set by hand on an earlier environment of this name (its desired-state overlays,
            # repair holds and pause): a new environment starts from its template, not from a stranger's edits
            for table, column in (("managed_env", "name"), ("lifecycle_steps", "env"), ("sleep_memory", "env"),
                                  ("orphans", "env"), *_HAND_SET):
                await db.execute(f"DELETE FROM {table} WHERE {column} = ?", (managed.name,))
            await db.execute(
                "INSERT INTO managed_env (name, template, parameters, owner, state, spec, created_at, expires_at, "
                "operation, step, reason, requested_by, requested_origin, updated_at, instance) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (managed.name, managed.template, _dumps(managed.parameters), managed.owner, str(managed.state),
                 _dumps(managed.spec.to_json()), iso(managed.created_at), iso(managed.expires_at),
                 str(managed.operation) if managed.operation else None, managed.step, managed.reason,
                 requested_by or managed.requested_by, str(origin or managed.requested_origin), now, instance))
            await db.executemany(
                "INSERT INTO lifecycle_steps (env, id, seq, backend, kind, state) VALUES (?,?,?,?,?,?)",
                [(managed.name, s.id, seq, s.backend, s.kind, str(StepState.PENDING))
                 for seq, s in enumerate(managed.spec.steps)])
            return await self._begin_audit(audit, db)

        _begun(audit, await self._atomic_of(insert))

    async def _begin_audit(self, audit: AuditedOperation | None, db: SqlDb | None = None) -> int | None:
        """A deferred audit row not written yet, written on the connection as it is (inside the
        caller's transaction; `db`: the unit's, default the store's); its id, or None."""
        if audit is None or audit.deferred is None or audit.ended:
            return None
        fields = audit.deferred
        return await insert_audit_row(db or self._db, user=fields.user, env=fields.env, target=fields.target,
                                      action=fields.action, params=fields.params, origin=fields.origin)

    @_serialized
    async def get(self, name: str) -> ManagedEnvironment | None:
        """The environment with its steps and orphans, or None."""
        async def read(db: SqlDb) -> ManagedEnvironment | None:
            row = await db.fetchone("SELECT * FROM managed_env WHERE name = ?", (name,))
            return None if row is None else await self._complete(row, db)

        return await self._reading(read)

    @_serialized
    async def pending(self, name: str) -> Operation | None:
        """The operation still to carry out on `name` (one query; NotFound when there is no such
        environment): what a create asks before it starts more steps (a destroy requested meanwhile)."""
        row = await self._db.fetchone("SELECT operation FROM managed_env WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no managed environment {name}")
        return Operation(row["operation"]) if row["operation"] else None

    async def require(self, name: str) -> ManagedEnvironment:
        managed = await self.get(name)
        if managed is None:
            raise NotFound(f"no managed environment {name}")
        return managed

    @_serialized
    async def list(self, *, include_destroyed: bool = False) -> list[ManagedEnvironment]:
        sql = "SELECT * FROM managed_env"
        args: list[Any] = []
        if not include_destroyed:
            sql += " WHERE state != ?"
            args.append(str(EnvLifecycleState.DESTROYED))
        rows = await self._db.fetchall(sql + " ORDER BY name", args)
        return [await self._complete(r) for r in rows]

    async def _complete(self, row: Any, db: SqlDb | None = None) -> ManagedEnvironment:
        name = row["name"]
        spec = RenderedEnvironment.from_json(json.loads(row["spec"]))
        spec.instance = row["instance"] or spec.instance
        return managed_from_row(row, spec=spec, steps=await self._steps(name, db), orphans=await self._orphans(name, db))

    async def _reading(self, fn: Callable[[SqlDb], Awaitable[T]]) -> T:
        """`fn(db)`'s reads; on SQLite in the connection's thread in one call
        (`SqliteDb.read_in_thread`; a record, its steps and orphans: 9 round trips → 1)."""
        in_thread = getattr(self._db, "read_in_thread", None)
        return await (in_thread(fn) if in_thread is not None else fn(self._db))

    @_serialized
    async def request(self, name: str, operation: Operation, requested_by: str, origin: str, *,
                      epoch: int | None = None, audit: AuditedOperation | None = None) -> ManagedEnvironment:
        """Set the operation to carry out, atomically; refuses (InvalidRequest) one the state does
        not allow (see `allowed`); NotFound for an unknown name. The same operation requested
        again is accepted as it is. `epoch`: a decision of the environment's leader (a TTL's
        destroy), refused with `Fenced` once the lease moved on. `audit`: the request's deferred
        audit row, written in the same transaction."""
        async def request(db: SqlDb) -> tuple[int | None, ManagedEnvironment]:
            row = await db.fetchone("SELECT state, operation FROM managed_env WHERE name = ?", (name,))
            if row is None:
                raise NotFound(f"no managed environment {name}")
            counted = await db.fetchone("SELECT COUNT(*) AS n FROM orphans WHERE env = ?", (name,))
            orphans = counted["n"] if counted else 0
            pending = Operation(row["operation"]) if row["operation"] else None
            why = allowed(EnvLifecycleState(row["state"]), Operation(operation), pending, orphans > 0)
            if why:
                raise InvalidRequest(f"cannot {operation} {name}: {why}")
            await db.execute(
                "UPDATE managed_env SET operation = ?, requested_by = ?, requested_origin = ?, updated_at = ? "
                "WHERE name = ?", (str(operation), requested_by, str(origin), iso(now_utc()), name))
            begun = await self._begin_audit(audit, db)
            # the record as this unit left it (read in the same transaction)
            return begun, await self._complete(await db.fetchone("SELECT * FROM managed_env WHERE name = ?", (name,)), db)

        begun, managed = await self._atomic_of(request, name, epoch)
        _begun(audit, begun)
        return managed

    @_serialized
    async def set_state(self, name: str, state: EnvLifecycleState, *, step: str = "", reason: str = "",
                        finished: Operation | None = None, then: Operation | None = None,
                        epoch: int | None = None, timeline: Sequence[TimelineEntry] = (),
                        expires_unless_set: datetime | None = None, returning: bool = False) -> Any:
        """Set the state and the current/failed step with its reason. `finished`: the operation
        carried out, cleared unless another was requested meanwhile; `then`: an operation to
        carry out next (on_failure destroy). `timeline`: entries written in the same transaction.
        `expires_unless_set`: the expiry, set in the same statement when there is none yet.
        `returning`: the `managed_env` row as the statement left it (`managed_from_row`), else None."""
        written: list[Any] = []

        async def write(db: SqlDb) -> None:
            written.append(await self._write_state(name, state, step, reason, finished, then, expires_unless_set,
                                                   returning=returning, db=db))
            if timeline:
                await insert_timeline(db, name, timeline)

        await self._unit_of(name, epoch, write, together=bool(timeline) or returning)
        return written[-1] if written else None

    async def _write_state(self, name: str, state: EnvLifecycleState, step: str, reason: str,
                           finished: Operation | None, then: Operation | None,
                           expires_unless_set: datetime | None = None, *, returning: bool = False,
                           db: SqlDb | None = None) -> Any:
        db = db or self._db
        sets = "state = ?, step = ?, reason = ?, updated_at = ?"
        args: list[Any] = [str(state), step, reason, iso(now_utc())]
        if expires_unless_set is not None:
            sets += ", expires_at = COALESCE(expires_at, ?)"
            args.append(iso(expires_unless_set))
        if then is not None:
            sets += ", operation = ?"
            args.append(str(then))
        elif finished is not None:
            sets += ", operation = CASE WHEN operation = ? THEN NULL ELSE operation END"
            args.append(str(finished))
        if returning:   # inside the caller's transaction (SQLite makes every change at the first step)
            return await db.fetchone(f"UPDATE managed_env SET {sets} WHERE name = ? RETURNING *", [*args, name])
        await db.execute(f"UPDATE managed_env SET {sets} WHERE name = ?", [*args, name])
        return None

    async def _unit_of(self, env: str, epoch: int | None, fn: Callable[[SqlDb], Awaitable[T]], *,
                       together: bool) -> T:
        """`_unit` of `fn(db)`; a unit of more than one statement, or fenced, runs in the
        connection's thread on SQLite (`_atomic_of`)."""
        if getattr(self._db, "atomic_in_thread", None) is not None and (together or epoch is not None):
            return await self._atomic_of(fn, env, epoch)
        return await self._unit(env, epoch, lambda: fn(self._db), together=together)

    async def _unit(self, env: str, epoch: int | None, fn: Callable[[], Awaitable[T]], *, together: bool) -> T:
        """`fn` fenced by `epoch` (one atomic unit with the check); without an epoch, in one
        transaction when it writes more than one statement (`together`)."""
        if epoch is None and together:
            async with self._db.transaction():
                return await fn()
        return await self._fenced(env, epoch, fn)

    @_serialized
    async def finish_destroy(self, name: str, orphans: list[Orphan], *, release_claims: bool, step: str,
                             reason: str, epoch: int | None = None, timeline: Sequence[TimelineEntry] = (),
                             audits: Sequence[tuple[AuditedOperation, tuple[str, str]]] = (),
                             returning: bool = False) -> Any:
        """The end of a destroy in one transaction: the edge claims released (`release_claims`),
        the orphans replaced, the sleep memory cleared, the state `destroyed` (the destroy
        finished) and the `timeline` entries; `audits`: deferred audit rows not written yet
        (sweeps that changed nothing), each with its end (result, message). `returning`: the
        `managed_env` row as it left it (`managed_from_row`), else None."""
        begun: list[int | None] = []
        state_row: list[Any] = []

        async def write(db: SqlDb) -> None:
            begun.clear()
            for audit, (result, message) in audits:
                fields = audit.deferred   # kept with its end (`ended`): written here, begun and ended
                audit_id = audit.id if fields is None else await insert_audit_row(
                    db, user=fields.user, env=fields.env, target=fields.target, action=fields.action,
                    params=fields.params, origin=fields.origin)
                begun.append(audit_id)
                await finish_audit_row(db, audit_id, result, message)
            if release_claims:
                await db.execute("DELETE FROM edge_claims WHERE env = ?", (name,))
            await self._replace_orphans(name, orphans, db)
            await db.execute("DELETE FROM sleep_memory WHERE env = ?", (name,))
            for table, column in _HAND_SET:  # a destroyed environment keeps no overlay, hold or pause
                await db.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
            state_row[:] = [await self._write_state(name, EnvLifecycleState.DESTROYED, step, reason, Operation.DESTROY,
                                                    None, returning=returning, db=db)]
            if timeline:
                await insert_timeline(db, name, timeline)

        await self._unit_of(name, epoch, write, together=True)
        for (audit, (result, message)), audit_id in zip(audits, begun, strict=True):
            _begun(audit, audit_id)
            audit.finish(result, message)
            audit.ended = True
        return state_row[0] if state_row else None

    @_serialized
    async def set_expires(self, name: str, expires_at: datetime | None, *, epoch: int | None = None) -> None:
        await self._fenced(name, epoch, lambda: self._exec(
            "UPDATE managed_env SET expires_at = ?, updated_at = ? WHERE name = ?",
            (iso(expires_at), iso(now_utc()), name)))

    @_serialized
    async def update_spec(self, name: str, spec: RenderedEnvironment, *, epoch: int | None = None) -> None:
        await self._fenced(name, epoch, lambda: self._exec("UPDATE managed_env SET spec = ?, updated_at = ? WHERE name = ?",
                                                           (_dumps(spec.to_json()), iso(now_utc()), name)))

    # -- steps ---------------------------------------------------------------
    @_serialized
    async def steps(self, name: str) -> list[StepRecord]:
        return await self._reading(lambda db: self._steps(name, db))

    async def _steps(self, name: str, db: SqlDb | None = None) -> list[StepRecord]:
        rows = await (db or self._db).fetchall("SELECT * FROM lifecycle_steps WHERE env = ? ORDER BY seq", (name,))
        return [StepRecord(env=r["env"], id=r["id"], backend=r["backend"], kind=r["kind"],
                           state=StepState(r["state"]), native_id=r["native_id"], token=r["token"],
                           message=r["message"], started_at=parse_iso(r["started_at"]),
                           finished_at=parse_iso(r["finished_at"]), attempts=r["attempts"]) for r in rows]

    async def upsert_step(self, record: StepRecord, *, epoch: int | None = None,
                          timeline: Sequence[TimelineEntry] = (), audit: AuditedOperation | None = None,
                          audit_end: tuple[str, str] | None = None, only_while: Operation | None = None,
                          together: list[StepRecord] | None = None,
                          then: Callable[[], Awaitable[None]] | None = None) -> bool:
        """Write one step row (committed before the backend call that follows); with `epoch`,
        only while it is still the lease's (`Fenced`). `timeline`: entries of the environment
        written in the same transaction (one commit for the row and what it says). `audit`: the
        step's audit row (tui/core/audited.py), written in the same transaction when it is a
        deferred one not written yet; `audit_end` (result, message): its end too (set on `audit`
        once committed: a write refused leaves the row open, as the body's exception ends it).
        `only_while`: written only while that operation is the pending one, checked in the same
        transaction; False (nothing written) when another replaced it (a destroy requested).

        Group commit: rows asked for while another transaction holds the connection, or in the
        same turn of the event loop as the first of them, are written together in the next one (each with its checks; every caller returns once its row is
        committed). When that transaction fails, each row is written on its own, so a refusal
        (`Fenced`, a constraint) is its own row's. `together`: filled with copies of every row
        that transaction wrote (this one among them), as they were when it committed. `then`:
        awaited once this row is asked for, before a transaction is taken: the rows asked for
        meanwhile (the steps that start on this one) are written with it."""
        audit = audit if audit is not None and not audit.ended else None
        row = _RowWrite(record, epoch, tuple(timeline), audit, audit_end, only_while,
                        asyncio.get_running_loop().create_future())
        self._rows.append(row)
        try:
            if then is not None:
                await then()
            if not self._lock.locked():
                # the rows of steps started together (a wave's `creating` rows) are asked for in
                # the same turn of the event loop: one turn lets them join this transaction
                await asyncio.sleep(0)
            await self._write_rows(row)
        except BaseException:
            if row in self._rows:   # cancelled before any transaction took it: never written
                self._rows.remove(row)
            raise
        written = row.done.result()
        if not written:
            return False
        if together is not None:
            together.extend(row.together or [replace(record)])
        _begun(audit, row.begun)
        if audit is not None and audit_end is not None:
            audit.finish(*audit_end)
            audit.ended = True
        return True

    @_serialized
    async def _write_rows(self, mine: _RowWrite) -> None:
        """The rows waiting (`mine` among them unless an earlier caller wrote it) in one unit; each
        row's outcome on its future (`mine`'s error raised here, the others' by their callers)."""
        if mine.done.done():
            return
        batch, self._rows = self._rows, []
        if len(batch) > 1:
            try:
                written = await self._rows_atomic(batch)
            except (*self._db.errors, InvalidRequest, Fenced):
                pass   # each row on its own, below: a refusal is its own row's
            except BaseException:
                for row in batch:   # interrupted (cancelled): no row's outcome is known
                    if row is not mine and not row.done.done():
                        row.done.cancel()
                raise
            else:
                rows = [replace(row.record) for row, ok in zip(batch, written, strict=True) if ok]
                for row, ok in zip(batch, written, strict=True):
                    row.together = rows
                    row.done.set_result(ok)
                return
        failure: BaseException | None = None
        for row in batch:
            try:
                ok = await self._rows_atomic([row])
            except BaseException as exc:
                if isinstance(exc, self._db.errors):
                    exc = self._db.error(exc)
                if row is mine or not isinstance(exc, Exception):
                    failure = failure or exc
                    if not row.done.done():
                        row.done.cancel()
                    if not isinstance(exc, Exception):
                        for rest in batch:   # interrupted: the rows not written yet are not
                            if not rest.done.done():
                                rest.done.cancel()
                        break
                else:
                    row.done.set_exception(exc)
                    row.done.exception()   # retrieved here: its caller raises it
            else:
                row.done.set_result(ok[0])
        if failure is not None:
            raise failure

    async def _rows_atomic(self, batch: list[_RowWrite]) -> list[bool]:
        """`_rows_unit(batch)` as one atomic unit; on SQLite run whole in the connection's thread
        (`SqliteDb.atomic_in_thread`: one hand-over between threads, not one per statement, which
        kept a destroy's link waiting 10-35 ms under load), elsewhere statement by statement."""
        return await self._atomic_of(lambda db: self._rows_unit(batch, db))

    async def _rows_unit(self, batch: list[_RowWrite], db: SqlDb) -> list[bool]:
        """One atomic unit on `db`: each (env, epoch)'s fencing check, then each row with its checks,
        its audit row, its timeline; per row whether it was written (`only_while` may refuse it)."""
        for env, epoch in dict.fromkeys((r.record.env, r.epoch) for r in batch):
            if epoch is not None:
                await check_epoch(db, env, epoch)
        written = []
        for row in batch:
            row.begun = None
            if row.only_while is not None:
                found = await db.fetchone("SELECT operation FROM managed_env WHERE name = ?",
                                                (row.record.env,))
                if found is None or found["operation"] != str(row.only_while):
                    written.append(False)
                    continue
            row.begun = await self._begin_audit(row.audit, db)
            await self._write_step(row.record, db)
            if row.timeline:
                await insert_timeline(db, row.record.env, row.timeline)
            if row.audit is not None and row.audit_end is not None:
                await finish_audit_row(db, row.begun or row.audit.id, *row.audit_end)
            written.append(True)
        return written

    async def _write_step(self, record: StepRecord, db: SqlDb | None = None) -> None:
        await (db or self._db).execute(
            "INSERT INTO lifecycle_steps (env, id, seq, backend, kind, state, native_id, token, message, "
            "started_at, finished_at, attempts) VALUES (?,?,(SELECT COALESCE(MAX(seq), -1) + 1 FROM "
            "lifecycle_steps WHERE env = ?),?,?,?,?,?,?,?,?,?) ON CONFLICT(env, id) DO UPDATE SET "
            "backend = excluded.backend, kind = excluded.kind, state = excluded.state, "
            "native_id = excluded.native_id, token = excluded.token, message = excluded.message, "
            "started_at = excluded.started_at, finished_at = excluded.finished_at, attempts = excluded.attempts",
            (record.env, record.id, record.env, record.backend, record.kind, str(record.state), record.native_id,
             record.token, record.message, iso(record.started_at), iso(record.finished_at), record.attempts))

    # -- lease ---------------------------------------------------------------
    # The environment's leadership lease (tui/core/leases.py, `Store.acquire_lease`): the
    # engine takes it through tui/core/leadership.py; these forms serve the tests and tools
    # that play "another process" holding it.
    async def take_lease(self, name: str, holder: str, ttl_s: float, *, now: datetime | None = None) -> str | None:
        """Take the environment's lease when it is free, expired, already `holder`'s, or held by a
        process of this host that is gone: None when taken, else "HOLDER (until TIME)" of the
        holder that keeps it. NotFound for an unknown environment."""
        if await self.get(name) is None:
            raise NotFound(f"no managed environment {name}")
        if await self.store.acquire_lease(name, holder, ttl_s, now=now) is not None:
            return None
        lease = await self.store.lease(name)
        return busy_text(lease)

    async def renew_lease(self, name: str, holder: str, ttl_s: float, *, now: datetime | None = None) -> bool:
        """Extend the lease `holder` has; False when it is no longer theirs."""
        lease = await self.store.lease(name)
        return lease is not None and lease.holder == holder and await self.store.renew_lease(lease, ttl_s, now=now)

    async def release_lease(self, name: str, holder: str) -> None:
        lease = await self.store.lease(name)
        if lease is not None and lease.holder == holder:
            await self.store.release_lease(lease)

    # -- edge claims ---------------------------------------------------------
    @_serialized
    async def claim_nodes(self, pool: str, env: str, count: int, candidates: list[str], *,
                          epoch: int | None = None, only_while: Operation | None = None,
                          then: Callable[[list[str]], tuple[RenderedEnvironment, Sequence[TimelineEntry]]] | None = None,
                          ) -> list[str] | None:
        """Claim `count` nodes of `pool` for `env` among `candidates` (in their order), keeping
        those `env` holds already (a resumed claim); one BEGIN IMMEDIATE transaction. Not
        enough free nodes: InvalidRequest naming the pool, nothing claimed. `only_while`: only
        while that operation is the pending one (None, nothing claimed, when another replaced
        it). `then(claimed)`: the environment's spec with the claimed nodes and the timeline
        entries that say so, written in the same transaction (one commit for the claim)."""
        async def claim(db: SqlDb) -> list[str] | None:
            if only_while is not None:
                found = await db.fetchone("SELECT operation FROM managed_env WHERE name = ?", (env,))
                if found is None or found["operation"] != str(only_while):
                    return None
            taken = {r["node"]: r["env"]
                     for r in await db.fetchall("SELECT node, env FROM edge_claims WHERE pool = ?", (pool,))}
            mine = [n for n in candidates if taken.get(n) == env]
            free = [n for n in candidates if n not in taken]
            missing = max(count - len(mine), 0)
            if len(free) < missing:
                raise InvalidRequest(f"edge pool {pool}: {len(free)} free node(s), {missing} more needed for {env}")
            stamp = iso(now_utc())
            await db.executemany("INSERT INTO edge_claims (pool, node, env, at) VALUES (?,?,?,?)",
                                 [(pool, n, env, stamp) for n in free[:missing]])
            claimed = mine + free[:missing]
            if then is not None:
                spec, timeline = then(claimed)
                await db.execute("UPDATE managed_env SET spec = ?, updated_at = ? WHERE name = ?",
                                 (_dumps(spec.to_json()), iso(now_utc()), env))
                if timeline:
                    await insert_timeline(db, env, timeline)
            return claimed

        return await self._atomic_of(claim, env, epoch)   # the epoch checked first, in the unit

    @_serialized
    async def release_claims(self, env: str, *, epoch: int | None = None) -> int:
        return await self._atomic_of(lambda db: db.execute("DELETE FROM edge_claims WHERE env = ?", (env,)), env, epoch)

    @_serialized
    async def claims(self, env: str | None = None, *, pool: str | None = None) -> list[EdgeClaim]:
        sql, args = "SELECT * FROM edge_claims WHERE TRUE", []
        if env is not None:
            sql += " AND env = ?"
            args.append(env)
        if pool is not None:
            sql += " AND pool = ?"
            args.append(pool)
        rows = await self._db.fetchall(sql + " ORDER BY pool, node", args)
        return [EdgeClaim(r["pool"], r["node"], r["env"], parse_iso(r["at"])) for r in rows]

    # -- sleep memory --------------------------------------------------------
    @_serialized
    async def save_sleep_memory(self, name: str, backend: str, memory: dict[str, dict[str, Any]], *,
                                epoch: int | None = None) -> None:
        await self._fenced(name, epoch, lambda: self._exec(
            upsert_sql("sleep_memory", ("env", "backend", "memory", "at"), ("env", "backend")),
            (name, backend, _dumps(memory), iso(now_utc()))))

    @_serialized
    async def sleep_memory(self, name: str) -> dict[str, dict[str, dict[str, Any]]]:
        """{backend: {resource id: {field: value before sleep}}}"""
        rows = await self._db.fetchall("SELECT backend, memory FROM sleep_memory WHERE env = ?", (name,))
        return {r["backend"]: json.loads(r["memory"]) for r in rows}

    @_serialized
    async def clear_sleep_memory(self, name: str, *, epoch: int | None = None) -> None:
        await self._fenced(name, epoch, lambda: self._exec("DELETE FROM sleep_memory WHERE env = ?", (name,)))

    # -- orphans -------------------------------------------------------------
    @_serialized
    async def set_orphans(self, name: str, orphans: list[Orphan], *, epoch: int | None = None) -> None:
        """Replace the environment's orphans (the last teardown's word)."""
        async def replace() -> None:
            await self._replace_orphans(name, orphans)

        if epoch is not None:
            await self._fenced(name, epoch, replace)
            return
        async with self._db.transaction():
            await replace()

    async def _replace_orphans(self, name: str, orphans: list[Orphan], db: SqlDb | None = None) -> None:
        db = db or self._db
        await db.execute("DELETE FROM orphans WHERE env = ?", (name,))
        stamp = iso(now_utc())
        rows = {(o.backend, o.resource): (name, o.backend, o.resource, o.reason, stamp) for o in orphans}
        if rows:
            await db.executemany(
                upsert_sql("orphans", ("env", "backend", "resource", "reason", "at"), ("env", "backend", "resource")),
                list(rows.values()))

    async def _orphans(self, name: str, db: SqlDb | None = None) -> list[Orphan]:
        rows = await (db or self._db).fetchall(
            "SELECT backend, resource, reason FROM orphans WHERE env = ? ORDER BY backend, resource", (name,))
        return [Orphan(r["backend"], r["resource"], r["reason"]) for r in rows]
