"""Which audit rows of a created environment a user reads: those of its instance.

A created environment's name can be reused: once destroyed, anyone allowed by a template may
create it again, and gets a new instance (`managed_env.instance`, its `created_at`; the row of
the earlier one is replaced, tui/core/lifecycle/lifecycle_store.py `insert`). The rows of the
name's audit trail before that creation are the earlier instances' (their parameters, their
users' actions): the new one's roles had no role in them, so they do not read them. The
boundary of an instance is its first row, its creator's first `env.create` / `env.clone` row of
the name at or after its `created_at` (written in the transaction that stores it; the store
keeps whole seconds, so an earlier creator's rows of that second are told apart by their user);
when no such row is found (a pruned trail), the `created_at` second itself. Known limit: the
same user destroying and creating the name again within one second starts at the earlier row.
Environments of the config are unchanged: their rows are read whole, as before.

Who had a role in an earlier instance is not kept once the name is re-created (the store keeps
one access per name): of the earlier instances' rows, a user reads those of the instances they
created (their owner: from their create row to the next create row of the name, any user's),
and nobody else does through envdeck (the database keeps them; the owner role reads them with
psql, docs/security.md).

A boundary (a create row) counts only when a role that can create environments wrote it: a team
member's database role may INSERT audit rows by hand, with any `user` and `at`, and such a row
must not move an instance's start nor give its `user` an earlier instance's rows. On SQLite every
row counts (a one-user file: no members); on PostgreSQL the rows whose `db_user` (set by the
server) is NULL (written before the column existed) or the owner of `managed_env` (the only role
that writes environments, docs/deploy/postgres-roles.sql). A row dated in the future (later than
now + FUTURE_SKEW) never counts.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.core.audit_rows import FUTURE_SKEW
from tui.core.model import iso, now_utc

if TYPE_CHECKING:
    from tui.core.lifecycle.records import ManagedEnvironment
    from tui.core.store import Store

CREATE_ACTIONS = ("env.create", "env.clone")

# PostgreSQL: the role owning `managed_env`, read once per store (it does not change while open)
_WRITERS: weakref.WeakKeyDictionary[Store, str] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Trusted:
    """The SQL condition (on the audit table, alias `a.` or none) a boundary row meets, and its
    arguments: written by a role that can create environments, and not dated in the future."""

    sql: str
    args: tuple[Any, ...]


async def _trusted(store: Store, alias: str = "") -> Trusted:
    """Called with the store's lock held."""
    latest = iso(now_utc() + FUTURE_SKEW)
    db = store._db
    if db.dialect != "postgresql":
        return Trusted(f"{alias}at <= ?", (latest,))
    writer = _WRITERS.get(store)
    if writer is None:
        try:
            row = await db.fetchone("SELECT tableowner FROM pg_tables WHERE tablename = ?"
                                    " AND schemaname = current_schema()", ("managed_env",))
        except db.errors as exc:
            raise db.error(exc) from None
        writer = "" if row is None else str(row["tableowner"])  # "": no table, only NULL rows count
        _WRITERS[store] = writer
    return Trusted(f"({alias}db_user IS NULL OR {alias}db_user = ?) AND {alias}at <= ?", (writer, latest))


@dataclass(frozen=True)
class InstanceStart:
    """Where the audit trail of one created environment's current instance starts."""

    env: str
    since: str  # its created_at, as the store writes times (ISO, whole seconds, Z)
    first_id: int | None  # the id of its create row, when found

    def holds(self, row: dict[str, Any]) -> bool:
        """Whether `row` (of this environment) is of this instance."""
        if self.first_id is not None:
            return int(row["id"]) >= self.first_id
        return str(row.get("at") or "") >= self.since


async def instance_starts(store: Store, managed: Iterable[ManagedEnvironment]) -> dict[str, InstanceStart]:
    """The start of each of these created environments' current instance, by name."""
    starts: dict[str, InstanceStart] = {}
    for m in managed:
        since = iso(m.created_at)
        if since is None:
            continue
        starts[m.name] = InstanceStart(m.name, since, await _first_create_row(store, m.name, m.owner, since))
    return starts


async def _first_create_row(store: Store, env: str, owner: str, since: str) -> int | None:
    """The id of the instance's create row: its creator's first create row of the name at or after
    its creation (the store's clock and the session's agree in a deployment); else the creator's
    newest one not refused (a clock that differs from the store's, as a test's); else None. Only
    rows a creating role wrote, not dated in the future, count (a member's forged row does not)."""
    db = store._db  # a reader next to the store, as the lifecycle and promotion stores are
    creates = f"env = ? AND action IN ({','.join('?' * len(CREATE_ACTIONS))}) AND \"user\" = ?"
    async with store._lock:
        trusted = await _trusted(store)
        queries = ((f"SELECT id FROM audit WHERE {creates} AND at >= ? AND {trusted.sql} ORDER BY id LIMIT 1",
                    (env, *CREATE_ACTIONS, owner, since, *trusted.args)),
                   (f"SELECT id FROM audit WHERE {creates} AND result != ? AND {trusted.sql} ORDER BY id DESC LIMIT 1",
                    (env, *CREATE_ACTIONS, owner, "denied", *trusted.args)))
        for sql, args in queries:
            try:
                row = await db.fetchone(sql, args)
            except db.errors as exc:
                raise db.error(exc) from None
            if row is not None:
                return int(row["id"])
    return None


