"""The connection a `Store` talks through: one small interface, one implementation per engine
(tui/core/store_sqlite.py: SQLite through aiosqlite; tui/core/store_pg.py: PostgreSQL through
psycopg 3). The store's queries are written once, in the SQL both engines understand:

- `?` placeholders (the PostgreSQL connection turns them into `%s`);
- upserts as `INSERT … ON CONFLICT (key) DO UPDATE SET c = excluded.c` (`upsert_sql`), never
  SQLite's `INSERT OR REPLACE`;
- `"user"` quoted (a reserved word in PostgreSQL), `TRUE`/`FALSE`, rows read by column name
  (aliases for aggregates), ids of new rows from `insert()`.

Statements outside `transaction()`/`atomic()` are committed one by one. `atomic(fn)` runs a
read-then-write check as one unit that no other writer can interleave: `BEGIN IMMEDIATE` on
SQLite, a SERIALIZABLE transaction retried on a serialization failure on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from tui.core.errors import StateError

__all__ = ["Row", "SqlDb", "upsert_sql"]

T = TypeVar("T")
Row = Mapping[str, Any]


class SqlDb(Protocol):
    dialect: str            # "sqlite" | "postgresql"
    label: str              # where the store is, for messages: a path, or the URL without password
    errors: tuple[type[BaseException], ...]           # the driver's errors `error()` translates
    integrity_errors: tuple[type[BaseException], ...]  # a constraint refused a write

    def error(self, exc: BaseException) -> StateError: ...
    async def fetchall(self, sql: str, args: Iterable[Any] = ()) -> list[Row]: ...
    async def fetchone(self, sql: str, args: Iterable[Any] = ()) -> Row | None: ...
    async def execute(self, sql: str, args: Iterable[Any] = ()) -> int: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    async def insert(self, sql: str, args: Iterable[Any] = ()) -> int: ...
    def transaction(self) -> AbstractAsyncContextManager[None]: ...
    async def atomic(self, fn: Callable[[], Awaitable[T]]) -> T: ...
    async def migrate(self, migrations: Sequence[str]) -> int: ...
    async def schema_version(self) -> int: ...
    async def tables(self) -> set[str]: ...
    async def journal_mode(self) -> str: ...
    async def integrity_check(self) -> str: ...
    async def close(self) -> None: ...


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT of `columns` that replaces the other columns of the row with the same `key`."""
    names = ", ".join(_quoted(c) for c in columns)
    marks = ",".join("?" * len(columns))
    rest = [c for c in columns if c not in key]
    sets = ", ".join(f"{_quoted(c)} = excluded.{_quoted(c)}" for c in rest)
    action = f"DO UPDATE SET {sets}" if rest else "DO NOTHING"
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({', '.join(key)}) {action}"


def _quoted(column: str) -> str:
    return '"user"' if column == "user" else column
