"""A manual action against the declared desired state: keep its value as an overlay, or
hold the resource's automatic repair for a while, so that the reconciler does not undo it.

Both go through the Session's policy and are audited, like any action; both live in the
store (`desired_overlay`, `repair_holds`), so the CLI, the TUI and `envdeck reconcile`
in other processes honour them from their next pass. Never imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tui.core.audited import audited
from tui.core.model import ActionSpec, AuditResult, DriftItem, Resource, Role, iso
from tui.core.shown_value import shown_value

if TYPE_CHECKING:
    from tui.core.session import Session

# Changing the desired state is the admin's (like a repair); holding a repair for a while
# is the operator's (like pausing).
SET_DESIRED = ActionSpec("set-desired", "Keep as desired state", role=Role.ADMIN, mutating=True)
CLEAR_DESIRED = ActionSpec("clear-desired", "Drop a desired-state overlay", role=Role.ADMIN, mutating=True)
HOLD_REPAIR = ActionSpec("hold-repair", "Hold automatic repair", role=Role.OPERATOR, mutating=True)
DEFAULT_HOLD_S = 15 * 60.0
MAX_HOLD_S = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Conflict:
    """What a planned action would do against the desired state that envdeck enforces."""

    resource: str
    field: str
    desired: Any  # enforced now (the config's, or an overlay's)
    value: Any  # what the action sets

    def describe(self) -> str:
        return f"{self.resource} {self.field}: desired {shown_value(self.desired)}, the action sets {shown_value(self.value)}"


def conflicts(session: Session, env: str, resource: Resource, action: str,
              params: dict[str, str]) -> list[Conflict]:
    """Conflicts that matter now: only where the reconciler would repair by itself (`auto`)."""
    reconciler = session.reconciler
    state = reconciler.envs.get(env)
    if state is None or state.repair != "auto":
        return []
    items: list[DriftItem] = reconciler.conflicts(env, resource, action, params)
    return [Conflict(d.resource, d.field, d.desired, d.actual) for d in items]


async def set_desired(session: Session, env: str, found: list[Conflict], *, reason: str) -> None:
    """Keep each conflict's value as the desired one (an overlay over the config)."""
    for c in found:
        params = {"field": c.field, "value": c.value, "was": c.desired}
        await session.authorize(env, c.resource, SET_DESIRED, params)
    now = session.reconciler.clock()
    for c in found:
        async with audited(session.store, user=session.user, env=env, target=c.resource, action=SET_DESIRED.name,
                           params={"field": c.field, "value": c.value, "was": c.desired, "reason": reason},
                           origin=session.origin):
            await session.store.set_overlay(env, c.resource, c.field, c.value, user=session.user, reason=reason,
                                            at=now)
    await session.reconciler.load_overrides(env)


async def undo_set_desired(session: Session, env: str, found: list[Conflict], *, reason: str) -> None:
    """The action failed after its overlay was kept: drop the overlay again (audited)."""
    for c in found:
        # one complete row, and only when there was an overlay to drop: this undoes what
        # set_desired recorded (no row of its own for nothing dropped)
        if await session.store.remove_overlay(env, c.resource, c.field):
            await session.store.audit_record(user=session.user, env=env, target=c.resource,
                                             action=CLEAR_DESIRED.name, params={"field": c.field},
                                             origin=session.origin, result=AuditResult.SUCCEEDED, message=reason)
    await session.reconciler.load_overrides(env)


async def clear_desired(session: Session, env: str, resource_id: str, field: str | None = None) -> int:
    """Drop the overlays of one resource (or of one of its fields): the config's value is
    desired again. Returns how many were dropped."""
    params = {"field": field} if field else {}
    await session.authorize(env, resource_id, CLEAR_DESIRED, params)
    async with audited(session.store, user=session.user, env=env, target=resource_id, action=CLEAR_DESIRED.name,
                       params=params, origin=session.origin) as op:
        count = await session.store.remove_overlay(env, resource_id, field)
        if count:
            op.succeed(f"{count} overlay(s) dropped")
        else:
            op.fail("no overlay to drop")
    await session.reconciler.load_overrides(env)
    return count


async def hold_repair(session: Session, env: str, resources: list[str], seconds: float, *, reason: str) -> datetime:
    """Hold the automatic repair of these resources for `seconds`; returns until when.
    The reconciler keeps observing them (their drift shows), it only does not repair them."""
    if not 0 < seconds <= MAX_HOLD_S:
        raise ValueError(f"a repair hold lasts more than 0s and at most {MAX_HOLD_S / 86400:.0f} days")
    for rid in resources:
        await session.authorize(env, rid, HOLD_REPAIR, {"seconds": seconds})
    now = session.reconciler.clock()
    until = (now + timedelta(seconds=seconds)).replace(microsecond=0)  # as the store keeps it
    for rid in resources:
        async with audited(session.store, user=session.user, env=env, target=rid, action=HOLD_REPAIR.name,
                           params={"until": iso(until), "reason": reason}, origin=session.origin):
            await session.store.set_hold(env, rid, until, user=session.user, reason=reason, at=now)
    await session.reconciler.load_overrides(env)
    return until
