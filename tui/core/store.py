"""The SQLite store (aiosqlite): audit trail, timeline, snapshots, metric samples, drifts.

- Schema versioned with `PRAGMA user_version` and forward-only migrations.
- WAL mode, `synchronous=FULL`: a committed audit row survives a crash of the
  process or the machine; `busy_timeout` lets the CLI and a running TUI share it.
- An audit row is committed *before* an action starts (`pending`) and completed
  after by the process that began it (its owner: host, pid namespace, pid, start time — see
  tui/core/owner.py). Opening a store with `recover=True` marks `interrupted` only the
  `pending` rows whose owner is gone; a finished row is never rewritten.
- Parameters and messages pass `tui.core.redaction` before they are written (and again
  when read, for rows older than the rules).
- A corrupt file found mid-query is a StateError saying how to recover, never a
  traceback; the connection's thread never keeps the process alive.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import shlex
import sqlite3
import stat
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from tui.core.errors import StateError
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
from tui.core.paths import check_state_file, ensure_state_dir
from tui.core.redaction import REDACTED, redact_params, redact_text

__all__ = ["DB_NAME", "MIGRATIONS", "REDACTED", "Store", "redact_params", "snapshot_json"]

DB_NAME = "envdeck.db"

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
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
        user TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (env, resource_id, field)
    );
    CREATE TABLE repair_holds (
        env TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        until TEXT NOT NULL,
        user TEXT NOT NULL,
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
]



_SNAPSHOT_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def snapshot_json(resource: Resource) -> str:
    """A resource as stored in `snapshots.data`: what `json.dumps(r.to_json(), default=str)`
    gives, through orjson (10k resources: ~80 ms of json.dumps on the event loop → ~3 ms).
    Falls back to json for what orjson refuses (integers beyond 64 bits)."""
    data = resource.to_json()
    try:
        return orjson.dumps(data, default=str, option=_SNAPSHOT_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, default=str)


_SIDE_FILES = ("", "-wal", "-shm")


def _claim(path: Path) -> None:
    """Create a store file 0600 without following a symlink (SQLite would create it with
    the umask's mode, follow a planted link, and write its WAL index into a -shm another
    user planted in a shared directory), or check the existing one on its open descriptor:
    a regular file of the user with a single link. Only then is it chmodded 0600."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        check_state_file(path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:  # SQLite of another envdeck of the user removed it: claim it anew
            return _claim(path)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_nlink != 1:
            raise StateError(f"{path}: is not a regular file of yours with a single link (remove it)")
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _serialized(method):
    """One transaction at a time on the shared connection: without it, two passes
    running concurrently interleave their statements and one's commit would commit
    half of the other's transaction (seen as SQLITE_MISUSE under load)."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        async with self._lock:
            try:
                return await method(self, *args, **kwargs)
            except sqlite3.DatabaseError as exc:
                raise store_error(self.path, exc) from None

    return wrapper


def store_error(path: Path, exc: sqlite3.DatabaseError) -> StateError:
    """One clear line for an SQLite error; a corrupt file says how to recover."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and not _CORRUPT.search(text):
        return StateError(f"{path}: cannot use the store: {text}")
    return StateError(corrupt_message(path, text))


def corrupt_message(path: Path, detail: str) -> str:
    """What a corrupt store means and how to recover (the CLI's error and `doctor`)."""
    return (f"{path}: the store is corrupt ({detail}); move it aside to start a new one: "
            f"mv {shlex.quote(str(path))} {shlex.quote(str(path) + '.corrupt')} (and its -wal/-shm files); "
            "the audit trail, timeline, drifts and snapshots in it are then no longer shown "
            "(the resources are observed again)")


_CORRUPT = re.compile(r"malformed|not a database|corrupt|file is encrypted", re.IGNORECASE)


