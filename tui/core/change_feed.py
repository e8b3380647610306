"""What a leader publishes after each pass, and how the other processes on the store learn that
something changed (issue 16, team mode; tui/core/follower.py reads it).

- The state itself is already in the store: `snapshots`, `backend_state`, `drifts`, `timeline`
  and `audit`. What is not is the leader's current faults; `publish()` writes them with a
  token (`feed:ENV` in `settings`: {"seq", "by", "at", "faults"}) in one transaction, so no
  migration is needed and an old envdeck ignores the rows.
- Waking the followers: on PostgreSQL `publish()` and `notify()` send `NOTIFY envdeck_changes`
  (delivered at commit) and a follower waits on a LISTEN connection of its own
  (store_pg.PgListener), reading the tokens again at least every `PG_POLL_S` (a notification
  is lost while its connection is down). On SQLite there is no such thing: a follower reads
  the tokens every `SQLITE_POLL_S` (two one-row queries on the local file).
- `marks()` is what a follower compares between wakes: the tokens by environment and the
  newest audit and timeline row ids (an action in another user's envdeck shows in this one's
  timeline).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tui.core.model import Fault, Severity, iso, now_utc, parse_iso
from tui.core.store import Store
from tui.core.store_db import upsert_sql

__all__ = ["CHANNEL", "ChangeFeed", "FeedMarks", "Published"]

log = logging.getLogger("envdeck.change_feed")

CHANNEL = "envdeck_changes"
PREFIX = "feed:"
SQLITE_POLL_S = 0.5
# audit rows that changed nothing: another user's refused action or log read asks no early pass
_NO_EFFECT_RESULTS = ("denied", "pending")
_NO_EFFECT_ACTIONS = ("read", "logs", "view", "value", "port-forward")
PG_POLL_S = 5.0
_UPSERT = upsert_sql("settings", ("key", "value"), ("key",))


@dataclass(frozen=True, slots=True)
class Published:
    """A leader's last publication for one environment."""

    env: str
    seq: int
    by: str
    at: datetime | None
    faults: dict[str, list[Fault]]
    # backend -> (failed passes in a row, seconds until the next try): the leader's retrying
    retries: dict[str, tuple[int, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FeedMarks:
    """What changed between two reads: the publication tokens, the newest audit and timeline ids."""

    tokens: dict[str, str] = field(default_factory=dict)
    audit: int = 0
    timeline: int = 0


def _fault(data: dict[str, Any]) -> Fault:
    return Fault(resource=str(data.get("resource", "")), severity=Severity(data.get("severity") or "info"),
                 reason=str(data.get("reason", "")), message=str(data.get("message", "")),
                 since=parse_iso(data.get("since")), count=int(data.get("count") or 1),
                 last_seen=parse_iso(data.get("last_seen")))


class ChangeFeed:
    """The feed over one open `Store` (its connection and its lock, as LifecycleStore does)."""

    def __init__(self, store: Store):
        self.store = store
        self._db = store._db
        self._lock = store._lock
        self._seq = 0
        self._listener: Any = None  # store_pg.PgListener on PostgreSQL

    @property
    def postgres(self) -> bool:
        return self._db.dialect == "postgresql"

    # -- the leader's side ------------------------------------------------------------
    async def publish(self, env: str, by: str, faults: dict[str, list[Fault]],
                      retries: dict[str, tuple[int, float]] | None = None) -> None:
        """After a pass's writes: the faults, the backends' retry counts and a new token, and
        the NOTIFY, in one transaction."""
        self._seq += 1
        value = json.dumps({"seq": self._seq, "by": by, "at": iso(now_utc()),
                            "faults": {b: [f.to_json() for f in fs] for b, fs in faults.items()},
                            "retries": {b: [n, s] for b, (n, s) in (retries or {}).items()}},
                           default=str)
        async with self._lock:
            try:
                async with self._db.transaction():
                    await self._db.execute(_UPSERT, (PREFIX + env, value))
                    if self.postgres:
                        await self._db.execute("SELECT pg_notify(?, ?)", (CHANNEL, env))
            except self._db.errors as exc:
                raise self._db.error(exc) from None

    async def notify(self, env: str) -> None:
        """Wake the other processes now (an action's audit row): PostgreSQL only; SQLite's poll sees it."""
        if not self.postgres:
            return
        async with self._lock:
            with contextlib.suppress(*self._db.errors):
                await self._db.execute("SELECT pg_notify(?, ?)", (CHANNEL, env))

    # -- the followers' side ------------------------------------------------------------
    async def marks(self) -> FeedMarks:
        async with self._lock:
            try:
                rows = await self._db.fetchall("SELECT key, value FROM settings WHERE key LIKE ?", (PREFIX + "%",))
                ids = await self._db.fetchone("SELECT (SELECT MAX(id) FROM audit) AS audit, "
                                              "(SELECT MAX(id) FROM timeline) AS timeline")
            except self._db.errors as exc:
                raise self._db.error(exc) from None
        audit, timeline = (ids["audit"], ids["timeline"]) if ids is not None else (0, 0)
        return FeedMarks({r["key"][len(PREFIX):]: r["value"] for r in rows}, int(audit or 0), int(timeline or 0))

    async def read(self, env: str) -> Published | None:
        async with self._lock:
            try:
                row = await self._db.fetchone("SELECT value FROM settings WHERE key = ?", (PREFIX + env,))
            except self._db.errors as exc:
                raise self._db.error(exc) from None
        return None if row is None else self.parse(env, row["value"])

    async def snapshot_rows(self, env: str) -> dict[str, dict[str, str]]:
        """The stored snapshot of `env` unparsed: backend -> resource id -> JSON (a follower parses
        only the rows whose text changed since its last load)."""
        async with self._lock:
            try:
                rows = await self._db.fetchall("SELECT backend, resource_id, data FROM snapshots WHERE env = ?", (env,))
            except self._db.errors as exc:
                raise self._db.error(exc) from None
        out: dict[str, dict[str, str]] = {}
        for r in rows:
            out.setdefault(r["backend"], {})[r["resource_id"]] = r["data"]
        return out

    @staticmethod
    def parse(env: str, value: str) -> Published | None:
        try:
            data = json.loads(value)
            faults = {str(b): [_fault(f) for f in fs] for b, fs in (data.get("faults") or {}).items()}
            retries = {str(b): (int(n), float(s)) for b, (n, s) in (data.get("retries") or {}).items()}
            return Published(env, int(data.get("seq") or 0), str(data.get("by") or ""), parse_iso(data.get("at")),
                             faults, retries)
        except (ValueError, TypeError, AttributeError, KeyError):
            log.warning("%s: the published state is not readable; ignored", env)
            return None

    async def envs_active_since(self, audit_id: int, timeline_id: int, envs: Collection[str]) -> dict[str, bool]:
        """Which of `envs` have audit or timeline rows newer than these ids: True when one of the
        audit rows is another process's (an action of another user or envdeck).

        A team member may write any audit row by hand (psql): the database answers one row per
        environment asked about, never a member's text (an `env` or `action` of megabytes, a name
        with terminal escapes, a million rows): the environments are matched, the actions
        compared and the rows counted on its side."""
        names = sorted({str(e) for e in envs})
        if not names:
            return {}
        among = f"env IN ({','.join('?' * len(names))})"
        me = (socket.gethostname(), os.getpid())
        # what may have changed the environment: a refused action or a log read did not; this
        # process's own rows are not another's (NULL owners, as hand-written rows have, are)
        other = (f"MAX(CASE WHEN result IN ({','.join('?' * len(_NO_EFFECT_RESULTS))}) "
                 f"OR action IN ({','.join('?' * len(_NO_EFFECT_ACTIONS))}) THEN 0 "
                 "WHEN owner_host = ? AND owner_pid = ? THEN 0 ELSE 1 END)")
        async with self._lock:
            try:
                audit = await self._db.fetchall(
                    f"SELECT env, {other} AS other FROM audit WHERE id > ? AND {among} GROUP BY env",
                    (*_NO_EFFECT_RESULTS, *_NO_EFFECT_ACTIONS, *me, audit_id, *names))
                timeline = await self._db.fetchall(
                    f"SELECT DISTINCT env FROM timeline WHERE id > ? AND {among}", (timeline_id, *names))
            except self._db.errors as exc:
                raise self._db.error(exc) from None
        out: dict[str, bool] = {r["env"]: False for r in timeline}
        for r in audit:
            out[r["env"]] = bool(r["other"])
        return out

    async def wait(self, timeout: float | None = None) -> None:
        """Until something may have changed: a NOTIFY (PostgreSQL, at most PG_POLL_S) or the
        next SQLite poll."""
        if not self.postgres:
            await asyncio.sleep(SQLITE_POLL_S if timeout is None else min(timeout, SQLITE_POLL_S))
            return
        if self._listener is None:
            from tui.core.store_pg import PgListener

            self._listener = PgListener(self._db.url, CHANNEL)
        started = time.monotonic()
        await self._listener.wait(PG_POLL_S if timeout is None else min(timeout, PG_POLL_S))
        if time.monotonic() - started < 0.005:
            await asyncio.sleep(0.005)  # never a hot loop over a burst of notifications

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()
