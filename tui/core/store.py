"""The store: audit trail, timeline, snapshots, metric samples, drifts, overlays, holds,
environment pauses (and the lifecycle tables, tui/core/lifecycle/lifecycle_store.py), on one of two engines:

- SQLite, the embedded default: `envdeck.db` in the state directory (tui/core/store_sqlite.py);
- PostgreSQL, shared by a team: `state.url` in the config or `$ENVDECK_STATE_URL`
  (tui/core/store_pg.py; psycopg 3, the optional extra `envdeck[postgres]`).

`open_store(config, state_dir)` picks the engine; `Store.open(state_dir)` opens the SQLite file.
The queries are written once over the `SqlDb` interface (tui/core/store_db.py).

- One numbered list of forward-only MIGRATIONS for both engines (written in SQLite's words,
  translated for PostgreSQL by `store_pg.pg_migration`); the version in `PRAGMA user_version`
  (SQLite) or the `schema_version` table (PostgreSQL). A newer schema is refused.
- An audit row is committed *before* an action starts (`pending`) and completed
  after by the process that began it (its owner: host, pid namespace, pid, start time — see
  tui/core/owner.py). Opening a store with `recover=True` marks `interrupted` only the
  `pending` rows of this host whose owner is gone; a finished row is never rewritten.
- Parameters and messages pass `tui.core.redaction` before they are written (and again
  when read, for rows older than the rules).
- A database error is a StateError naming the store (a path, or the URL without password),
  never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from tui.core import audit_rows
from tui.core.env_state import RepairPause
from tui.core.errors import StateError
from tui.core.leases import Lease, check_epoch, holder_gone
from tui.core.model import (
    AuditResult,
    BackendState,
    DriftItem,
    Resource,
    TimelineEntry,
    iso,
    now_utc,
    parse_iso,
)
from tui.core.owner import owner_gone, this_process
from tui.core.redaction import NAME_MAX, REDACTED, cap_text, redact_params, redact_text
from tui.core.store_db import SqlDb, upsert_sql
from tui.core.store_sqlite import DB_NAME, corrupt_message, open_sqlite, store_error

if TYPE_CHECKING:
    from tui.core.audit_filter import AuditFilter
    from tui.core.audited import AuditEnd, AuditFields
    from tui.core.config import EnvdeckConfig

__all__ = ["DB_NAME", "MIGRATIONS", "REDACTED", "STATE_URL_ENV", "Store", "corrupt_message", "open_store",
           "redact_params", "snapshot_json", "state_url", "store_error"]

STATE_URL_ENV = "ENVDECK_STATE_URL"

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        "user" TEXT NOT NULL,
        env TEXT NOT NULL,
        target TEXT NOT NULL,
        action TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        origin TEXT NOT NULL,
        result TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        finished_at TEXT
    );
    CREATE INDEX audit_env_at ON audit(env, id);
    CREATE INDEX audit_result ON audit(result);
    CREATE TABLE timeline (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        env TEXT NOT NULL,
        resource TEXT NOT NULL,
        kind TEXT NOT NULL,          -- event | fault | drift | repair | backend
        severity TEXT NOT NULL DEFAULT 'info',
        reason TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT '',
        count INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX timeline_env_id ON timeline(env, id);
    CREATE TABLE snapshots (
        env TEXT NOT NULL,
        backend TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        data TEXT NOT NULL,
        observed_at TEXT,
        PRIMARY KEY (env, resource_id)
    );
    CREATE TABLE backend_state (
        env TEXT NOT NULL,
        backend TEXT NOT NULL,
        reachable INTEGER,
        error TEXT,
        observed_at TEXT,
        last_pass TEXT,
        PRIMARY KEY (env, backend)
    );
    CREATE TABLE metric_samples (
        env TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        name TEXT NOT NULL,
        at TEXT NOT NULL,
        value REAL NOT NULL
    );
    CREATE INDEX metric_samples_key ON metric_samples(env, resource_id, name, at);
    CREATE INDEX metric_samples_at ON metric_samples(at);
    CREATE TABLE drifts (
        env TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        field TEXT NOT NULL,
        desired TEXT NOT NULL,
        actual TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        resolved_at TEXT,
        PRIMARY KEY (env, resource_id, field, first_seen)
    );
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: the process that owns an audit row (host, pid, start time): recovery marks only
    # the pending rows of processes that are gone
    """
    ALTER TABLE audit ADD COLUMN owner_host TEXT;
    ALTER TABLE audit ADD COLUMN owner_pid INTEGER;
    ALTER TABLE audit ADD COLUMN owner_start TEXT;
    """,
    # 3: desired-state overlays (a manual action's value kept instead of the config's, audited)
    # and repair holds (automatic repair of one resource paused until a time; observing goes on)
    """
    CREATE TABLE desired_overlay (
        env TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,         -- JSON
        "user" TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (env, resource_id, field)
    );
    CREATE TABLE repair_holds (
        env TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        until TEXT NOT NULL,
        "user" TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (env, resource_id)
    );
    """,
    # 4: the pid namespace of an audit row's owner: a pid names another process in another
    # namespace (a container, `unshare -p`), so recovery there leaves the row alone
    """
    ALTER TABLE audit ADD COLUMN owner_pidns TEXT;
    """,
    # 5: environment lifecycle (issue 15; tui/core/lifecycle/lifecycle_store.py): managed
    # environments with the operation still to carry out, who asked for it, and a lease (holder,
    # holder_until) so that two processes never drive one environment; one row per step,
    # written before each backend call; what sleep scaled down; edge nodes claimed (a node is
    # claimed by one environment: the primary key); orphans left by a teardown
    """
    CREATE TABLE managed_env (
        name TEXT PRIMARY KEY,
        template TEXT NOT NULL,
        parameters TEXT NOT NULL DEFAULT '{}',     -- JSON
        owner TEXT NOT NULL,
        state TEXT NOT NULL,
        spec TEXT NOT NULL,                        -- JSON of RenderedEnvironment
        created_at TEXT NOT NULL,
        expires_at TEXT,
        operation TEXT,
        step TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        requested_by TEXT NOT NULL DEFAULT '',
        requested_origin TEXT NOT NULL DEFAULT '',
        holder TEXT,
        holder_until TEXT,
        updated_at TEXT
    );
    CREATE TABLE lifecycle_steps (
        env TEXT NOT NULL,
        id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        backend TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        native_id TEXT,
        token TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT '',
        started_at TEXT,
        finished_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (env, id)
    );
    CREATE TABLE sleep_memory (
        env TEXT NOT NULL,
        backend TEXT NOT NULL,
        memory TEXT NOT NULL,                      -- JSON {resource id: {field: value before}}
        at TEXT NOT NULL,
        PRIMARY KEY (env, backend)
    );
    CREATE TABLE edge_claims (
        pool TEXT NOT NULL,
        node TEXT NOT NULL,
        env TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (pool, node)
    );
    CREATE INDEX edge_claims_env ON edge_claims(env);
    CREATE TABLE orphans (
        env TEXT NOT NULL,
        backend TEXT NOT NULL,
        resource TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL,
        PRIMARY KEY (env, backend, resource)
    );
    """,
    # 6: a managed environment's instance id: a random uuid fixed when its row is inserted, put on
    # everything it creates (AWS tag envdeck:instance, Kubernetes label envdeck.io/instance), so
    # that find() adopts and the sweep deletes only what THIS environment made ('' for rows of
    # earlier versions: their things carry no instance mark)
    """
    ALTER TABLE managed_env ADD COLUMN instance TEXT NOT NULL DEFAULT '';
    """,
    # 7: leadership per environment (issue 16; tui/core/leases.py): who leads it (user@host:pid),
    # until when, and the fencing epoch that grows on every change of holder
    """
    CREATE TABLE leases (
        env TEXT PRIMARY KEY,
        holder TEXT,
        epoch BIGINT NOT NULL DEFAULT 0,
        expires_at TEXT,
        renewed_at TEXT,
        acquired_at TEXT
    );
    """,
    # 8: promotions (issue 18; tui/core/promote/): environment A's versions brought to B in
    # health-gated waves; the plan and B's versions before (what a rollback restores), a lease
    # (holder, holder_until) so that two processes never drive one promotion, and one row per
    # change written before its backend call (the resume point after a crash)
    """
    CREATE TABLE promotions (
        id TEXT PRIMARY KEY,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        "user" TEXT NOT NULL,
        origin TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        plan TEXT NOT NULL,                        -- JSON
        previous TEXT NOT NULL DEFAULT '{}',       -- JSON {resource id: {field: value before}}
        rollback_of TEXT,
        wave INTEGER NOT NULL DEFAULT 0,           -- waves finished
        reason TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT,
        holder TEXT,
        holder_until TEXT
    );
    CREATE INDEX promotions_b ON promotions(b);
    CREATE TABLE promotion_steps (
        promotion TEXT NOT NULL,
        seq INTEGER NOT NULL,
        wave INTEGER NOT NULL,
        component TEXT NOT NULL,
        resource TEXT NOT NULL,
        field TEXT NOT NULL,
        value_before TEXT NOT NULL DEFAULT 'null', -- JSON
        value_after TEXT NOT NULL DEFAULT 'null',  -- JSON
        state TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        started_at TEXT,
        finished_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (promotion, seq)
    );
    """,
    # 9: the database role that wrote an audit row (issue 16, team mode): filled by the server,
    # never by the client (PostgreSQL: `session_user` by a trigger, tui/core/store_pg.py
    # PG_AFTER_MIGRATION; SQLite: stays NULL) so a member cannot write a row in another's name
    """
    ALTER TABLE audit ADD COLUMN db_user TEXT;
    """,
    # 10: an environment's automatic repairs paused for every process on the store (TUI `p`,
    # `envdeck pause`): an environment-wide repair hold with no expiry, who paused it, when and
    # why, until someone resumes (the row is deleted); every reconciler reads it before repairing
    """
    CREATE TABLE repair_pauses (
        env TEXT PRIMARY KEY,
        "user" TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    );
    """,
    # 11: retention (tui/core/retention.py) deletes an environment's timeline rows older than
    # `state.retention.timeline` in small batches: found by this index, not a scan of the table
    """
    CREATE INDEX timeline_env_at ON timeline(env, at);
    """,
    # 12: a backend of hosts (edge) answers for some of its nodes: how many it has and how many did
    # not answer, so that a follower shows `edge✗86/90` as its leader does (NULL: not such a backend)
    """
    ALTER TABLE backend_state ADD COLUMN nodes_total INTEGER;
    ALTER TABLE backend_state ADD COLUMN nodes_unreachable INTEGER;
    """,
]



_SNAPSHOT_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


async def insert_timeline(db: SqlDb, env: str, entries: Iterable[TimelineEntry]) -> None:
    """The timeline rows of `add_timeline`, on `db` as it is (inside a caller's transaction: the
    lifecycle store writes a step row and its entry in one). Outside text is capped (cap_text) before it is kept."""
    await db.executemany(
        "INSERT INTO timeline (at, env, resource, kind, severity, reason, message, count) VALUES (?,?,?,?,?,?,?,?)",
        [(iso(e.at), env, e.resource, e.kind, e.severity, redact_text(cap_text(e.reason, NAME_MAX)),
          redact_text(cap_text(e.message)), e.count)
         for e in map(TimelineEntry._make, entries)])


def _audit_begin_row(*, user: str, env: str, target: str, action: str, params: dict[str, Any] | None,
                     origin: str) -> tuple[str, tuple[Any, ...]]:
    """The INSERT (up to VALUES) and values of a `pending` audit row owned by this process."""
    owner = this_process()
    columns = ('INSERT INTO audit (at, "user", env, target, action, params, origin, result, owner_host, '
               "owner_pid, owner_start, owner_pidns) ")
    values = (iso(now_utc()), user, env, target, action, json.dumps(redact_params(params), sort_keys=True),
              origin, AuditResult.PENDING, owner.host, owner.pid, owner.start, owner.pidns)
    return columns, values


async def insert_audit_row(db: SqlDb, *, user: str, env: str, target: str, action: str,
                           params: dict[str, Any] | None, origin: str) -> int:
    """`audit_begin`'s `pending` row on `db` as it is (inside a caller's fenced transaction: the
    lifecycle engine's step row and its audit row in one commit); returns its id."""
    columns, values = _audit_begin_row(user=user, env=env, target=target, action=action, params=params,
                                       origin=origin)
    return await db.insert(columns + "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", values)


