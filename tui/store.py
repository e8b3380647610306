"""The SQLite store (aiosqlite): audit trail, timeline, snapshots, metric samples, drifts.

- Schema versioned with `PRAGMA user_version` and forward-only migrations.
- WAL mode, `synchronous=FULL`: a committed audit row survives a crash of the
  process or the machine; `busy_timeout` lets the CLI and a running TUI share it.
- An audit row is committed *before* an action starts (`pending`) and completed
  after; rows still `pending` when a store is opened with `recover=True` become
  `interrupted`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from tui.errors import StateError
from tui.model import AuditResult, BackendState, DriftItem, Resource, iso, now_utc, parse_iso

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
]

_SECRET_KEY = re.compile(r"(secret|password|passwd|token|credential|private|passphrase|api[_-]?key|auth)",
                         re.IGNORECASE)
REDACTED = "***"


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


def redact_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters as stored in the audit trail: values of secret-looking keys removed."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if _SECRET_KEY.search(str(key)):
            out[str(key)] = REDACTED
        elif isinstance(value, dict):
            out[str(key)] = redact_params(value)
        else:
            out[str(key)] = value
    return out


def _serialized(method):
    """One transaction at a time on the shared connection: without it, two passes
    running concurrently interleave their statements and one's commit would commit
    half of the other's transaction (seen as SQLITE_MISUSE under load)."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        async with self._lock:
            return await method(self, *args, **kwargs)

    return wrapper


class Store:
    def __init__(self, db: aiosqlite.Connection, path: Path):
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    # -- opening -------------------------------------------------------------
    @classmethod
    async def open(cls, state_dir: Path | str, *, recover: bool = True) -> Store:
        state = Path(state_dir).expanduser()
        if state.exists() and not state.is_dir():
            raise StateError(f"{state}: the state directory is a file, not a directory (use --state-dir)")
        try:
            state.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"{state}: cannot create the state directory: {exc.strerror or exc}") from None
        if not os.access(state, os.W_OK | os.X_OK):
            raise StateError(f"{state}: the state directory is not writable (use --state-dir)")
        path = state / DB_NAME
        try:
            db = await aiosqlite.connect(path, timeout=10.0)
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"{path}: cannot open the store: {exc}") from None
        store = cls(db, path)
        try:
            await store._prepare()
            if recover:
                await store.mark_interrupted()
        except sqlite3.DatabaseError as exc:
            await db.close()
            raise StateError(f"{path}: the store cannot be used: {exc}") from None
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
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass

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
        cur = await self._db.execute(
            "UPDATE audit SET result = ?, finished_at = ?, message = CASE WHEN message = '' THEN "
            "'envdeck stopped before the action completed' ELSE message END WHERE result = ?",
            (AuditResult.INTERRUPTED, iso(now_utc()), AuditResult.PENDING))
        await self._db.commit()
        return cur.rowcount

    @_serialized
    async def audit_begin(self, *, user: str, env: str, target: str, action: str,
                          params: dict[str, Any] | None, origin: str) -> int:
        """Commit a `pending` row before the action starts; returns its id."""
        return await self._write(
            "INSERT INTO audit (at, user, env, target, action, params, origin, result) VALUES (?,?,?,?,?,?,?,?)",
            (iso(now_utc()), user, env, target, action, json.dumps(redact_params(params), sort_keys=True),
             origin, AuditResult.PENDING))

    @_serialized
    async def audit_finish(self, audit_id: int, result: str, message: str = "") -> None:
        await self._write("UPDATE audit SET result = ?, message = ?, finished_at = ? WHERE id = ?",
                          (str(result), message, iso(now_utc()), audit_id))

    @_serialized
    async def audit_record(self, *, user: str, env: str, target: str, action: str,
                           params: dict[str, Any] | None, origin: str, result: str, message: str = "") -> int:
        """A row that is complete at once (e.g. a denial)."""
        now = iso(now_utc())
        return await self._write(
            "INSERT INTO audit (at, user, env, target, action, params, origin, result, message, finished_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (now, user, env, target, action, json.dumps(redact_params(params), sort_keys=True), origin,
             str(result), message, now))

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
             "action": r["action"], "params": json.loads(r["params"] or "{}"), "origin": r["origin"],
             "result": r["result"], "message": r["message"], "finished_at": r["finished_at"]}
            for r in rows
        ]

    # -- timeline ------------------------------------------------------------
    @_serialized
    async def add_timeline(self, env: str, entries: list[tuple[datetime, str, str, str, str, str, int]]) -> None:
        """entries: (at, resource, kind, severity, reason, message, count)."""
        if not entries:
            return
        try:
            await self._db.executemany(
                "INSERT INTO timeline (at, env, resource, kind, severity, reason, message, count) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [(iso(at), env, res, kind, sev, reason, msg, count)
                 for at, res, kind, sev, reason, msg, count in entries])
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
