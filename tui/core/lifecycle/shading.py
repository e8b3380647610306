"""How the lifecycle state of a created environment colours what the reconciler observes.

- Sleeping: the resources its sleep memory names (instances stopped, workloads at 0, edge
  services stopped by `envdeck env sleep`) are Suspended, "asleep", with no fault and no
  drift: sleep did that on purpose. The others are evaluated as usual.
- Planned or provisioning: a desired resource not created yet (Missing) is Progressing,
  "being created", with no fault and no drift.

Anything else (ready, failed, destroying, a config environment) is shown as observed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from tui.core.lifecycle.records import EnvLifecycleState
from tui.core.model import Drift, DriftItem, Fault, Health, Resource

__all__ = ["LifecycleView", "Shaded", "shade"]


@dataclass(frozen=True)
class LifecycleView:
    """What the reconciler needs of a created environment's lifecycle to evaluate it."""
    env: str
    state: EnvLifecycleState
    #: resource ids that sleep scaled down or stopped (its sleep memory), while sleeping
    asleep: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Shaded:
    resources: list[Resource]
    faults: list[Fault]
    drifts: list[DriftItem]


def _mark(view: LifecycleView, resource: Resource) -> tuple[Health, str] | None:
    if view.state == EnvLifecycleState.SLEEPING and resource.id in view.asleep:
        return Health.SUSPENDED, f"asleep (envdeck env sleep {view.env}); envdeck env wake {view.env} restores it"
    if view.state in (EnvLifecycleState.PLANNED, EnvLifecycleState.PROVISIONING) and resource.health == Health.MISSING:
        return Health.PROGRESSING, f"being created (envdeck env create {view.env})"
    return None


def shade(view: LifecycleView, resources: list[Resource], faults: list[Fault], drifts: list[DriftItem],
          previous: Mapping[str, Resource]) -> Shaded:
    """The observation as the lifecycle state explains it. A shaded resource is a copy (the
    backend may keep its own object); the previous copy is kept when nothing changed, so an
    unchanged resource is not reported (nor stored) again every pass."""
    out: list[Resource] = []
    explained: set[str] = set()
    for r in resources:
        mark = _mark(view, r)
        if mark is None:
            out.append(r)
            continue
        explained.add(r.id)
        health, reason = mark
        copy = dataclasses.replace(r, health=health, health_reason=reason,
                                   drift=Drift.IN_SYNC if r.drift == Drift.DRIFTED else r.drift)
        prev = previous.get(r.id)
        out.append(prev if prev == copy else copy)
    if not explained:
        return Shaded(resources, faults, drifts)
    return Shaded(out, [f for f in faults if f.resource not in explained],
                  [d for d in drifts if d.resource not in explained])