async def of_current_instance(store: Store, env: str, declared: Iterable[str], timeline: list[dict[str, Any]],
                              audit: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Timeline of `env` (its `timeline` entries and audit rows, as the store hands them out)
    without an earlier environment's of the same name: audit rows by the instance's first row,
    timeline entries (no link to an audit row, written on the clock that set `created_at`) by the
    second of its creation. An environment of
    the config (`declared`), or a name never created, is returned as it is."""
    if env in set(declared):
        return timeline, audit
    from tui.core.lifecycle.lifecycle_store import LifecycleStore

    managed = await LifecycleStore(store).get(env)
    if managed is None:
        return timeline, audit
    starts = await instance_starts(store, [managed])
    start = starts.get(env)
    if start is None:
        return timeline, audit
    return [t for t in timeline if str(t.get("at") or "") >= start.since], of_instances(audit, starts)


# an env.create/env.clone row of these results made an instance (a refused one is `denied`)
MADE = ("succeeded", "failed", "pending")


@dataclass(frozen=True)
class OwnSpan:
    """The rows of one earlier instance of `env` that its creator reads: ids from `first` (its
    create row) up to, not including, `end` (the next create row of the name)."""

    env: str
    first: int
    end: int

    def holds(self, row: dict[str, Any]) -> bool:
        return self.first <= int(row["id"]) < self.end


async def own_spans(store: Store, user: str) -> dict[str, list[OwnSpan]]:
    """The earlier instances `user` created, by name: each from its create row to the name's next
    one (the name's last instance, destroyed or not, is read by its stored access instead). Both
    ends are rows a creating role wrote, not dated in the future (a member's forged row is neither)."""
    db = store._db
    marks = ",".join("?" * len(CREATE_ACTIONS))
    made = ",".join("?" * len(MADE))
    async with store._lock:
        a, b = await _trusted(store, "a."), await _trusted(store, "b.")
        sql = (f"SELECT a.env AS env, a.id AS first, (SELECT MIN(b.id) FROM audit b WHERE b.env = a.env"
               f" AND b.id > a.id AND b.action IN ({marks}) AND b.result IN ({made}) AND {b.sql}) AS next_id"
               f' FROM audit a WHERE a."user" = ? AND a.action IN ({marks}) AND a.result IN ({made})'
               f" AND {a.sql} ORDER BY a.id")
        try:
            rows = await db.fetchall(sql, (*CREATE_ACTIONS, *MADE, *b.args, user, *CREATE_ACTIONS, *MADE, *a.args))
        except db.errors as exc:
            raise db.error(exc) from None
    spans: dict[str, list[OwnSpan]] = {}
    for r in rows:
        if r["next_id"] is not None:  # the name's last instance is read by its stored access, not here
            spans.setdefault(str(r["env"]), []).append(OwnSpan(str(r["env"]), int(r["first"]), int(r["next_id"])))
    return spans


def of_instances(rows: list[dict[str, Any]], starts: dict[str, InstanceStart],
                 own: dict[str, list[OwnSpan]] | None = None) -> list[dict[str, Any]]:
    """`rows` without those of an earlier instance of a created environment (but those of the
    instances in `own`, the reader's)."""
    def kept(row: dict[str, Any]) -> bool:
        env = str(row.get("env"))
        start = starts.get(env)
        if start is not None and start.holds(row):
            return True
        spans = (own or {}).get(env, ())
        if spans:
            return any(span.holds(row) for span in spans)
        return start is None
    return [r for r in rows if kept(r)]


class ReaderScopes:
    """One reader's own spans and instance starts, kept while the store's created environments
    stay the same ones (`managed_env` names and instances): a trail read in batches (`audit
    --json`) scans the audit table for them once, not once a batch. A create or re-create
    changes an instance, and everything is read again."""

    def __init__(self, store: Store, user: str) -> None:
        self.store, self.user = store, user
        self._key: tuple[tuple[str, str], ...] | None = None
        self._own: dict[str, list[OwnSpan]] = {}
        self._starts: dict[str, InstanceStart | None] = {}

    async def _current(self) -> None:
        db = self.store._db
        async with self.store._lock:
            try:
                rows = await db.fetchall("SELECT name, instance FROM managed_env ORDER BY name", ())
            except db.errors as exc:
                raise db.error(exc) from None
        key = tuple((str(r["name"]), str(r["instance"] or "")) for r in rows)
        if key != self._key:
            self._key, self._starts = key, {}
            self._own = await own_spans(self.store, self.user)

    async def own(self, declared: Iterable[str]) -> dict[str, list[OwnSpan]]:
        await self._current()
        skip = set(declared)
        return {name: spans for name, spans in self._own.items() if name not in skip}

    async def starts(self, managed: Iterable[ManagedEnvironment]) -> dict[str, InstanceStart]:
        """As `instance_starts`, each read once while the instances stay the same (call `own` first)."""
        wanted = [m for m in managed if m.name not in self._starts]
        self._starts.update(await instance_starts(self.store, wanted))
        for m in wanted:
            self._starts.setdefault(m.name, None)
        return {m.name: start for m in managed if (start := self._starts.get(m.name)) is not None}


async def read_scoped(read: Callable[[int, int | None], Awaitable[list[dict[str, Any]]]], limit: int,
                      before_id: int | None, starts: dict[str, InstanceStart],
                      own: dict[str, list[OwnSpan]] | None = None) -> list[dict[str, Any]]:
    """The newest `limit` rows of `read(limit, before_id)` (newest first) that are of the current
    instances: read again below the oldest row seen while rows were left out, so `limit` counts
    rows shown, not rows read."""
    kept: list[dict[str, Any]] = []
    while len(kept) < limit:
        batch = await read(limit, before_id)
        kept.extend(of_instances(batch, starts, own))
        if len(batch) < limit:
            break
        before_id = int(batch[-1]["id"])
    return kept[:limit]


__all__ = ["CREATE_ACTIONS", "MADE", "InstanceStart", "OwnSpan", "ReaderScopes", "own_spans", "instance_starts", "of_current_instance", "of_instances", "read_scoped"]
