"""The records of a promotion (issue 18) and their states.

A promotion brings environment A's versions to environment B. Its plan is a list of
`PlannedChange`s in waves (one component per wave, in the plan's order); each becomes a
`PromotionStep` row written before its backend call. States:

- promotion: `running` → `succeeded`, or `failed` (the step and reason; B is partly promoted:
  `promoted` names the components that were); `rolled-back` once a rollback of it succeeded;
- step: `pending` → `applying` (committed before the backend call) → `applied` → `healthy`,
  or `failed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tui.core.model import iso

__all__ = ["STOPPED_FOR_ROLLBACK", "PlannedChange", "Promotion", "PromotionPlan", "PromotionState", "PromotionStep", "Skipped",
           "StepState"]


class PromotionState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"


class StepState(StrEnum):
    PENDING = "pending"
    APPLYING = "applying"
    APPLIED = "applied"
    HEALTHY = "healthy"
    FAILED = "failed"


_REACHED = (StepState.APPLIED, StepState.HEALTHY)
#: how the reason of a promotion `promote --rollback` stopped while unfinished begins (its fence)
STOPPED_FOR_ROLLBACK = "stopped for rollback by "


def _text(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One change of the plan: B's `resource` `field` goes from `before` to `after` (A's)."""

    wave: int
    component: str           # the role (tui/core/compare/roles.py)
    resource: str            # B's resource id
    field: str               # "image"
    before: Any              # {container: image} as B runs it
    after: Any               # {container: image} as A runs it
    source: str = ""         # A's resource id

    def describe(self) -> str:
        return f"{self.resource} {self.field}: {_text(self.before)} → {_text(self.after)}"

    def to_json(self) -> dict[str, Any]:
        return {"wave": self.wave, "component": self.component, "resource": self.resource, "field": self.field,
                "from": self.before, "to": self.after, "source": self.source}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedChange:
        return cls(int(data["wave"]), str(data["component"]), str(data["resource"]), str(data["field"]),
                   data.get("from"), data.get("to"), str(data.get("source") or ""))


@dataclass(frozen=True, slots=True)
class Skipped:
    """A component of the selection the plan does not change, and why."""

    component: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"component": self.component, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PromotionPlan:
    a: str
    b: str
    changes: list[PlannedChange]
    skipped: list[Skipped] = field(default_factory=list)
    rollback_of: str | None = None

    @property
    def waves(self) -> list[list[PlannedChange]]:
        out: dict[int, list[PlannedChange]] = {}
        for change in self.changes:
            out.setdefault(change.wave, []).append(change)
        return [out[w] for w in sorted(out)]

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "changes": [c.to_json() for c in self.changes],
                "waves": len(self.waves), "skipped": [s.to_json() for s in self.skipped],
                "rollback_of": self.rollback_of}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, default=str)

    @classmethod
    def loads(cls, text: str) -> PromotionPlan:
        data = json.loads(text)
        return cls(str(data["a"]), str(data["b"]), [PlannedChange.from_json(c) for c in data.get("changes") or []],
                   [Skipped(str(s["component"]), str(s["reason"])) for s in data.get("skipped") or []],
                   data.get("rollback_of"))


@dataclass(slots=True)
class PromotionStep:
    promotion: str
    seq: int
    change: PlannedChange
    state: StepState = StepState.PENDING
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**self.change.to_json(), "seq": self.seq, "state": str(self.state), "message": self.message,
                "started_at": iso(self.started_at) if self.started_at else None,
                "finished_at": iso(self.finished_at) if self.finished_at else None, "attempts": self.attempts}


@dataclass(slots=True)
class Promotion:
    id: str
    a: str
    b: str
    user: str
    state: PromotionState
    plan: PromotionPlan
    #: {resource id: {field: {"running": value before, "overlay": overlay value before or None}}}
    previous: dict[str, dict[str, Any]]
    created_at: datetime
    origin: str = ""
    rollback_of: str | None = None
    waves_done: int = 0
    reason: str = ""
    updated_at: datetime | None = None
    steps: list[PromotionStep] = field(default_factory=list)

    @property
    def promoted(self) -> list[str]:
        """The components whose change reached B (asked of the backend: healthy or not)."""
        return sorted({s.change.component for s in self.steps if s.attempts > 0 or s.state in _REACHED})

    @property
    def healthy(self) -> list[str]:
        return sorted({s.change.component for s in self.steps if s.state == StepState.HEALTHY})

    @property
    def failed_step(self) -> PromotionStep | None:
        return next((s for s in self.steps if s.state == StepState.FAILED), None)

    def summary(self) -> str:
        """One line saying where the promotion stands (partly promoted: which components)."""
        total = len(self.steps)
        healthy = sum(1 for s in self.steps if s.state == StepState.HEALTHY)
        if self.rollback_of:
            return self._rollback_summary(healthy, total)
        what = "promotion"
        if self.state == PromotionState.SUCCEEDED:
            return f"{what} {self.id} of {self.a} → {self.b} succeeded: {healthy}/{total} change(s) healthy"
        if self.state == PromotionState.FAILED and self.reason.startswith(STOPPED_FOR_ROLLBACK):
            return f"{what} {self.id} of {self.a} → {self.b} {self.reason}: the rollback sets {self.b}'s versions back"
        if self.state == PromotionState.FAILED:
            healthy, promoted = self.healthy, self.promoted
            unhealthy = [c for c in promoted if c not in healthy]
            left = sorted({s.change.component for s in self.steps} - set(promoted))
            if not promoted:
                part = f"{self.b} is unchanged"
            else:
                part = f"{self.b} is partly promoted: {', '.join(promoted)} changed"
                if unhealthy:
                    part += f" ({', '.join(unhealthy)} not healthy)"
                if left:
                    part += f"; not changed: {', '.join(left)}"
                part += f"; envdeck promote --rollback {self.id} restores {self.b}'s versions before"
            return f"{what} {self.id} of {self.a} → {self.b} failed: {self.reason}; {part}"
        return f"{what} {self.id} of {self.a} → {self.b} is {self.state} ({healthy}/{total} change(s) healthy)"

    def _rollback_summary(self, healthy: int, total: int) -> str:
        """A rollback is named by the promotion it undoes, so that it does not read as a
        promotion of A into B."""
        what = f"rollback of promotion {self.rollback_of} ({self.a} → {self.b})"
        if self.state == PromotionState.SUCCEEDED:
            return f"{what} succeeded: {self.b} back to its previous versions ({healthy}/{total} change(s) healthy)"
        if self.state == PromotionState.FAILED:
            restored = self.promoted
            left = sorted({s.change.component for s in self.steps} - set(restored))
            part = (f"{self.b} is partly rolled back: {', '.join(restored)} restored" if restored
                    else f"{self.b} is unchanged")
            if restored and left:
                part += f"; not restored: {', '.join(left)}"
            return f"{what} failed: {self.reason}; {part}"
        return f"{what} is {self.state} ({healthy}/{total} change(s) healthy)"

    def to_json(self) -> dict[str, Any]:
        failed = self.failed_step
        return {"id": self.id, "a": self.a, "b": self.b, "user": self.user, "origin": self.origin,
                "state": str(self.state), "rollback_of": self.rollback_of, "waves_done": self.waves_done,
                "waves": len(self.plan.waves), "reason": self.reason, "promoted": self.promoted,
                "healthy": self.healthy,
                "failed": ({"component": failed.change.component, "resource": failed.change.resource,
                            "reason": failed.message} if failed else None),
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at) if self.updated_at else None,
                "plan": self.plan.to_json(), "steps": [s.to_json() for s in self.steps], "summary": self.summary()}
