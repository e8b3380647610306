"""What the reconciler knows about one environment, and the typed changes it publishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tui.core.compliance_score import ComplianceScore
from tui.core.model import (
    BackendState,
    DriftItem,
    Fault,
    Health,
    RepairRecord,
    Resource,
    TimelineEntry,
    iso,
    now_utc,
    rollup_drift,
    worst_health,
)
from tui.core.redaction import NAME_MAX, cap_text, redact_text


@dataclass(frozen=True, slots=True)
class RepairPause:
    """An environment's automatic repairs paused for every process on the store (`repair_pauses`):
    who paused them, when (ISO time) and why; no expiry, until someone resumes."""

    user: str
    at: str
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        return {"user": self.user, "at": self.at, "reason": self.reason}


@dataclass
class EnvState:
    name: str
    repair: str
    description: str = ""
    paused: bool = False
    # who paused the repairs, as the store keeps it (None: not paused, or paused by this process
    # only, as a test arranges); `paused` follows the store's pause from the next read of it
    pause: RepairPause | None = None
    # backend name -> resource id -> Resource
    resources: dict[str, dict[str, Resource]] = field(default_factory=dict)
    backends: dict[str, BackendState] = field(default_factory=dict)
    # Bumped by the reconciler whenever it changes `resources`; the roll-ups below (shown
    # on every refresh, over every resource) are computed once per revision.
    revision: int = 0
    _rollup: tuple | None = field(default=None, repr=False, compare=False)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    drifts: dict[str, list[DriftItem]] = field(default_factory=dict)
    repairs: list[RepairRecord] = field(default_factory=list)
    # desired-state overlays: (resource id, field) -> {resource, field, value, user, at, reason}
    overlays: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # automatic repair held: resource id -> {resource, until, user, at, reason}
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # leadership (issue 16, tui/core/leadership.py): "you", another holder "user@host:pid", or ""
    leader: str = ""
    lease_epoch: int = 0
    lease_since: datetime | None = None
    lease_note: str = ""  # why this process does not repair it (led by…, fenced, cannot renew)

    def all_resources(self) -> list[Resource]:
        return [r for per in self.resources.values() for r in per.values()]

    def resource(self, resource_id: str) -> Resource | None:
        backend = resource_id.split("/", 1)[0]
        return self.resources.get(backend, {}).get(resource_id)

    def all_faults(self) -> list[Fault]:
        return [f for per in self.faults.values() for f in per]

    def all_drifts(self) -> list[DriftItem]:
        return [d for per in self.drifts.values() for d in per]

    def _rollups(self) -> tuple[dict[str, set], Any, ComplianceScore]:
        """(each backend's distinct health values, drift roll-up, compliance counts)."""
        key = (self.revision, tuple((id(per), len(per)) for per in self.resources.values()))
        if self._rollup is None or self._rollup[0] != key:
            resources = self.all_resources()
            # only what a rule assessed counts (a finding is an assessment, whatever the flag says);
            # the score counts controls: the rules evaluated, and those with a finding
            assessed = clean = 0
            evaluated: set[str] = set()
            failing: set[str] = set()
            last: tuple[str, ...] = ()
            for r in resources:
                if r.findings:
                    assessed += 1
                    failing.update(f.rule for f in r.findings)
                elif r.assessed:
                    assessed += 1
                    clean += 1
                else:
                    continue
                if r.controls is not last:  # a backend's resources of one kind share one tuple
                    evaluated.update(r.controls)
                    last = r.controls
            evaluated |= failing
            healths = {bname: {r.health for r in per.values()} for bname, per in self.resources.items()}
            self._rollup = (key, healths, rollup_drift(r.drift for r in resources),
                            ComplianceScore(assessed, clean, len(evaluated), len(failing)))
        return self._rollup[1:]

    def health(self) -> Health:
        """The environment's health, as kstatus aggregates (Failed before Unknown): Degraded when a
        resource a backend that answers now reports is Degraded; else Unknown until every backend has
        answered once since envdeck started (the last stored state is shown with its age, but it is
        not a health), while one is unreachable, or when a resource is Unknown (an edge node not
        reached); else the worst of the rest (docs/tui.md, "HEALTH")."""
        healths = self._rollups()[0]
        answered = [values for bname, values in healths.items()
                    if (b := self.backends.get(bname)) is None or b.reachable is True]
        if any(Health.DEGRADED in values for values in answered):
            return Health.DEGRADED
        if any(b.reachable is not True for b in self.backends.values()):
            return Health.UNKNOWN
        return worst_health(h for values in answered for h in values)

    def drift(self) -> str | None:
        value = self._rollups()[1]
        return None if value is None else str(value)

    def compliance(self) -> ComplianceScore:
        """The controls evaluated and failing; the resources a compliance rule assessed, and those
        of them without a finding."""
        return self._rollups()[2]

    def compliance_score(self) -> float | None:
        """Share of the controls evaluated that pass, 0-100, rounded down to 0.1 and at most 99.9
        while one fails (tui/core/compliance_score.py); None when no control was evaluated."""
        return self.compliance().percent

    def data_age_s(self, now: datetime) -> float | None:
        stamps = [b.observed_at for b in self.backends.values() if b.observed_at]
        if not stamps:
            return None
        return max(0.0, (now - min(stamps)).total_seconds())

    def to_json(self, *, include_resources: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "health": str(self.health()),
            "drift": self.drift(),
            "repair": self.repair,
            "paused": self.paused,
            "pause": self.pause.to_json() if self.paused and self.pause is not None else None,
            "compliance_score": self.compliance_score(),
            "compliance_assessed": self.compliance().assessed,
            "compliance_clean": self.compliance().clean,
            "compliance_controls": self.compliance().controls,
            "compliance_controls_failing": self.compliance().failing,
            "backends": {name: b.to_json() for name, b in self.backends.items()},
        }
        if include_resources:
            data["resources"] = [r.to_json() for r in sorted(self.all_resources(), key=lambda r: r.id)]
        data["faults"] = [f.to_json() for f in self.all_faults()]
        data["drifts"] = [d.to_json() for d in self.all_drifts()]
        data["desired_overlays"] = [dict(o) for _, o in sorted(self.overlays.items())]
        data["repair_holds"] = [{**h, "until": iso(h["until"])} for _, h in sorted(self.holds.items())]
        data["leader"] = self.leader or None
        data["epoch"] = self.lease_epoch
        data["lease_age_s"] = (round(max((now_utc() - self.lease_since).total_seconds(), 0.0), 1)
                               if self.leader and self.lease_since else None)
        if self.lease_note:
            data["lease_note"] = self.lease_note
        return data


# -- what the reconciler publishes to subscribers (the TUI) -------------------

@dataclass(frozen=True)
class ResourcesChanged:
    env: str
    backend: str
    changed: list[Resource]
    removed: list[str]


@dataclass(frozen=True)
class SamplesAdded:
    """New metric samples of an observation: (resource id, metric, value)."""
    env: str
    backend: str
    samples: list[tuple[str, str, float]]


@dataclass(frozen=True)
class BackendStatusChanged:
    env: str
    backend: str
    state: BackendState


@dataclass(frozen=True)
class DriftsChanged:
    env: str
    backend: str
    drifts: list[DriftItem]


@dataclass(frozen=True)
class FaultsChanged:
    env: str
    backend: str
    faults: list[Fault]


@dataclass(frozen=True)
class RepairPerformed:
    env: str
    record: RepairRecord
    origin: str = "reconciler"  # who asked: the reconciler by itself, or a user (tui, cli)


@dataclass(frozen=True)
class TimelineAdded:
    env: str
    entries: list[dict[str, Any]]


@dataclass(frozen=True)
class EnvPaused:
    env: str
    paused: bool
    by: RepairPause | None = None  # who paused it (None: resumed, or not known)


@dataclass(frozen=True)
class LeaderChanged:
    """Who leads `env` changed (EnvState.leader, lease_epoch, lease_note)."""

    env: str
    leader: str
    note: str = ""
    took_over: str = ""  # "now leading ENV (HOLDER gone)" once, when this process took the lease over


@dataclass(frozen=True)
class LifecycleChanged:
    """A managed (template-created) environment changed state or step; `managed` is a
    `tui.core.lifecycle.records.ManagedEnvironment` (its `steps` filled)."""
    env: str
    managed: Any


@dataclass(frozen=True)
class EnvironmentsChanged:
    """An environment appeared in (created and ready) or left (destroyed) what the
    reconciler observes; `added`/`removed` are names."""
    added: list[str]
    removed: list[str]


Change = (ResourcesChanged | SamplesAdded | BackendStatusChanged | DriftsChanged | FaultsChanged | RepairPerformed
          | TimelineAdded | EnvPaused | LeaderChanged | LifecycleChanged | EnvironmentsChanged)


def timeline_entry(entry: TimelineEntry) -> dict[str, Any]:
    """A timeline entry as the screens show it: capped and redacted like the stored one (tui/core/redaction.py)."""
    return {"at": iso(entry.at), "resource": entry.resource, "kind": entry.kind, "severity": entry.severity,
            "reason": redact_text(cap_text(entry.reason, NAME_MAX)), "message": redact_text(cap_text(entry.message)),
            "count": entry.count}
