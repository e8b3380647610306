"""The PostgreSQL connection of a `Store` (a store shared by a team; tui/core/store_db.py is the
interface), through psycopg 3 (libpq; docs/architecture.md says why).

- The URL names the server, user and database and never a password (`state.url` refuses
  one): libpq finds it itself in PGPASSWORD, ~/.pgpass or PGPASSFILE, or a service file
  (PGSERVICE / `?service=`); sslmode, sslrootcert etc. are libpq's parameters of the URL.
  Messages name the URL (it has no password) and never the password: an error text of the
  driver has a PGPASSWORD value replaced before it is shown.
- One autocommit connection: a statement outside `transaction()`/`atomic()` is committed at
  once. `atomic(fn)` runs `fn` in a SERIALIZABLE transaction and runs it again on a
  serialization failure (another envdeck's transaction interleaved), so a read-then-write
  check (`request`, `claim_nodes`) holds as it does under SQLite's BEGIN IMMEDIATE.
- The schema: the SQLite MIGRATIONS translated (`pg_migration`), the version in the
  one-row table `schema_version`. Migrating takes an advisory lock (held by the session until
  the migration's transaction ends), so two envdecks starting at once migrate once; each migration and its version bump commit
  together (PostgreSQL's DDL is transactional). A newer schema is refused. A current schema is
  never touched and its version is read without the lock (a member role, which may not alter
  it, opens it as it is; no command waits for the lock then); an older one that this role may
  not migrate is a StateError saying an owner must run this envdeck once.
- Any role may take an advisory lock, so the migration lock is waited for with a bound
  (`pg_try_advisory_lock` in a loop; 30 s, `$ENVDECK_MIGRATION_WAIT` seconds): after a moment
  the wait is said naming the session that holds it (to the caller's `on_wait`, the TUI's screen;
  else on stderr) (pg_locks joined to
  pg_stat_activity: pid, role, application, client address, since when — what the connecting
  role may see), and past the bound it is a StateError naming it (exit 1), never a silent hang.
  Each migration statement waits for a table's lock only MIGRATION_LOCK_TIMEOUT_S (a member's
  open transaction or LOCK TABLE): the transaction is rolled back (the sessions queued behind
  its ALTER go on) and tried again within the same bound, the wait said once naming who holds
  which table.
- Team mode (docs/security.md, docs/deploy/postgres-roles.sql): the owner role migrates and
  leads; a member role reads and writes audit rows only. The server refusing a statement
  (`permission denied`) is a `StoreRefused` ("the store refuses this role …"), never a
  traceback; `audit.db_user` is set by a trigger to `session_user` (PG_AFTER_MIGRATION), so a
  member's row names the role that wrote it whatever its `user` claims.
- A connection found broken (the server restarted, a network cut) is opened again before the
  next statement, with a backoff (`_Reconnect`): a few quick tries within about 1.5 s (a
  restart of the server is over by then), then calls fail at once with a StateError naming the
  next attempt's time, each failed attempt doubling the pause up to 10 s; so a process whose
  server is gone neither hangs nor hammers it, and its leases lapse on their own clock (the
  leader stops repairing and says why: "cannot renew the lease: …"). A read (SELECT) that met
  the break is run again once on the new connection; a write that met it is a StateError and
  was not acknowledged (the caller never got its id), so no acknowledged row is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql_text
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from tui.core.errors import StateError, StoreRefused
from tui.core.sanitize import clean
from tui.core.store_db import Row

__all__ = ["MIGRATION_WAIT_ENV", "PgDb", "PgListener", "migration_wait_s", "open_pg", "pg_migration", "pg_sql"]

T = TypeVar("T")

_MIGRATION_LOCK = 0x656E766465636B  # "envdeck": pg_advisory_lock key of the migrations
MIGRATION_WAIT_ENV = "ENVDECK_MIGRATION_WAIT"
MIGRATION_WAIT_S = 30.0  # how long an envdeck that must migrate waits for another session's lock
_WAIT_NOTICE_S = 1.5     # the wait is said after this long (or half the bound, if shorter)
_WAIT_POLL_S = 0.2
#: how long one statement of a migration waits for a table's lock (a member's open transaction,
#: even a SELECT, or its `LOCK TABLE`): past it the migration's transaction is rolled back, so the
#: sessions queued behind its ALTER go on, and it is tried again within the migration wait's bound
MIGRATION_LOCK_TIMEOUT_S = 2.0
log = logging.getLogger(__name__)
_RETRIES = 12
_RETRIED = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected, pg_errors.UniqueViolation)

class _PipelineAbortNoise(logging.Filter):
    """psycopg logs a warning when a statement of an executemany's pipeline failed ("error ignored
    terminating <AsyncPipeline …>: pipeline aborted") and then raises that statement's error, which
    the store reports (a refused member's write: one clear line, not this one besides)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "error ignored terminating %r: %s" and "pipeline aborted" in record.getMessage())


logging.getLogger("psycopg").addFilter(_PipelineAbortNoise())

# PostgreSQL-only statements run right after the store's migration of that number (same
# transaction): what SQLite has no words for
PG_AFTER_MIGRATION: dict[int, str] = {
    # 9: audit.db_user is the login role of the session that inserted the row, whatever the
    # client sent; an UPDATE keeps it (a member finishing its row cannot rename it)
    9: """
    ALTER TABLE audit ALTER COLUMN db_user SET DEFAULT session_user;
    CREATE OR REPLACE FUNCTION envdeck_audit_db_user() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            NEW.db_user := session_user;
        ELSE
            NEW.db_user := OLD.db_user;
        END IF;
        RETURN NEW;
    END
    $fn$;
    CREATE TRIGGER audit_db_user BEFORE INSERT OR UPDATE ON audit
        FOR EACH ROW EXECUTE FUNCTION envdeck_audit_db_user();
    """,
}


@functools.lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """The store's common SQL with psycopg's placeholders (`?` → `%s`, a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def pg_migration(sql: str) -> str:
    """A migration of the store (written in SQLite's words) in PostgreSQL's. Text compares
    byte by byte as in SQLite (`COLLATE "C"`), whatever the database's locale: ISO
    timestamps, names and ids order and compare the same on both engines."""
    sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    sql = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', sql)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    secret = os.environ.get("PGPASSWORD")
    if secret:
        text = text.replace(secret, "***")
    return text


class PgDb:
    """psycopg's AsyncConnection behind the `SqlDb` interface."""

    dialect = "postgresql"
    errors: tuple[type[BaseException], ...] = (psycopg.Error,)
    integrity_errors: tuple[type[BaseException], ...] = (psycopg.IntegrityError,)

    def __init__(self, raw: psycopg.AsyncConnection, url: str):
        self.raw = raw
        from tui.core.store import shown_url

        self.url = url
        self.label = shown_url(url)  # messages: query values and any password `***`
        self.path = self.label
        self._in_transaction = False
        self._reconnect = _Reconnect()

    def error(self, exc: BaseException) -> StateError:
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            return StoreRefused(f"{self.label}: the store refuses this role ({self.raw.info.user}): "
                                f"{_one_line(str(exc))} (a member role reads and writes audit rows only; "
                                "this needs the owner role: docs/security.md, Team mode)")
        return StateError(f"{self.label}: cannot use the store: {_one_line(str(exc))}")

    async def _conn(self) -> psycopg.AsyncConnection:
        if (self.raw.closed or self.raw.broken) and not self._in_transaction:
            with contextlib.suppress(Exception):
                await self.raw.close()
            self.raw = await self._reconnect.connect(self.url)
        return self.raw

    async def _read(self, sql: str, args: Iterable[Any], one: bool) -> Any:
        """A SELECT, run again once on a new connection when the one it met was broken."""
        args = tuple(args)
        conn = await self._conn()
        try:
            cur = await conn.execute(pg_sql(sql), args)
            return await (cur.fetchone() if one else cur.fetchall())
        except psycopg.OperationalError:
            if not conn.broken or self._in_transaction or not sql.lstrip().upper().startswith("SELECT"):
                raise
        cur = await (await self._conn()).execute(pg_sql(sql), args)
        return await (cur.fetchone() if one else cur.fetchall())

    async def fetchall(self, sql: str, args: Iterable[Any] = ()) -> list[Row]:
        return await self._read(sql, args, one=False)

    async def fetchone(self, sql: str, args: Iterable[Any] = ()) -> Row | None:
        return await self._read(sql, args, one=True)

    async def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        cur = await (await self._conn()).execute(pg_sql(sql), tuple(args))
        return cur.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        async with (await self._conn()).cursor() as cur:
            await cur.executemany(pg_sql(sql), [tuple(r) for r in rows])

    async def insert(self, sql: str, args: Iterable[Any] = ()) -> int:
        row = await self.fetchone(sql + " RETURNING id", args)
        return int(row["id"]) if row else 0

    @contextlib.asynccontextmanager
    async def _block(self, isolation: str | None):
        conn = await self._conn()
        self._in_transaction = True
        try:
            async with conn.transaction():
                if isolation:
                    await conn.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
                yield
        finally:
            self._in_transaction = False

    def transaction(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._block(None)

    async def atomic(self, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn` in a SERIALIZABLE transaction, run again (after a short random pause) when
        PostgreSQL could not serialize it with another envdeck's."""
        for attempt in range(_RETRIES):
            try:
                async with self._block("SERIALIZABLE"):
                    return await fn()
            except _RETRIED:
                if attempt == _RETRIES - 1:
                    raise
                await asyncio.sleep(random.uniform(0.001, 0.01 * (attempt + 1)))
        raise AssertionError("unreachable")

    async def _version(self) -> int | None:
        row = await self.fetchone("SELECT to_regclass('schema_version') IS NOT NULL AS present")
        if not row or not row["present"]:
            return None
        row = await self.fetchone("SELECT MAX(version) AS version FROM schema_version")
        return int(row["version"]) if row and row["version"] is not None else 0

    def _refuse_newer(self, version: int | None, known: int) -> None:
        if version is not None and version > known:
            raise StateError(f"{self.label}: made by a newer envdeck (schema {version}); upgrade envdeck")

    async def migrate(self, migrations: Sequence[str], *, wait_s: float | None = None,
                      on_wait: Callable[[str], None] | None = None) -> int:
        """Bring the schema to `len(migrations)`. A current schema is only read (no lock);
        otherwise the migration lock is waited for up to `wait_s` (default: migration_wait_s()),
        `on_wait` (default: a line on stderr) told once who holds it."""
        version = await self._version()
        self._refuse_newer(version, len(migrations))
        if version == len(migrations):
            return version
        conn = await self._conn()
        wait_s = migration_wait_s() if wait_s is None else wait_s
        on_wait = on_wait or _say_waiting
        # the lock is taken before the transaction begins: a transaction that began before
        # another envdeck's migration committed would not see its tables (catalog caches)
        await self._take_migration_lock(conn, wait_s, on_wait)
        try:
            started, said = time.monotonic(), False
            while True:
                try:
                    await self._migrate_once(conn, migrations)
                    break
                except pg_errors.LockNotAvailable:  # rolled back: whoever queued behind it goes on
                    holders = await self._table_lock_holders(conn)
                    if time.monotonic() - started >= wait_s:
                        raise StateError(
                            f"{self.label}: the schema must be migrated but its tables are locked by {holders}; "
                            f"gave up after {wait_s:g}s (${MIGRATION_WAIT_ENV} seconds). End that transaction "
                            "(pg_terminate_backend) or ask its owner to, then run this envdeck again") from None
                    if not said:
                        said = True
                        text = f"{self.label}: waiting up to {wait_s:g}s to migrate the schema, its tables locked by {holders}"
                        logging.getLogger("envdeck.store").info("%s", text)
                        on_wait(text)
                    await asyncio.sleep(_WAIT_POLL_S)
        finally:
            if not conn.broken:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
        return len(migrations)

    async def _migrate_once(self, conn: psycopg.AsyncConnection, migrations: Sequence[str]) -> None:
        """The migrations in one transaction, each statement waiting at most
        MIGRATION_LOCK_TIMEOUT_S for a table's lock (LockNotAvailable past it, all rolled back)."""
        async with self._block(None):
            await conn.execute(f"SET LOCAL lock_timeout = '{int(MIGRATION_LOCK_TIMEOUT_S * 1000)}ms'")
            version = await self._version()  # another envdeck may have migrated meanwhile
            self._refuse_newer(version, len(migrations))
            if version is None:
                await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
                version = 0
            for number in range(version, len(migrations)):
                await conn.execute(pg_migration(migrations[number]))
                if number + 1 in PG_AFTER_MIGRATION:
                    await conn.execute(PG_AFTER_MIGRATION[number + 1])
            await conn.execute("UPDATE schema_version SET version = %s", (len(migrations),))

    async def _table_lock_holders(self, conn: psycopg.AsyncConnection) -> str:
        """The other sessions holding a lock on a table of the store's schema (pg_locks joined to
        pg_stat_activity, as far as this role may see), e.g. `pid 123 (role alice, …) holding
        AccessShareLock on audit`."""
        try:
            cur = await conn.execute(
                "SELECT l.pid, a.usename, a.application_name, host(a.client_addr) AS client_addr, "
                "a.backend_start, a.state, a.state_change, l.mode, c.relname "
                "FROM pg_locks l JOIN pg_class c ON c.oid = l.relation LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid() "
                "AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "ORDER BY l.pid, c.relname LIMIT 8")
            rows = await cur.fetchall()
        except psycopg.Error as exc:
            return f"another session (cannot say which: {_one_line(str(exc))})"
        if not rows:
            return "another session (gone by now)"
        return "; ".join(f"{_session_text(row)} holding {clean(row['mode'], max_len=40)} on "
                         f"{clean(row['relname'], max_len=64)}" for row in rows)

    async def _take_migration_lock(self, conn: psycopg.AsyncConnection, wait_s: float,
                                   on_wait: Callable[[str], None]) -> None:
        """The migration lock, or a StateError naming its holder after `wait_s`: any role of the
        database can take an advisory lock, so waiting for it unbounded could hang forever."""
        started = time.monotonic()
        notice_at = started + min(_WAIT_NOTICE_S, wait_s / 2)
        said = False
        while True:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (_MIGRATION_LOCK,))
            row = await cur.fetchone()
            if row and row["got"]:
                return
            now = time.monotonic()
            if now - started >= wait_s:
                holder = await self._migration_lock_holder(conn)
                raise StateError(f"{self.label}: the schema must be migrated but its migration lock is held by "
                                 f"{holder}; gave up after {wait_s:g}s (${MIGRATION_WAIT_ENV} seconds). "
                                 "If that session is not an envdeck migrating, end it (pg_terminate_backend) "
                                 "or ask its owner to")
            if not said and now >= notice_at:
                said = True
                holder = await self._migration_lock_holder(conn)
                text = (f"{self.label}: waiting up to {wait_s:g}s for the schema's migration lock, held by "
                        f"{holder}")
                # on_wait says it to the user; the file log keeps it (INFO: never Python's last-resort
                # handler, which would print it a second time on stderr without the "envdeck:" prefix)
                logging.getLogger("envdeck.store").info("%s", text)
                on_wait(text)
            await asyncio.sleep(_WAIT_POLL_S)

    async def _migration_lock_holder(self, conn: psycopg.AsyncConnection) -> str:
        """Who holds the migration lock, as far as this role may see (pg_stat_activity hides
        another role's client address and times from a role without pg_read_all_stats)."""
        try:
            cur = await conn.execute(
                "SELECT l.pid, a.usename, a.application_name, host(a.client_addr) AS client_addr, "
                "a.backend_start, a.state, a.state_change "
                "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                (_MIGRATION_LOCK >> 32, _MIGRATION_LOCK & 0xFFFFFFFF))
            rows = await cur.fetchall()
        except psycopg.Error as exc:
            return f"another session (cannot say which: {_one_line(str(exc))})"
        if not rows:
            return "another session (gone by now)"
        return "; ".join(_session_text(row) for row in rows)

    async def schema_version(self) -> int:
        return await self._version() or 0

    async def journal_mode(self) -> str:
        row = await self.fetchone("SHOW server_version")
        return f"PostgreSQL {row['server_version']}" if row else "PostgreSQL"

    async def integrity_check(self) -> str:
        await self.fetchone("SELECT 1 AS one")
        return "ok"

    async def tables(self) -> set[str]:
        rows = await self.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {r["tablename"] for r in rows}

    async def close(self) -> None:
        await self.raw.close()


class _Reconnect:
    """Opening a connection again after a break: `QUICK` tries (pauses 0.1, 0.3, 0.9 s) and,
    when they all fail, no new try before a pause that doubles with every failure (0.5 s up to
    10 s); meanwhile a call fails at once (`OperationalError`, a StateError for the caller)."""

    QUICK = 4
    LONGEST_S = 10.0

    def __init__(self) -> None:
        self.pause_s = 0.0
        self.not_before = 0.0
        self.last = ""

    async def connect(self, url: str) -> psycopg.AsyncConnection:
        wait = self.not_before - time.monotonic()
        if wait > 0:
            raise psycopg.OperationalError(f"the store is unreachable ({self.last}); next attempt in {wait:.1f}s")
        tries = self.QUICK if self.pause_s == 0 else 1
        for attempt in range(tries):
            try:
                conn = await _connect(url)
            except psycopg.OperationalError as exc:
                self.last = _one_line(str(exc))
                if attempt < tries - 1:
                    await asyncio.sleep(0.1 * 3 ** attempt)
                continue
            self.pause_s = 0.0
            return conn
        self.pause_s = min(max(self.pause_s * 2, 0.5), self.LONGEST_S)
        self.not_before = time.monotonic() + self.pause_s
        raise psycopg.OperationalError(f"the store is unreachable: {self.last}")


def migration_wait_s() -> float:
    """How long to wait for another session's migration lock: $ENVDECK_MIGRATION_WAIT seconds
    (0 to 3600), else 30 s."""
    text = os.environ.get(MIGRATION_WAIT_ENV, "")
    try:
        wait = float(text) if text else MIGRATION_WAIT_S
    except ValueError:
        log.warning("$%s: not a number of seconds; using %.0f", MIGRATION_WAIT_ENV, MIGRATION_WAIT_S)
        return MIGRATION_WAIT_S
    return min(max(wait, 0.0), 3600.0) if wait == wait else MIGRATION_WAIT_S


def _session_text(row: Row) -> str:
    """A server session as a message names it: `pid 123 (role alice, application psql, from
    10.0.0.5, connected 2026-…Z, idle since 2026-…Z)`, leaving out what the role may not see.
    The texts come from the server (a client chose its application name): cleaned."""
    parts = []
    if row.get("usename"):
        parts.append(f"role {clean(row['usename'], max_len=64)}")
    if row.get("application_name"):
        parts.append(f"application {clean(row['application_name'], max_len=64)}")
    if row.get("client_addr"):
        parts.append(f"from {clean(row['client_addr'], max_len=64)}")
    if row.get("backend_start"):
        parts.append(f"connected {_utc(row['backend_start'])}")
    if row.get("state") and row.get("state_change"):
        parts.append(f"{clean(row['state'], max_len=32)} since {_utc(row['state_change'])}")
    return f"pid {row['pid']}" + (f" ({', '.join(parts)})" if parts else "")


def _utc(moment: Any) -> str:
    try:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (AttributeError, ValueError):
        return clean(moment, max_len=40)


def _say_waiting(text: str) -> None:
    """The default notice of a wait for the migration lock, for the CLI and the agent: one line
    on stderr (the agent logs JSON on stdout). The TUI passes its own (Session.open's
    `on_store_wait`): a line on stderr would be drawn over."""
    with contextlib.suppress(OSError, ValueError):
        print(f"envdeck: {text}", file=sys.stderr, flush=True)


async def _connect(url: str) -> psycopg.AsyncConnection:
    options: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
    given = conninfo_to_dict(url)
    if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        options["connect_timeout"] = 10
    if "application_name" not in given and not os.environ.get("PGAPPNAME"):
        options["application_name"] = "envdeck"
    return await psycopg.AsyncConnection.connect(url, **options)


async def open_pg(url: str, migrations: Sequence[str], *, on_wait: Callable[[str], None] | None = None) -> PgDb:
    """Connect to the store at `url` (no password in it: libpq's places) and migrate it; a
    StateError naming the URL says why not. `on_wait`: told once (a line for people) when the
    migration lock is held by another session and waited for (default: a line on stderr; the
    TUI shows it itself, since its terminal is drawn)."""
    from tui.core.store import check_state_url, shown_url

    try:
        check_state_url(url, "state.url")
    except ValueError as exc:
        raise StateError(str(exc)) from None
    try:
        raw = await _connect(url)
    except psycopg.Error as exc:
        raise StateError(f"{shown_url(url)}: cannot connect to the store: {_one_line(str(exc))}") from None
    db = PgDb(raw, url)
    try:
        await db.migrate(migrations, on_wait=on_wait)
    except pg_errors.InsufficientPrivilege:
        version, role = None, "this role"
        with contextlib.suppress(Exception):
            role = raw.info.user
            version = await db._version()
        await raw.close()
        raise StateError(f"{db.label}: the store's schema is at {version or 0}, this envdeck needs "
                         f"{len(migrations)}: the role {role} may not migrate it; an owner must run "
                         "this envdeck (or `envdeck agent`) once (docs/security.md, Team mode)") from None
    except psycopg.Error as exc:
        await raw.close()
        raise db.error(exc) from None
    except BaseException:
        await raw.close()
        raise
    return db


class PgListener:
    """A LISTEN connection of its own (tui/core/change_feed.py): `wait(timeout)` returns at the
    first notification on `channel` or after `timeout`. A broken connection is opened again at
    the next wait (notifications sent meanwhile are lost: the caller reads the state anyway).

    A notification is only a hint to read the state again, and any team member may send them
    (`SELECT pg_notify(...)` in a loop): wake-ups are at least COALESCE_S apart, and every
    notification that came meanwhile is taken with the one that wakes (one re-read for all)."""

    COALESCE_S = 0.25

    def __init__(self, url: str, channel: str):
        self.url = url
        self.channel = channel
        self._conn: psycopg.AsyncConnection | None = None
        self._woke: float | None = None  # time.monotonic() of the last wake-up

    async def wait(self, timeout: float) -> bool:
        """True at a notification, False after `timeout` (or when the server cannot be reached)."""
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                await self.close()
                self._conn = await _connect(self.url)
                await self._conn.execute(pg_sql_text.SQL("LISTEN {}").format(pg_sql_text.Identifier(self.channel)))
            woke = False
            async with contextlib.aclosing(self._conn.notifies(timeout=timeout, stop_after=1)) as notes:
                async for _ in notes:
                    woke = True
                    break
            if not woke:
                return False
            rest = 0.0 if self._woke is None else self._woke + self.COALESCE_S - time.monotonic()
            if rest > 0:  # a flood: the next wake-up waits for the interval to end
                await asyncio.sleep(rest)
            async for _ in self._conn.notifies(timeout=0):  # what came meanwhile: the same hint
                pass
            self._woke = time.monotonic()
            return True
        except psycopg.Error:
            await self.close()
            await asyncio.sleep(min(timeout, 1.0))
            return False

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
