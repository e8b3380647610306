"""`env list`'s rows: `ManagedEnvironment.to_json()` with its `step` ({"id", "reason"}: the
current or failed step and its reason) filled from the steps while an operation is under way and
the environment's record names none. A destroy that cannot reach a backend keeps asking
(engine `_reaching`) and says so on the step's row only ("web: cannot reach aws: …; trying
again"): the list shows that step, not `-`."""

from __future__ import annotations

from typing import Any

from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment, StepRecord, StepState

#: the states of a step whose backend call is under way (its message: what it waits for)
UNDER_WAY = frozenset({StepState.CREATING, StepState.WAITING, StepState.DELETING})
#: the environment's states in which an operation runs
BUSY = frozenset({EnvLifecycleState.PLANNED, EnvLifecycleState.PROVISIONING, EnvLifecycleState.DESTROYING})


def step_under_way(managed: ManagedEnvironment) -> StepRecord | None:
    """The step an operation under way waits on, with what it says: one retrying (its message
    ends `trying again`) first, else the first under way with a message; None at rest."""
    if managed.state not in BUSY and managed.operation is None:
        return None
    said = [s for s in managed.steps if s.state in UNDER_WAY and s.message]
    retrying = [s for s in said if s.message.endswith("trying again")]
    return (retrying or said or [None])[0]


def list_row(managed: ManagedEnvironment) -> dict[str, Any]:
    """One `env list --json` row (the table's cells are read from it too)."""
    row = managed.to_json()
    if row["step"] is None:
        step = step_under_way(managed)
        if step is not None:
            row["step"] = {"id": step.id, "reason": step.message}
    return row
