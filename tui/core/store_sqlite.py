"""The SQLite connection of a `Store` (the embedded default; tui/core/store_db.py is the
interface): one file `envdeck.db` in the state directory.

- Schema versioned with `PRAGMA user_version` and forward-only migrations.
- WAL mode, `synchronous=FULL`: a committed audit row survives a crash of the
  process or the machine; `busy_timeout` lets the CLI and a running TUI share it.
- The file and its -wal/-shm are claimed 0600 without following a symlink (`_claim`).
- A corrupt file found mid-query is a StateError saying how to recover, never a
  traceback; the connection's thread never keeps the process alive.
- `atomic_in_thread(fn)`: a unit of several statements (the lifecycle store's group commit)
  run whole in the connection's thread, one hand-over between threads instead of one per
  statement (each hand-over waits for the GIL, up to the 5 ms switch interval while the AWS
  client threads run: 10-35 ms for a 10-statement unit under load).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sqlite3
import stat
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from tui.core.errors import StateError
from tui.core.paths import check_state_file, ensure_state_dir
from tui.core.store_db import Row

__all__ = ["DB_NAME", "SqliteDb", "corrupt_message", "open_sqlite", "store_error"]

T = TypeVar("T")
DB_NAME = "envdeck.db"

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


class SqliteDb:
    """aiosqlite behind the `SqlDb` interface."""

    dialect = "sqlite"
    errors: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,)
    integrity_errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(self, db: aiosqlite.Connection, path: Path):
        self.raw = db
        self.path = path
        self.label = str(path)
        self._in_transaction = False

    def error(self, exc: BaseException) -> StateError:
        assert isinstance(exc, sqlite3.DatabaseError)
        return store_error(self.path, exc)

    async def fetchall(self, sql: str, args: Iterable[Any] = ()) -> list[Row]:
        async with self.raw.execute(sql, tuple(args)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, args: Iterable[Any] = ()) -> Row | None:
        async with self.raw.execute(sql, tuple(args)) as cur:
            return await cur.fetchone()

    async def _commit(self) -> None:
        if not self._in_transaction:
            await self.raw.commit()

    async def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        cur = await self.raw.execute(sql, tuple(args))
        await self._commit()
        return cur.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.raw.executemany(sql, [tuple(r) for r in rows])
        await self._commit()

    async def insert(self, sql: str, args: Iterable[Any] = ()) -> int:
        cur = await self.raw.execute(sql, tuple(args))
        await self._commit()
        return cur.lastrowid or 0

    @contextlib.asynccontextmanager
    async def _block(self, begin: str | None):
        if self.raw.in_transaction:
            await self.raw.commit()
        self._in_transaction = True
        try:
            if begin:
                await self.raw.execute(begin)
            yield
            await self.raw.commit()
        except BaseException:
            await self.raw.rollback()
            raise
        finally:
            self._in_transaction = False

    def transaction(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Statements committed together (the first write begins the transaction)."""
        return self._block(None)

    async def atomic(self, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn` in one BEGIN IMMEDIATE transaction: another process's writer waits for it
        (busy_timeout), so what `fn` read still holds when it writes."""
        async with self._block("BEGIN IMMEDIATE"):
            return await fn()

    async def atomic_in_thread(self, fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        """`atomic(fn)` with the whole unit (BEGIN IMMEDIATE, `fn`'s statements, COMMIT) run in the
        connection's thread in one call. `fn(db)` gets a `SqlDb` of that thread whose coroutines
        never suspend (`_ThreadDb`): it must await nothing but them (a suspension is refused,
        the unit rolled back). Cancelled while it runs, the unit still ends (committed or rolled
        back) in its thread, as a commit under way does. An aiosqlite without the thread's call
        (`_execute`, private) gets `atomic(fn(self))`, statement by statement."""
        if not (callable(getattr(self.raw, "_execute", None)) and hasattr(self.raw, "_conn")):
            return await self.atomic(lambda: fn(self))
        if self.raw.in_transaction:
            await self.raw.commit()
        self._in_transaction = True
        try:
            return await self.raw._execute(self._unit_in_thread, fn)
        finally:
            self._in_transaction = False

    async def read_in_thread(self, fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        """`fn(db)`'s reads (no transaction of its own) run whole in the connection's thread, in
        one call (`_ThreadDb`, as `atomic_in_thread`): a record read with its steps and orphans."""
        if not (callable(getattr(self.raw, "_execute", None)) and hasattr(self.raw, "_conn")):
            return await fn(self)
        return await self.raw._execute(lambda: _run_unsuspended(fn(_ThreadDb(self, self.raw._conn))))

    def _unit_in_thread(self, fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        conn: sqlite3.Connection = self.raw._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = _run_unsuspended(fn(_ThreadDb(self, conn)))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return result

    async def migrate(self, migrations: Sequence[str]) -> int:
        version = await self.schema_version()
        if version > len(migrations):
            raise StateError(f"{self.path}: made by a newer envdeck (schema {version}); upgrade envdeck")
        for number in range(version, len(migrations)):
            try:
                await self.raw.executescript(
                    "BEGIN IMMEDIATE;\n" + migrations[number] + f"\nPRAGMA user_version = {number + 1};\nCOMMIT;")
            except sqlite3.OperationalError:
                # two envdecks opening a new store at once both read the old version; the one that
                # waited for the write lock finds the tables made: fine when the other finished it
                with contextlib.suppress(sqlite3.Error):
                    await self.raw.execute("ROLLBACK")
                if await self.schema_version() > number:
                    continue
                raise
        return len(migrations)

    async def _pragma(self, name: str) -> Any:
        async with self.raw.execute(f"PRAGMA {name}") as cur:
            return (await cur.fetchone())[0]

    async def schema_version(self) -> int:
        return await self._pragma("user_version")

    async def journal_mode(self) -> str:
        return await self._pragma("journal_mode")

    async def integrity_check(self) -> str:
        return await self._pragma("integrity_check")

    async def tables(self) -> set[str]:
        return {r["name"] for r in await self.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}

    async def close(self) -> None:
        await self.raw.close()


def _run_unsuspended(coro: Coroutine[Any, Any, T]) -> T:
    """The value of a coroutine that completes without suspending (it awaits only `_ThreadDb`)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a store unit run in the connection's thread awaited something else than the store")


class _ThreadDb:
    """The `SqlDb` statements of `SqliteDb` on its sqlite3 connection, for a unit that runs in the
    connection's own thread (`SqliteDb.atomic_in_thread`): coroutines that never suspend; no
    commit (the unit's)."""

    dialect = SqliteDb.dialect
    errors = SqliteDb.errors
    integrity_errors = SqliteDb.integrity_errors

    def __init__(self, owner: SqliteDb, conn: sqlite3.Connection):
        self._conn = conn
        self.label = owner.label
        self.error = owner.error

    async def fetchall(self, sql: str, args: Iterable[Any] = ()) -> list[Row]:
        cur = self._conn.execute(sql, tuple(args))
        try:
            return list(cur.fetchall())
        finally:
            cur.close()

    async def fetchone(self, sql: str, args: Iterable[Any] = ()) -> Row | None:
        cur = self._conn.execute(sql, tuple(args))
        try:
            return cur.fetchone()
        finally:
            cur.close()

    async def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        return self._conn.execute(sql, tuple(args)).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, [tuple(r) for r in rows])

    async def insert(self, sql: str, args: Iterable[Any] = ()) -> int:
        return self._conn.execute(sql, tuple(args)).lastrowid or 0


async def open_sqlite(state_dir: Path | str, migrations: Sequence[str]) -> SqliteDb:
    """Open (create, migrate) `envdeck.db` in the state directory; a StateError says why not."""
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
        raw = await connecting
    except (sqlite3.Error, OSError) as exc:
        raise StateError(f"{path}: cannot open the store: {getattr(exc, 'strerror', None) or exc}") from None
    db = SqliteDb(raw, path)
    try:
        raw.row_factory = aiosqlite.Row
        await raw.execute("PRAGMA busy_timeout = 10000")
        await raw.execute("PRAGMA journal_mode = WAL")
        await raw.execute("PRAGMA synchronous = FULL")
        await raw.execute("PRAGMA foreign_keys = ON")
        await db.migrate(migrations)
        # still regular files of the user with one link; a -wal/-shm recreated by this SQLite
        # (another envdeck of the user closed the store in between) is accepted as such
        for side in claimed:
            check_state_file(side)
    except sqlite3.DatabaseError as exc:
        await raw.close()
        raise store_error(path, exc) from None
    except BaseException:
        await raw.close()
        raise
    return db