async def finish_audit_row(db: SqlDb, audit_id: int, result: str, message: str = "") -> bool:
    """`audit_finish` on `db` as it is (also inside a caller's transaction)."""
    owner = this_process()
    changed = await db.execute(
        "UPDATE audit SET result = ?, message = ?, finished_at = ? WHERE id = ? AND result = ? "
        "AND owner_host = ? AND owner_pid = ? AND owner_start = ? AND owner_pidns = ?",
        (str(result), redact_text(message), iso(now_utc()), audit_id, AuditResult.PENDING,
         owner.host, owner.pid, owner.start, owner.pidns))
    return changed == 1


def snapshot_json(resource: Resource) -> str:
    """A resource as stored in `snapshots.data`: what `json.dumps(r.to_json(), default=str)`
    gives, through orjson (10k resources: ~80 ms of json.dumps on the event loop → ~3 ms).
    Falls back to json for what orjson refuses (integers beyond 64 bits)."""
    data = resource.to_json()
    try:
        return orjson.dumps(data, default=str, option=_SNAPSHOT_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, default=str)


def _serialized(method):
    """One transaction at a time on the shared connection: without it, two passes
    running concurrently interleave their statements and one's commit would commit
    half of the other's transaction (seen as SQLITE_MISUSE under load). A driver error
    becomes one clear StateError (`SqlDb.error`)."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        async with self._lock:
            try:
                return await method(self, *args, **kwargs)
            except self._db.errors as exc:
                raise self._db.error(exc) from None

    return wrapper


# -- which store -------------------------------------------------------------------
def check_state_url(url: str, where: str) -> str:
    """A PostgreSQL URL without a password (it comes from libpq's own places: PGPASSWORD,
    ~/.pgpass or PGPASSFILE, a service file); ValueError naming `where` otherwise. The
    message never repeats the URL (it may carry the password it refuses); `where` prefixes it.
    """
    where = f"{where}: " if where else ""
    try:
        parts = urlsplit(url)
        password = parts.password
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        raise ValueError(f"{where}not a valid postgresql:// URL") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"{where}must be a postgresql:// URL (e.g. postgresql://envdeck@db.internal/envdeck)")
    if password is not None or any(k in ("password", "sslpassword") for k, _ in query):
        raise ValueError(f"{where}must not carry a password; put it in ~/.pgpass (or PGPASSFILE, "
                         "a service file, PGPASSWORD) where libpq reads it")
    return url


def shown_url(url: str) -> str:
    """A store URL as messages show it: every query value and a userinfo password `***`
    (`postgresql://u:***@db/envdeck?application_name=***`); a URL that does not parse is
    shown as `<the state URL>`."""
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        password = parts.password
    except ValueError:
        return "<the state URL>"
    netloc = parts.netloc
    if password is not None or ":" in netloc.rpartition("@")[0]:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{REDACTED}@{host}"
    shown = parts._replace(netloc=netloc, query="&".join(f"{k}={REDACTED}" for k, _ in query),
                           fragment="")
    return shown.geturl()


def state_url(config: EnvdeckConfig | None) -> str | None:
    """`$ENVDECK_STATE_URL`, else the config's `state.url`, else None (the SQLite file)."""
    env = os.environ.get(STATE_URL_ENV, "").strip()
    if env:
        try:
            return check_state_url(env, f"${STATE_URL_ENV}")
        except ValueError as exc:
            raise StateError(str(exc)) from None
    state = getattr(config, "state", None) if config is not None else None
    return state.url if state is not None and state.url else None