class Store:
    def __init__(self, db: aiosqlite.Connection, path: Path):
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    # -- opening -------------------------------------------------------------
    @classmethod
    async def open(cls, state_dir: Path | str, *, recover: bool = True) -> Store:
        state = ensure_state_dir(state_dir)
        path = state / DB_NAME
        try:
            claimed = [Path(f"{path}{suffix}") for suffix in _SIDE_FILES]
            for side in claimed:
                _claim(side)
            connecting = aiosqlite.connect(path, timeout=10.0)
            worker = getattr(connecting, "_thread", None)
            if worker is not None:  # a store left open (an error path) must not keep the process alive
                worker.daemon = True
            db = await connecting
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"{path}: cannot open the store: {getattr(exc, 'strerror', None) or exc}") from None
        store = cls(db, path)
        try:
            await store._prepare()
            # still regular files of the user with one link; a -wal/-shm recreated by this SQLite
            # (another envdeck of the user closed the store in between) is accepted as such
            for side in claimed:
                check_state_file(side)
            if recover:
                await store.mark_interrupted()
        except (sqlite3.DatabaseError, StateError) as exc:
            await db.close()
            if isinstance(exc, StateError):
                raise
            raise store_error(path, exc) from None
        except BaseException:
            await db.close()
            raise
        return store

    async def _prepare(self) -> None:
        db = self._db
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA busy_timeout = 10000")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute("PRAGMA foreign_keys = ON")
        await self.migrate()

    @_serialized
    async def migrate(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            version = (await cur.fetchone())[0]
        if version > len(MIGRATIONS):
            raise StateError(f"{self.path}: made by a newer envdeck (schema {version}); upgrade envdeck")
        for number in range(version, len(MIGRATIONS)):
            await self._db.executescript(
                "BEGIN IMMEDIATE;\n" + MIGRATIONS[number] + f"\nPRAGMA user_version = {number + 1};\nCOMMIT;")
        return len(MIGRATIONS)

    @_serialized
    async def close(self) -> None:
        await self._db.close()

    @_serialized
    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            return (await cur.fetchone())[0]

    @_serialized
    async def journal_mode(self) -> str:
        async with self._db.execute("PRAGMA journal_mode") as cur:
            return (await cur.fetchone())[0]

    @_serialized
    async def integrity_check(self) -> str:
        async with self._db.execute("PRAGMA integrity_check") as cur:
            return (await cur.fetchone())[0]

    async def _write(self, sql: str, args: Iterable[Any] = ()) -> int:
        try:
            cur = await self._db.execute(sql, tuple(args))
            await self._db.commit()
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: cannot write: {exc}") from None
        return cur.lastrowid or 0

    # -- audit ---------------------------------------------------------------
    @_serialized
    async def mark_interrupted(self) -> int:
        """Mark `interrupted` the pending rows whose owning process is gone; rows of a
        process that still runs (a long restart, an open shell) stay pending."""
        async with self._db.execute(
                "SELECT id, owner_host, owner_pid, owner_start, owner_pidns FROM audit WHERE result = ?",
                (AuditResult.PENDING,)) as cur:
            rows = await cur.fetchall()
        gone = [(r["id"],) for r in rows
                if owner_gone(r["owner_host"], r["owner_pid"], r["owner_start"], r["owner_pidns"])]
        if not gone:
            return 0
        try:
            stamp = iso(now_utc())
            await self._db.executemany(
                "UPDATE audit SET result = ?, finished_at = ?, message = CASE WHEN message = '' THEN "
                "'envdeck stopped before the action completed' ELSE message END WHERE id = ? AND result = ?",
                [(AuditResult.INTERRUPTED, stamp, row_id, AuditResult.PENDING) for (row_id,) in gone])
            await self._db.commit()
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: cannot write: {exc}") from None
        return len(gone)

    @_serialized
    async def audit_begin(self, *, user: str, env: str, target: str, action: str,
                          params: dict[str, Any] | None, origin: str) -> int:
        """Commit a `pending` row before the action starts; returns its id."""
        owner = this_process()
        return await self._write(
            "INSERT INTO audit (at, user, env, target, action, params, origin, result, owner_host, owner_pid, "
            "owner_start, owner_pidns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (iso(now_utc()), user, env, target, action,
             json.dumps(redact_params(params), sort_keys=True), origin, AuditResult.PENDING,
             owner.host, owner.pid, owner.start, owner.pidns))

    @_serialized
    async def audit_finish(self, audit_id: int, result: str, message: str = "") -> bool:
        """Complete a row this process began. A row already finished (by this process, or
        marked `interrupted` by another that found its owner gone) is not rewritten, and
        a row of another process is never touched; returns whether the row was updated."""
        owner = this_process()
        try:
            cur = await self._db.execute(
                "UPDATE audit SET result = ?, message = ?, finished_at = ? WHERE id = ? AND result = ? "
                "AND owner_host = ? AND owner_pid = ? AND owner_start = ? AND owner_pidns = ?",
                (str(result), redact_text(message), iso(now_utc()), audit_id, AuditResult.PENDING,
                 owner.host, owner.pid, owner.start, owner.pidns))
            await self._db.commit()
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: cannot write: {exc}") from None
        return cur.rowcount == 1

    @_serialized
    async def audit_record(self, *, user: str, env: str, target: str, action: str,
                           params: dict[str, Any] | None, origin: str, result: str, message: str = "") -> int:
        """A row that is complete at once (e.g. a denial)."""
        now = iso(now_utc())
        return await self._write(
            "INSERT INTO audit (at, user, env, target, action, params, origin, result, message, finished_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (now, user, env, target, action, json.dumps(redact_params(params), sort_keys=True),
             origin, str(result), redact_text(message), now))

    @_serialized
    async def audit_entries(self, env: str | None = None, limit: int = 100,
                            envs: list[str] | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM audit"
        args: list[Any] = []
        if env:
            sql += " WHERE env = ?"
            args.append(env)
        elif envs is not None:
            sql += f" WHERE env IN ({','.join('?' * len(envs))})" if envs else " WHERE 0"
            args.extend(envs)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(int(limit))
        async with self._db.execute(sql, args) as cur:
            rows = await cur.fetchall()
        return [
            {"id": r["id"], "at": r["at"], "user": r["user"], "env": r["env"], "target": r["target"],
             "action": r["action"], "params": redact_params(json.loads(r["params"] or "{}")),
             "origin": r["origin"], "result": r["result"], "message": redact_text(r["message"]),
             "finished_at": r["finished_at"]}
            for r in rows
        ]

    # -- timeline ------------------------------------------------------------
    @_serialized
    async def add_timeline(self, env: str, entries: list[TimelineEntry]) -> None:
        if not entries:
            return
        try:
            await self._db.executemany(
                "INSERT INTO timeline (at, env, resource, kind, severity, reason, message, count) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [(iso(e.at), env, e.resource, e.kind, e.severity, redact_text(e.reason), redact_text(e.message),
                  e.count) for e in map(TimelineEntry._make, entries)])
            await self._db.commit()
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: cannot write: {exc}") from None

    @_serialized
    async def timeline(self, env: str, limit: int = 500) -> list[dict[str, Any]]:
        async with self._db.execute(
                "SELECT * FROM timeline WHERE env = ? ORDER BY id DESC LIMIT ?", (env, limit)) as cur:
            rows = await cur.fetchall()
        return [dict(r) for r in rows]

    # -- snapshots -----------------------------------------------------------
    @_serialized
    async def sync_snapshot(self, env: str, backend: str, upserts: list[Resource], removed: Iterable[str],
                            *, full: bool = False) -> None:
        """Store changed resources; with full=True, drop every other row of (env, backend)."""
        rows = [(env, backend, r.id, snapshot_json(r), iso(r.observed_at)) for r in upserts]
        try:
            if full:
                await self._db.execute("DELETE FROM snapshots WHERE env = ? AND backend = ?", (env, backend))
            else:
                removed = list(removed)
                if removed:
                    await self._db.executemany("DELETE FROM snapshots WHERE env = ? AND resource_id = ?",
                                               [(env, rid) for rid in removed])
            await self._db.executemany(
                "INSERT OR REPLACE INTO snapshots (env, backend, resource_id, data, observed_at) VALUES (?,?,?,?,?)",
                rows)
            await self._db.commit()
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: cannot write: {exc}") from None

    @_serialized
    async def load_snapshot(self, env: str) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = {}
        async with self._db.execute("SELECT backend, data FROM snapshots WHERE env = ?", (env,)) as cur:
            async for row in cur:
                out.setdefault(row["backend"], []).append(Resource.from_json(json.loads(row["data"])))
        return out

    @_serialized
    async def save_backend_state(self, env: str, state: BackendState) -> None:
        await self._write(
            "INSERT OR REPLACE INTO backend_state (env, backend, reachable, error, observed_at, last_pass) "
            "VALUES (?,?,?,?,?,?)",
            (env, state.name, None if state.reachable is None else int(state.reachable), state.error,
             iso(state.observed_at), iso(state.last_pass)))

    @_serialized
    async def load_backend_states(self, env: str) -> dict[str, BackendState]:
        out = {}
        async with self._db.execute("SELECT * FROM backend_state WHERE env = ?", (env,)) as cur:
            async for r in cur:
                out[r["backend"]] = BackendState(
                    name=r["backend"], reachable=None if r["reachable"] is None else bool(r["reachable"]),
                    error=r["error"], observed_at=parse_iso(r["observed_at"]), last_pass=parse_iso(r["last_pass"]))
        return out

    # -- metric samples ------------------------------------------------------
    @_serialized
    async def add_samples(self, env: str, samples: list[tuple[str, str, float]], at: datetime) -> None:
        if not samples:
            return
        stamp = iso(at)
        await self._db.executemany(
            "INSERT INTO metric_samples (env, resource_id, name, at, value) VALUES (?,?,?,?,?)",
            [(env, rid, name, stamp, float(value)) for rid, name, value in samples])
        await self._db.commit()

    @_serialized
    async def samples(self, env: str, resource_id: str, name: str, since: datetime) -> list[tuple[datetime, float]]:
        async with self._db.execute(
                "SELECT at, value FROM metric_samples WHERE env = ? AND resource_id = ? AND name = ? AND at >= ? "
                "ORDER BY at", (env, resource_id, name, iso(since))) as cur:
            return [(parse_iso(r["at"]), r["value"]) async for r in cur]

    @_serialized
    async def prune_samples(self, retention: timedelta) -> int:
        cur = await self._db.execute("DELETE FROM metric_samples WHERE at < ?", (iso(now_utc() - retention),))
        await self._db.commit()
        return cur.rowcount

    # -- drifts --------------------------------------------------------------
    @_serialized
    async def record_drifts(self, env: str, backend_prefix: str, drifts: list[DriftItem], at: datetime) -> list[DriftItem]:
        """Upsert the open drifts of one backend; resolve those that went away.
        Returns the drifts that are new since the last pass."""
        stamp = iso(at)
        async with self._db.execute(
                "SELECT resource_id, field, desired, actual, first_seen FROM drifts "
                "WHERE env = ? AND resolved_at IS NULL AND resource_id LIKE ?", (env, backend_prefix + "/%")) as cur:
            open_rows = {(r["resource_id"], r["field"]): r for r in await cur.fetchall()}
        new: list[DriftItem] = []
        seen = set()
        for d in drifts:
            key = (d.resource, d.field)
            seen.add(key)
            desired, actual = json.dumps(d.desired, default=str), json.dumps(d.actual, default=str)
            row = open_rows.get(key)
            if row is None:
                new.append(d)
                await self._db.execute(
                    "INSERT OR REPLACE INTO drifts (env, resource_id, field, desired, actual, first_seen, last_seen) "
                    "VALUES (?,?,?,?,?,?,?)", (env, d.resource, d.field, desired, actual, stamp, stamp))
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
        await self._db.commit()
        return new

    @_serialized
    async def open_drifts(self, env: str) -> list[dict[str, Any]]:
        async with self._db.execute(
                "SELECT * FROM drifts WHERE env = ? AND resolved_at IS NULL ORDER BY resource_id, field",
                (env,)) as cur:
            return [dict(r) for r in await cur.fetchall()]

    # -- settings ------------------------------------------------------------
    @_serialized
    async def get_setting(self, key: str, default: str | None = None) -> str | None:
        async with self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return row["value"] if row else default

    @_serialized
    async def set_setting(self, key: str, value: str) -> None:
        await self._write("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    # -- desired-state overlays and repair holds ------------------------------
    @_serialized
    async def set_overlay(self, env: str, resource_id: str, field: str, value: Any, *, user: str,
                          reason: str = "", at: datetime | None = None) -> None:
        """Keep `value` as the desired `field` of `resource_id` instead of the config's."""
        await self._write(
            "INSERT OR REPLACE INTO desired_overlay (env, resource_id, field, value, user, at, reason) "
            "VALUES (?,?,?,?,?,?,?)",
            (env, resource_id, field, json.dumps(value, sort_keys=True, default=str), user,
             iso(at or now_utc()), reason))

    @_serialized
    async def remove_overlay(self, env: str, resource_id: str, field: str | None = None) -> int:
        """Drop the overlay of one field (or of every field of the resource); returns how many."""
        sql, args = "DELETE FROM desired_overlay WHERE env = ? AND resource_id = ?", [env, resource_id]
        if field is not None:
            sql += " AND field = ?"
            args.append(field)
        try:
            cur = await self._db.execute(sql, args)
            await self._db.commit()
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: cannot write: {exc}") from None
        return cur.rowcount

    @_serialized
    async def overlays(self, env: str) -> list[dict[str, Any]]:
        async with self._db.execute(
                "SELECT * FROM desired_overlay WHERE env = ? ORDER BY resource_id, field", (env,)) as cur:
            rows = await cur.fetchall()
        return [{"resource": r["resource_id"], "field": r["field"], "value": json.loads(r["value"]),
                 "user": r["user"], "at": r["at"], "reason": r["reason"]} for r in rows]

    @_serialized
    async def set_hold(self, env: str, resource_id: str, until: datetime, *, user: str, reason: str = "",
                       at: datetime | None = None) -> None:
        """Pause automatic repair of `resource_id` until `until`."""
        await self._write(
            "INSERT OR REPLACE INTO repair_holds (env, resource_id, until, user, at, reason) VALUES (?,?,?,?,?,?)",
            (env, resource_id, iso(until), user, iso(at or now_utc()), reason))

    @_serialized
    async def remove_hold(self, env: str, resource_id: str) -> int:
        try:
            cur = await self._db.execute("DELETE FROM repair_holds WHERE env = ? AND resource_id = ?",
                                         (env, resource_id))
            await self._db.commit()
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: cannot write: {exc}") from None
        return cur.rowcount

    @_serialized
    async def holds(self, env: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """The repair holds of `env` that have not expired at `now`."""
        async with self._db.execute(
                "SELECT * FROM repair_holds WHERE env = ? AND until > ? ORDER BY resource_id",
                (env, iso(now or now_utc()))) as cur:
            rows = await cur.fetchall()
        return [{"resource": r["resource_id"], "until": parse_iso(r["until"]), "user": r["user"], "at": r["at"],
                 "reason": r["reason"]} for r in rows]
