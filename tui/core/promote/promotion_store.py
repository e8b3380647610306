"""The promotions tables (migration 8 of tui/core/store.py), over the Store's connection and
its one-transaction-at-a-time lock (like tui/core/lifecycle/lifecycle_store.py).

- `promotions`: one row per promotion (or rollback): A, B, who, state, the plan (JSON), B's
  versions before it (what a rollback restores), the waves finished, and a lease (`holder`,
  `holder_until`) so that two processes never drive one promotion;
- `promotion_steps`: one row per change, written *before* its backend call: a resumed run
  never repeats a change whose row says it reached B.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from tui.core.errors import InvalidRequest, NotFound
from tui.core.model import iso, now_utc, parse_iso
from tui.core.promote.records import (
    PlannedChange,
    Promotion,
    PromotionPlan,
    PromotionState,
    PromotionStep,
    StepState,
)
from tui.core.store import Store, _serialized
from tui.core.store_db import upsert_sql

__all__ = ["PromotionStore"]

_STEP_COLUMNS = ("promotion", "seq", "wave", "component", "resource", "field", "value_before", "value_after",
                 "state", "message", "started_at", "finished_at", "attempts")
_UPSERT_STEP = upsert_sql("promotion_steps", _STEP_COLUMNS, ("promotion", "seq"))


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _when(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


class PromotionStore:
    """The promotion tables of one `Store` (same connection, same lock)."""

    def __init__(self, store: Store):
        self.store = store
        self._db = store._db
        self._lock = store._lock
        self.path = store.path

    @_serialized
    async def insert(self, plan: PromotionPlan, *, user: str, origin: str,
                     previous: dict[str, dict[str, Any]]) -> Promotion:
        """Keep a new promotion, `running`, with a pending row per change. Refused (InvalidRequest)
        while another promotion into B is unfinished (`running`): it names it."""
        pid = uuid.uuid4().hex[:12]
        now = now_utc()

        async def insert() -> None:
            busy = await self._db.fetchone("SELECT id FROM promotions WHERE b = ? AND state = ?",
                                           (plan.b, str(PromotionState.RUNNING)))
            if busy is not None:
                raise InvalidRequest(f"promotion {busy['id']} into {plan.b} is unfinished: "
                                     f"envdeck promote --resume {busy['id']} carries it on; "
                                     f"envdeck promote --rollback {busy['id']} undoes it")
            await self._db.execute(
                'INSERT INTO promotions (id, a, b, "user", origin, state, plan, previous, rollback_of, wave, '
                "reason, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,0,'',?,?)",
                (pid, plan.a, plan.b, user, origin, str(PromotionState.RUNNING), plan.dumps(), _dumps(previous),
                 plan.rollback_of, iso(now), iso(now)))
            await self._db.executemany(_UPSERT_STEP, [
                (pid, seq, c.wave, c.component, c.resource, c.field, _dumps(c.before), _dumps(c.after),
                 str(StepState.PENDING), "", None, None, 0) for seq, c in enumerate(plan.changes)])

        await self._db.atomic(insert)
        return await self._get(pid)

    async def _get(self, pid: str) -> Promotion:
        row = await self._db.fetchone("SELECT * FROM promotions WHERE id = ?", (pid,))
        if row is None:
            raise NotFound(f"no promotion {pid}")
        steps = await self._db.fetchall("SELECT * FROM promotion_steps WHERE promotion = ? ORDER BY seq", (pid,))
        return Promotion(
            id=row["id"], a=row["a"], b=row["b"], user=row["user"], state=PromotionState(row["state"]),
            plan=PromotionPlan.loads(row["plan"]), previous=json.loads(row["previous"] or "{}"),
            created_at=parse_iso(row["created_at"]), origin=row["origin"], rollback_of=row["rollback_of"],
            waves_done=int(row["wave"]), reason=row["reason"], updated_at=_when(row["updated_at"]),
            steps=[PromotionStep(
                s["promotion"], int(s["seq"]),
                PlannedChange(int(s["wave"]), s["component"], s["resource"], s["field"],
                              json.loads(s["value_before"]), json.loads(s["value_after"])),
                StepState(s["state"]), s["message"], _when(s["started_at"]), _when(s["finished_at"]),
                int(s["attempts"])) for s in steps])

    @_serialized
    async def get(self, pid: str) -> Promotion:
        promotion = await self._get(pid)
        # the source ids live in the plan only
        sources = {(c.resource, c.field): c.source for c in promotion.plan.changes}
        for step in promotion.steps:
            src = sources.get((step.change.resource, step.change.field), "")
            if src:
                step.change = PlannedChange(step.change.wave, step.change.component, step.change.resource,
                                            step.change.field, step.change.before, step.change.after, src)
        return promotion

    @_serialized
    async def list(self, envs: list[str] | None = None, limit: int = 50) -> list[Promotion]:
        rows = await self._db.fetchall("SELECT id, b FROM promotions ORDER BY created_at DESC, id")
        ids = [r["id"] for r in rows if envs is None or r["b"] in envs][:limit]
        return [await self._get(pid) for pid in ids]

    @_serialized
    async def unfinished(self, b: str) -> str | None:
        """The id of the promotion into `b` still `running` (a killed envdeck left it), or None."""
        row = await self._db.fetchone("SELECT id FROM promotions WHERE b = ? AND state = ?",
                                      (b, str(PromotionState.RUNNING)))
        return row["id"] if row is not None else None

    @_serialized
    async def running(self) -> list[dict[str, Any]]:
        """Every promotion still `running`, one query: {id, b, holder, holder_until} (what a
        reconciler looks at each round to carry on the ones a killed envdeck left)."""
        rows = await self._db.fetchall("SELECT id, b, holder, holder_until FROM promotions WHERE state = ? "
                                       "ORDER BY created_at, id", (str(PromotionState.RUNNING),))
        return [{"id": r["id"], "b": r["b"], "holder": r["holder"], "holder_until": _when(r["holder_until"])}
                for r in rows]

    @_serialized
    async def upsert_step(self, step: PromotionStep) -> None:
        c = step.change
        await self._db.execute(_UPSERT_STEP, (
            step.promotion, step.seq, c.wave, c.component, c.resource, c.field, _dumps(c.before), _dumps(c.after),
            str(step.state), step.message, iso(step.started_at) if step.started_at else None,
            iso(step.finished_at) if step.finished_at else None, step.attempts))

    @_serialized
    async def set_state(self, pid: str, state: PromotionState, *, reason: str = "",
                        waves_done: int | None = None, only_running: bool = False) -> bool:
        """Whether the row changed; `only_running`: only while it is `running` (an engine's end
        never overwrites a rollback's fence)."""
        sql = "UPDATE promotions SET state = ?, reason = ?, updated_at = ?"
        args: list[Any] = [str(state), reason, iso(now_utc())]
        if waves_done is not None:
            sql += ", wave = ?"
            args.append(waves_done)
        sql += " WHERE id = ?"
        args.append(pid)
        if only_running:
            sql += " AND state = ?"
            args.append(str(PromotionState.RUNNING))
        return bool(await self._db.execute(sql, args))

    @_serialized
    async def state(self, pid: str) -> PromotionState:
        """The promotion's state now (what an engine checks before each step: the fence)."""
        row = await self._db.fetchone("SELECT state FROM promotions WHERE id = ?", (pid,))
        if row is None:
            raise NotFound(f"no promotion {pid}")
        return PromotionState(row["state"])

    @_serialized
    async def fence(self, pid: str, reason: str) -> bool:
        """Stop a `running` promotion for its rollback: `failed` with `reason`, in one UPDATE
        (atomic across processes). An engine carrying it out stops at its next step (it checks
        the state before each row and each health poll). False: it was not `running`."""
        return bool(await self._db.execute(
            "UPDATE promotions SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state = ?",
            (str(PromotionState.FAILED), reason, iso(now_utc()), pid, str(PromotionState.RUNNING))))

    @_serialized
    async def lease(self, pid: str) -> tuple[str | None, datetime | None]:
        """(holder, holder_until) of the promotion's lease now."""
        row = await self._db.fetchone("SELECT holder, holder_until FROM promotions WHERE id = ?", (pid,))
        if row is None:
            raise NotFound(f"no promotion {pid}")
        return row["holder"], _when(row["holder_until"])

    @_serialized
    async def set_waves_done(self, pid: str, waves_done: int) -> None:
        await self._db.execute("UPDATE promotions SET wave = ?, updated_at = ? WHERE id = ?",
                               (waves_done, iso(now_utc()), pid))

    # -- lease -----------------------------------------------------------------------
    @_serialized
    async def take_lease(self, pid: str, holder: str, ttl_s: float, *, replace: str | None = None) -> str | None:
        """None when taken (free, expired, ours, or held by `replace`, a holder known gone), else
        "HOLDER (until TIME)". One UPDATE: atomic across processes."""
        now = now_utc()
        changed = await self._db.execute(
            "UPDATE promotions SET holder = ?, holder_until = ? WHERE id = ? AND "
            "(holder IS NULL OR holder = ? OR holder = ? OR holder_until IS NULL OR holder_until <= ?)",
            (holder, iso(now + timedelta(seconds=ttl_s)), pid, holder, replace or holder, iso(now)))
        if changed:
            return None
        row = await self._db.fetchone("SELECT holder, holder_until FROM promotions WHERE id = ?", (pid,))
        if row is None:
            raise NotFound(f"no promotion {pid}")
        return f"{row['holder']} (until {row['holder_until']})"

    @_serialized
    async def renew_lease(self, pid: str, holder: str, ttl_s: float) -> bool:
        return bool(await self._db.execute(
            "UPDATE promotions SET holder_until = ? WHERE id = ? AND holder = ?",
            (iso(now_utc() + timedelta(seconds=ttl_s)), pid, holder)))

    @_serialized
    async def release_lease(self, pid: str, holder: str) -> None:
        await self._db.execute("UPDATE promotions SET holder = NULL, holder_until = NULL WHERE id = ? AND holder = ?",
                               (pid, holder))