async def open_store(config: EnvdeckConfig | None, state_dir: Path | str, *, recover: bool = True,
                     on_wait: Callable[[str], None] | None = None) -> Store:
    """The store the configuration names: PostgreSQL at `state_url(config)`, else the
    SQLite file in `state_dir`. `on_wait`: told when opening waits for PostgreSQL's migration
    lock (store_pg.open_pg; default a line on stderr)."""
    url = state_url(config)
    if url is None:
        return await Store.open(state_dir, recover=recover)
    try:
        from tui.core import store_pg
    except ImportError as exc:
        raise StateError(f"state.url: the PostgreSQL driver is not installed ({exc.name}); "
                         "install envdeck[postgres] (psycopg)") from None
    db = await store_pg.open_pg(url, MIGRATIONS, on_wait=on_wait)
    return await Store._opened(db, recover=recover)


class Store:
    def __init__(self, db: SqlDb, path: Path | str):
        self._db = db
        self.path = path  # SQLite: the file; PostgreSQL: the URL without password
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return self._db.dialect

    # -- opening -------------------------------------------------------------
    @classmethod
    async def open(cls, state_dir: Path | str, *, recover: bool = True) -> Store:
        """The SQLite store in `state_dir` (created and migrated if new)."""
        return await cls._opened(await open_sqlite(state_dir, MIGRATIONS), recover=recover)

    @classmethod
    async def _opened(cls, db: SqlDb, *, recover: bool) -> Store:
        store = cls(db, getattr(db, "path", db.label))
        if recover:
            try:
                await store.mark_interrupted()
            except BaseException:
                await db.close()
                raise
        return store

    @_serialized
    async def migrate(self) -> int:
        return await self._db.migrate(MIGRATIONS)

    @_serialized
    async def close(self) -> None:
        await self._db.close()

    @_serialized
    async def schema_version(self) -> int:
        return await self._db.schema_version()

    @_serialized
    async def journal_mode(self) -> str:
        return await self._db.journal_mode()

    @_serialized
    async def integrity_check(self) -> str:
        return await self._db.integrity_check()

    @_serialized
    async def tables(self) -> set[str]:
        return await self._db.tables()

    # -- audit ---------------------------------------------------------------
    @_serialized
    async def mark_interrupted(self) -> int:
        """Mark `interrupted` the pending rows whose owning process is gone; rows of
        another host (a shared store) or another pid namespace are left alone
        (tui/core/owner.py). Returns how many rows were marked.

        On PostgreSQL only rows of this session's database role (db_user, set by the server) are
        judged: another member can INSERT a `pending` row naming any host and pid (or none, as
        the rows written before rows had an owner), and must not make this process rewrite it.
        Rows from before db_user existed (NULL) are still judged, as before."""
        mine = " AND (db_user IS NULL OR db_user = session_user)" if self._db.dialect == "postgresql" else ""
        rows = await self._db.fetchall(
            "SELECT id, owner_host, owner_pid, owner_start, owner_pidns FROM audit WHERE result = ? "
            "AND (owner_host = ? OR owner_pid IS NULL)" + mine, (AuditResult.PENDING, socket.gethostname()))
        gone = [(r["id"],) for r in rows
                if owner_gone(r["owner_host"], r["owner_pid"], r["owner_start"], r["owner_pidns"])]
        if not gone:
            return 0
        stamp = iso(now_utc())
        await self._db.executemany(
            "UPDATE audit SET result = ?, finished_at = ?, message = CASE WHEN message = '' THEN "
            "'envdeck stopped before the action completed' ELSE message END WHERE id = ? AND result = ?",
            [(AuditResult.INTERRUPTED, stamp, row_id, AuditResult.PENDING) for (row_id,) in gone])
        return len(gone)

    @_serialized
    async def audit_begin(self, *, user: str, env: str, target: str, action: str,
                          params: dict[str, Any] | None, origin: str, epoch: int | None = None) -> int:
        """Commit a `pending` row before the action starts; returns its id. With `epoch` (a
        repair of the environment's leader), the row is written only while `epoch` is still the
        lease's, checked in the same atomic unit: `Fenced` otherwise (nothing written)."""
        columns, values = _audit_begin_row(user=user, env=env, target=target, action=action, params=params,
                                           origin=origin)

        async def begin() -> int:
            if epoch is not None:
                await check_epoch(self._db, env, epoch)
            return await self._db.insert(columns + "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", values)

        if epoch is None:
            return await begin()
        if self._db.dialect == "postgresql":
            # one statement, one round trip: the row is inserted only while the lease is at `epoch`
            # (the lease row locked FOR SHARE: a takeover's UPDATE waits for this insert, one under
            # way is waited for and then seen; see leases.check_epoch)
            row_id = await self._db.insert(
                columns + "SELECT ?,?,?,?,?,?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM leases WHERE env = ? "
                "AND holder IS NOT NULL AND epoch = ? FOR SHARE)", (*values, env, epoch))
            if row_id:
                return row_id
            await check_epoch(self._db, env, epoch)   # raises Fenced, saying who holds it now
        return await self._db.atomic(begin)

    @_serialized
    async def audit_finish(self, audit_id: int, result: str, message: str = "") -> bool:
        """Complete a row this process began. A row already finished (by this process, or
        marked `interrupted` by another that found its owner gone) is not rewritten, and
        a row of another process is never touched; returns whether the row was updated."""
        return await finish_audit_row(self._db, audit_id, result, message)

    @_serialized
    async def audit_begin_many(self, rows: Sequence[AuditFields]) -> list[int]:
        """`audit_begin` (without an epoch) for many rows in ONE transaction: one commit for a
        fleet run's rows, all of them or none; returns their ids in order."""
        async with self._db.transaction():
            return [await insert_audit_row(self._db, user=f.user, env=f.env, target=f.target, action=f.action,
                                           params=f.params, origin=f.origin) for f in rows]

    @_serialized
    async def audit_finish_many(self, ends: Sequence[AuditEnd]) -> list[bool]:
        """`audit_finish` for many rows in ONE transaction (same rules per row)."""
        async with self._db.transaction():
            return [await finish_audit_row(self._db, e.id, e.result, e.message) for e in ends]

    @_serialized
    async def audit_record(self, *, user: str, env: str, target: str, action: str,
                           params: dict[str, Any] | None, origin: str, result: str, message: str = "") -> int:
        """A row that is complete at once (e.g. a denial)."""
        now = iso(now_utc())
        return await self._db.insert(
            'INSERT INTO audit (at, "user", env, target, action, params, origin, result, message, finished_at) '
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (now, user, env, target, action, json.dumps(redact_params(params), sort_keys=True),
             origin, str(result), redact_text(message), now))

    @_serialized
    async def audit_entries(self, env: str | None = None, limit: int = 100,
                            envs: list[str] | None = None,
                            message_max: int = audit_rows.MESSAGE_MAX,
                            params_max: int = audit_rows.PARAMS_MAX,
                            before_id: int | None = None,
                            where: AuditFilter | None = None) -> list[dict[str, Any]]:
        """Newest first (`before_id`: of the rows older than that id, so that a caller reads a
        long trail in batches); a hand-written row (a member's psql INSERT) never breaks the read:
        text cut by the database, unreadable params flagged (tui/core/audit_rows.py). `where`:
        only the rows of this user/action/target/time (tui/core/audit_filter.py), in the query."""
        sql = f"SELECT {audit_rows.select_columns(message_max, params_max)} FROM audit"
        conditions: list[str] = []
        args: list[Any] = []
        if env:
            conditions.append("env = ?")
            args.append(env)
        elif envs is not None:
            conditions.append(f"env IN ({','.join('?' * len(envs))})" if envs else "FALSE")
            args.extend(envs)
        if before_id is not None:
            conditions.append("id < ?")
            args.append(int(before_id))
        if where:
            more, more_args = where.conditions(self._db.dialect)
            conditions.extend(more)
            args.extend(more_args)
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(int(limit))
        rows = await self._db.fetchall(sql, args)
        return [audit_rows.decode_row(r, message_max, params_max) for r in rows]

    # -- timeline ------------------------------------------------------------
    @_serialized
    async def add_timeline(self, env: str, entries: list[TimelineEntry]) -> None:
        await self._add_timeline(env, entries)

    async def _add_timeline(self, env: str, entries: list[TimelineEntry]) -> None:
        if not entries:
            return
        await insert_timeline(self._db, env, entries)

    @_serialized
    async def timeline(self, env: str, limit: int = 500) -> list[dict[str, Any]]:
        rows = await self._db.fetchall(f"SELECT {audit_rows.timeline_columns()} FROM timeline WHERE env = ? "
                                       "ORDER BY id DESC LIMIT ?", (env, limit))
        return [dict(r) for r in rows]

    # -- snapshots -----------------------------------------------------------
    @_serialized
    async def sync_snapshot(self, env: str, backend: str, upserts: list[Resource], removed: Iterable[str],
                            *, full: bool = False) -> None:
        """Store changed resources; with full=True, drop every other row of (env, backend)."""
        async with self._db.transaction():
            await self._sync_snapshot(env, backend, upserts, removed, full)

    async def _sync_snapshot(self, env: str, backend: str, upserts: list[Resource], removed: Iterable[str],
                             full: bool) -> None:
        rows = [(env, backend, r.id, snapshot_json(r), iso(r.observed_at)) for r in upserts]
        if full:
            await self._db.execute("DELETE FROM snapshots WHERE env = ? AND backend = ?", (env, backend))
        else:
            removed = list(removed)
            if removed:
                await self._db.executemany("DELETE FROM snapshots WHERE env = ? AND resource_id = ?",
                                           [(env, rid) for rid in removed])
        if rows:
            await self._db.executemany(_UPSERT_SNAPSHOT, rows)

    @_serialized
    async def record_observation(self, env: str, backend: str, *, upserts: list[Resource], removed: Iterable[str],
                                 full: bool, state: BackendState, samples: list[tuple[str, str, float]],
                                 samples_at: datetime, drifts: list[DriftItem], at: datetime,
                                 entries: list[TimelineEntry]) -> None:
        """What one observation of one backend changed, in ONE transaction (one commit, not one
        per kind of row): `sync_snapshot`, `save_backend_state`, `add_samples`, `record_drifts`
        and `add_timeline` together. (The audit trail is not written here: its rows keep their
        own commit each.)"""
        async with self._db.transaction():
            await self._sync_snapshot(env, backend, upserts, removed, full)
            await self._save_backend_state(env, state)
            await self._add_samples(env, samples, samples_at)
            await self._record_drifts(env, backend, drifts, at)
            await self._add_timeline(env, entries)

    @_serialized
    async def load_snapshot(self, env: str) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = {}
        for row in await self._db.fetchall("SELECT backend, data FROM snapshots WHERE env = ?", (env,)):
            out.setdefault(row["backend"], []).append(Resource.from_json(json.loads(row["data"])))
        return out

    @_serialized
    async def save_backend_state(self, env: str, state: BackendState) -> None:
        await self._save_backend_state(env, state)

    async def _save_backend_state(self, env: str, state: BackendState) -> None:
        await self._db.execute(
            _UPSERT_BACKEND_STATE,
            (env, state.name, None if state.reachable is None else int(state.reachable), state.error,
             iso(state.observed_at), iso(state.last_pass), state.nodes_total, state.nodes_unreachable))

    @_serialized
    async def load_backend_states(self, env: str) -> dict[str, BackendState]:
        out = {}
        for r in await self._db.fetchall("SELECT * FROM backend_state WHERE env = ?", (env,)):
            out[r["backend"]] = BackendState(
                name=r["backend"], reachable=None if r["reachable"] is None else bool(r["reachable"]),
                error=r["error"], observed_at=parse_iso(r["observed_at"]), last_pass=parse_iso(r["last_pass"]),
                nodes_total=r["nodes_total"], nodes_unreachable=r["nodes_unreachable"])
        return out

    # -- metric samples ------------------------------------------------------
    @_serialized
    async def add_samples(self, env: str, samples: list[tuple[str, str, float]], at: datetime) -> None:
        await self._add_samples(env, samples, at)

    async def _add_samples(self, env: str, samples: list[tuple[str, str, float]], at: datetime) -> None:
        if not samples:
            return
        stamp = iso(at)
        await self._db.executemany(
            "INSERT INTO metric_samples (env, resource_id, name, at, value) VALUES (?,?,?,?,?)",
            [(env, rid, name, stamp, float(value)) for rid, name, value in samples])

    @_serialized
    async def samples(self, env: str, resource_id: str, name: str, since: datetime) -> list[tuple[datetime, float]]:
        rows = await self._db.fetchall(
            "SELECT at, value FROM metric_samples WHERE env = ? AND resource_id = ? AND name = ? AND at >= ? "
            "ORDER BY at", (env, resource_id, name, iso(since)))
        return [(parse_iso(r["at"]), r["value"]) for r in rows]

    # -- retention (tui/core/retention.py): small batches, each its own short transaction, so
    # that a UI read or a repair's audit row waits for one batch at most. With `epoch`, the
    # batch is deleted only while this process still holds `env`'s lease at that epoch (Fenced).
    def _row_handle(self) -> str:
        return "ctid" if self._db.dialect == "postgresql" else "rowid"

    async def _fenced_delete(self, env: str, epoch: int | None, sql: str, args: tuple[Any, ...]) -> int:
        async def delete() -> int:
            if epoch is not None:
                await check_epoch(self._db, env, epoch)
            return await self._db.execute(sql, args)

        return await self._db.atomic(delete)

    @_serialized
    async def prune_samples_batch(self, env: str, before: datetime, limit: int, *, epoch: int | None = None) -> int:
        """Delete up to `limit` metric samples of `env` taken before `before`; returns how many."""
        h = self._row_handle()
        return await self._fenced_delete(
            env, epoch, f"DELETE FROM metric_samples WHERE {h} IN (SELECT {h} FROM metric_samples "
            "WHERE at < ? AND env = ? LIMIT ?)", (iso(before), env, limit))

    @_serialized
    async def prune_samples_of(self, env: str, resource_ids: Sequence[str], before: datetime, *,
                               epoch: int | None = None) -> int:
        """Delete the metric samples of these resources of `env` (gone) taken before `before`."""
        if not resource_ids:
            return 0
        marks = ",".join("?" * len(resource_ids))
        return await self._fenced_delete(
            env, epoch, f"DELETE FROM metric_samples WHERE env = ? AND resource_id IN ({marks}) AND at < ?",
            (env, *resource_ids, iso(before)))

    @_serialized
    async def prune_timeline_batch(self, env: str, before: datetime, limit: int, *, epoch: int | None = None) -> int:
        """Delete up to `limit` timeline rows of `env` dated before `before` (the audit trail is never pruned)."""
        return await self._fenced_delete(
            env, epoch, "DELETE FROM timeline WHERE id IN (SELECT id FROM timeline WHERE env = ? AND at < ? "
            "ORDER BY at LIMIT ?)", (env, iso(before), limit))

    # -- drifts --------------------------------------------------------------
    @_serialized
    async def record_drifts(self, env: str, backend_prefix: str, drifts: list[DriftItem], at: datetime) -> list[DriftItem]:
        """Upsert the open drifts of one backend; resolve those that went away.
        Returns the drifts that are new since the last pass."""
        async with self._db.transaction():
            return await self._record_drifts(env, backend_prefix, drifts, at)

    async def _record_drifts(self, env: str, backend_prefix: str, drifts: list[DriftItem],
                             at: datetime) -> list[DriftItem]:
        stamp = iso(at)
        new: list[DriftItem] = []
        open_rows = {(r["resource_id"], r["field"]): r for r in await self._db.fetchall(
            "SELECT resource_id, field, desired, actual, first_seen FROM drifts "
            "WHERE env = ? AND resolved_at IS NULL AND resource_id LIKE ?", (env, backend_prefix + "/%"))}
        seen = set()
        for d in drifts:
            key = (d.resource, d.field)
            seen.add(key)
            desired, actual = json.dumps(d.desired, default=str), json.dumps(d.actual, default=str)
            row = open_rows.get(key)
            if row is None:
                new.append(d)
                await self._db.execute(_UPSERT_DRIFT, (env, d.resource, d.field, desired, actual, stamp, stamp))
            else:
                await self._db.execute(
                    "UPDATE drifts SET desired = ?, actual = ?, last_seen = ? WHERE env = ? AND resource_id = ? "
                    "AND field = ? AND first_seen = ?", (desired, actual, stamp, env, d.resource, d.field,
                                                         row["first_seen"]))
        for key, row in open_rows.items():
            if key not in seen:
                await self._db.execute(
                    "UPDATE drifts SET resolved_at = ? WHERE env = ? AND resource_id = ? AND field = ? "
                    "AND first_seen = ?", (stamp, env, key[0], key[1], row["first_seen"]))
        return new

    @_serialized
    async def open_drifts(self, env: str) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._db.fetchall(
            "SELECT * FROM drifts WHERE env = ? AND resolved_at IS NULL ORDER BY resource_id, field", (env,))]

    # -- settings ------------------------------------------------------------
    @_serialized
    async def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = await self._db.fetchone("SELECT value FROM settings WHERE key = ?", (key,))
        return row["value"] if row else default

    @_serialized
    async def set_setting(self, key: str, value: str) -> None:
        await self._db.execute(upsert_sql("settings", ("key", "value"), ("key",)), (key, value))

    # -- desired-state overlays and repair holds ------------------------------
    @_serialized
    async def set_overlay(self, env: str, resource_id: str, field: str, value: Any, *, user: str,
                          reason: str = "", at: datetime | None = None) -> None:
        """Keep `value` as the desired `field` of `resource_id` instead of the config's."""
        await self._db.execute(
            _UPSERT_OVERLAY,
            (env, resource_id, field, json.dumps(value, sort_keys=True, default=str), user,
             iso(at or now_utc()), reason))

    @_serialized
    async def remove_overlay(self, env: str, resource_id: str, field: str | None = None) -> int:
        """Drop the overlay of one field (or of every field of the resource); returns how many."""
        sql, args = "DELETE FROM desired_overlay WHERE env = ? AND resource_id = ?", [env, resource_id]
        if field is not None:
            sql += " AND field = ?"
            args.append(field)
        return await self._db.execute(sql, args)

    @_serialized
    async def overlays(self, env: str) -> list[dict[str, Any]]:
        rows = await self._db.fetchall(
            "SELECT * FROM desired_overlay WHERE env = ? ORDER BY resource_id, field", (env,))
        return [{"resource": r["resource_id"], "field": r["field"], "value": json.loads(r["value"]),
                 "user": r["user"], "at": r["at"], "reason": r["reason"]} for r in rows]

    @_serialized
    async def set_hold(self, env: str, resource_id: str, until: datetime, *, user: str, reason: str = "",
                       at: datetime | None = None) -> None:
        """Pause automatic repair of `resource_id` until `until`."""
        await self._db.execute(_UPSERT_HOLD, (env, resource_id, iso(until), user, iso(at or now_utc()), reason))

    @_serialized
    async def remove_hold(self, env: str, resource_id: str) -> int:
        return await self._db.execute("DELETE FROM repair_holds WHERE env = ? AND resource_id = ?",
                                      (env, resource_id))

    @_serialized
    async def holds(self, env: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """The repair holds of `env` that have not expired at `now`."""
        rows = await self._db.fetchall(
            "SELECT * FROM repair_holds WHERE env = ? AND until > ? ORDER BY resource_id",
            (env, iso(now or now_utc())))
        return [{"resource": r["resource_id"], "until": parse_iso(r["until"]), "user": r["user"], "at": r["at"],
                 "reason": r["reason"]} for r in rows]

    @_serialized
    async def set_pause(self, env: str, *, user: str, reason: str = "",
                        at: datetime | None = None) -> RepairPause | None:
        """Pause the automatic repairs of all of `env` for every process, until `remove_pause`,
        unless they are paused already: then the pause found is returned and left as it is (its
        user, time and reason are never overwritten). One atomic unit: of two processes pausing
        at once, the second gets the first's pause. None when this pause was written."""
        row = (env, user, iso(at or now_utc()), redact_text(cap_text(reason, NAME_MAX)))

        async def insert_if_absent() -> RepairPause | None:
            if await self._db.execute(_INSERT_PAUSE, row):
                return None
            return await self._read_pause(env)

        return await self._db.atomic(insert_if_absent)

    @_serialized
    async def remove_pause(self, env: str) -> RepairPause | None:
        """Resume: the pause removed (who paused, when, why), None when there was none. One atomic
        unit: of two processes resuming at once, one ends the pause and the other finds none."""

        async def delete() -> RepairPause | None:
            found = await self._read_pause(env)
            if found is not None:
                await self._db.execute("DELETE FROM repair_pauses WHERE env = ?", (env,))
            return found

        return await self._db.atomic(delete)

    @_serialized
    async def pause(self, env: str) -> RepairPause | None:
        """Who paused the automatic repairs of `env`, when and why; None when they are not paused."""
        return await self._read_pause(env)

    async def _read_pause(self, env: str) -> RepairPause | None:
        row = await self._db.fetchone('SELECT "user", at, reason FROM repair_pauses WHERE env = ?', (env,))
        return None if row is None else RepairPause(str(row["user"]), str(row["at"]), str(row["reason"] or ""))


    # -- leadership (tui/core/leases.py) ----------------------------------------
    @_serialized
    async def acquire_lease(self, env: str, holder: str, ttl_s: float, *,
                            now: datetime | None = None) -> Lease | None:
        """Take (or extend) the lease of `env` for `holder` when it is free, expired or already
        theirs; the epoch grows by one when the holder changes. None when another live holder
        keeps it. One atomic unit across processes and engines."""
        at = now or now_utc()

        async def acquire() -> Lease | None:
            row = await self._db.fetchone("SELECT * FROM leases WHERE env = ?", (env,))
            current = _lease(row) if row is not None else None
            if (current is not None and current.holder not in (None, holder) and current.live(at)
                    and not holder_gone(current.holder)):  # a dead process of this host holds it no longer
                return None
            expires = iso(at + timedelta(seconds=ttl_s))
            if current is None:
                await self._db.execute(
                    "INSERT INTO leases (env, holder, epoch, expires_at, renewed_at, acquired_at) "
                    "VALUES (?,?,?,?,?,?)", (env, holder, 1, expires, iso(at), iso(at)))
                epoch, acquired = 1, at
            elif current.holder == holder:
                await self._db.execute("UPDATE leases SET expires_at = ?, renewed_at = ? WHERE env = ?",
                                       (expires, iso(at), env))
                epoch, acquired = current.epoch, current.acquired_at or at
            else:
                epoch, acquired = current.epoch + 1, at
                await self._db.execute(
                    "UPDATE leases SET holder = ?, epoch = ?, expires_at = ?, renewed_at = ?, acquired_at = ? "
                    "WHERE env = ?", (holder, epoch, expires, iso(at), iso(at), env))
            return Lease(env, holder, epoch, parse_iso(expires), at, acquired)

        return await self._db.atomic(acquire)

    @_serialized
    async def renew_lease(self, lease: Lease, ttl_s: float, *, now: datetime | None = None) -> bool:
        """Extend `lease` while it is still its holder's at its epoch (one UPDATE)."""
        at = now or now_utc()
        return bool(await self._db.execute(
            "UPDATE leases SET expires_at = ?, renewed_at = ? WHERE env = ? AND holder = ? AND epoch = ?",
            (iso(at + timedelta(seconds=ttl_s)), iso(at), lease.env, lease.holder, lease.epoch)))

    @_serialized
    async def release_lease(self, lease: Lease) -> bool:
        """Give the lease up (the epoch stays: the next holder takes the next one)."""
        return bool(await self._db.execute(
            "UPDATE leases SET holder = NULL, expires_at = NULL WHERE env = ? AND holder = ? AND epoch = ?",
            (lease.env, lease.holder, lease.epoch)))

    @_serialized
    async def lease(self, env: str) -> Lease | None:
        """The lease row of `env` (its holder None when released), None when never taken."""
        row = await self._db.fetchone("SELECT * FROM leases WHERE env = ?", (env,))
        return _lease(row) if row is not None else None


def _lease(row: Any) -> Lease:
    return Lease(env=row["env"], holder=row["holder"], epoch=int(row["epoch"]),
                 expires_at=parse_iso(row["expires_at"]), renewed_at=parse_iso(row["renewed_at"]),
                 acquired_at=parse_iso(row["acquired_at"]))


_UPSERT_SNAPSHOT = upsert_sql("snapshots", ("env", "backend", "resource_id", "data", "observed_at"),
                              ("env", "resource_id"))
_UPSERT_BACKEND_STATE = upsert_sql(
    "backend_state", ("env", "backend", "reachable", "error", "observed_at", "last_pass", "nodes_total",
                      "nodes_unreachable"), ("env", "backend"))
_UPSERT_DRIFT = upsert_sql("drifts", ("env", "resource_id", "field", "desired", "actual", "first_seen",
                                      "last_seen"), ("env", "resource_id", "field", "first_seen"))
_UPSERT_OVERLAY = upsert_sql("desired_overlay", ("env", "resource_id", "field", "value", "user", "at", "reason"),
                             ("env", "resource_id", "field"))
_INSERT_PAUSE = ('INSERT INTO repair_pauses (env, "user", at, reason) VALUES (?,?,?,?) '
                 "ON CONFLICT (env) DO NOTHING")  # insert-if-absent: a pause is never overwritten
_UPSERT_HOLD = upsert_sql("repair_holds", ("env", "resource_id", "until", "user", "at", "reason"),
                          ("env", "resource_id"))
