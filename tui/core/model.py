"""The resource model shared by backends, reconciler, store, CLI and screens.

Vocabularies (health, drift, severities, origins, results) are part of the public
contract: they appear verbatim in `envdeck status --json` and in the store.
Plain dataclasses keep the hot path (20k pods) cheap; `to_json()` gives the
JSON shape of the CLI contract.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from tui.core.backend_names import BACKENDS as _BACKEND_NAMES


class Health(enum.StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


# Worst last, as in Argo CD's health ordering.
HEALTH_ORDER: tuple[Health, ...] = (
    Health.HEALTHY,
    Health.SUSPENDED,
    Health.PROGRESSING,
    Health.MISSING,
    Health.DEGRADED,
    Health.UNKNOWN,
)
_HEALTH_RANK = {h: i for i, h in enumerate(HEALTH_ORDER)}


def worst_health(values: Any) -> Health:
    """The worst of some health values; Healthy when there are none."""
    present = set(values)  # a handful of distinct values however many resources (C-speed set)
    worst = Health.HEALTHY
    for value in present:
        health = Health(value)
        if _HEALTH_RANK[health] > _HEALTH_RANK[worst]:
            worst = health
    return worst


class Drift(enum.StrEnum):
    IN_SYNC = "InSync"
    DRIFTED = "Drifted"
    UNKNOWN = "Unknown"


def rollup_drift(values: Any) -> Drift | None:
    """Drifted if any is drifted, else Unknown if any unknown, else InSync; None if no desired state."""
    seen = {Drift(v) for v in set(values) if v is not None}
    if not seen:
        return None
    if Drift.DRIFTED in seen:
        return Drift.DRIFTED
    if Drift.UNKNOWN in seen:
        return Drift.UNKNOWN
    return Drift.IN_SYNC


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_ORDER = (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


class Origin(enum.StrEnum):
    CLI = "cli"
    TUI = "tui"
    RECONCILER = "reconciler"
    TTL = "ttl"  # the lifecycle engine destroying an expired environment


class AuditResult(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    INTERRUPTED = "interrupted"


class Role(enum.IntEnum):
    """Roles are ordered: each includes the rights of the ones below it."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


BACKENDS = _BACKEND_NAMES  # the kinds of backend (tui/core/backend_names.py, light for the CLI)


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def resource_id(backend: str, kind: str, name: str) -> str:
    return f"{backend}/{kind}/{name}"


class TimelineEntry(NamedTuple):
    """One row of an environment's timeline, as the reconciler records it (store) and
    publishes it (env_state.timeline_entry): an event, a new fault, a new drift, a repair."""

    at: datetime
    resource: str
    kind: str  # event, fault, drift, repair
    severity: str
    reason: str
    message: str
    count: int = 1


@dataclass(slots=True)
class Finding:
    """A compliance finding: a rule that a resource breaks."""

    rule: str
    severity: Severity
    message: str
    resource: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": str(self.severity), "message": self.message,
                "resource": self.resource}


@dataclass(slots=True)
class Resource:
    id: str
    backend: str
    kind: str
    name: str
    health: Health = Health.UNKNOWN
    status: str = ""
    observed_at: datetime | None = None
    drift: Drift | None = None
    console_url: str | None = None
    findings: list[Finding] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    # Why the health is what it is (e.g. "CrashLoopBackOff: back-off 5m0s"); shown in the UI.
    health_reason: str = ""
    created_at: datetime | None = None
    # Small numeric summary for tables (e.g. {"cpu": 12.5}); not part of the JSON contract.
    metrics: dict[str, float] = field(default_factory=dict)
    # A compliance rule looked at this resource (set where the backend evaluates its rules, with
    # or without findings): only assessed resources count in the compliance score, so a ConfigMap
    # or a pod judged on its Deployment's template cannot dilute it (tui/core/compliance_score.py).
    assessed: bool = False
    # The compliance rules (controls) the backend evaluated on it, passed or not: the score counts
    # controls, so a thousand compliant pods pass no more of them than one (compliance_score.py).
    controls: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "backend": self.backend,
            "kind": self.kind,
            "name": self.name,
            "health": str(self.health),
            "health_reason": self.health_reason,
            "drift": None if self.drift is None else str(self.drift),
            "status": self.status,
            "observed_at": iso(self.observed_at),
            "created_at": iso(self.created_at),
            "console_url": self.console_url,
            "findings": [f.to_json() for f in self.findings],
            "assessed": self.assessed,
            "controls": list(self.controls),
            "attributes": self.attributes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resource:
        return cls(
            id=data["id"],
            backend=data["backend"],
            kind=data["kind"],
            name=data["name"],
            health=Health(data.get("health") or "Unknown"),
            health_reason=data.get("health_reason") or "",
            drift=Drift(data["drift"]) if data.get("drift") else None,
            status=data.get("status") or "",
            observed_at=parse_iso(data.get("observed_at")),
            created_at=parse_iso(data.get("created_at")),
            console_url=data.get("console_url"),
            findings=[
                Finding(f["rule"], Severity(f["severity"]), f["message"], f.get("resource", ""))
                for f in data.get("findings") or []
            ],
            attributes=data.get("attributes") or {},
            # a row stored before the flag existed: its findings show that a rule assessed it
            assessed=bool(data.get("assessed", bool(data.get("findings")))),
            # ... and which rules did (the others it passed are not known then)
            controls=_controls(data),
        )


def _controls(data: dict[str, Any]) -> tuple[str, ...]:
    """A stored resource's controls; one stored before they were: the rules of its findings."""
    controls = data.get("controls")
    if isinstance(controls, list):
        return tuple(str(c) for c in controls)
    return tuple(sorted({str(f.get("rule")) for f in data.get("findings") or [] if isinstance(f, dict)}))


@dataclass(slots=True)
class Fault:
    resource: str
    severity: Severity
    reason: str
    message: str
    since: datetime | None = None
    count: int = 1
    last_seen: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "severity": str(self.severity),
            "reason": self.reason,
            "message": self.message,
            "since": iso(self.since),
            "count": self.count,
            "last_seen": iso(self.last_seen),
        }


@dataclass(slots=True)
class DriftItem:
    """One field of one resource whose observed value differs from the desired one."""

    resource: str
    field: str
    desired: Any
    actual: Any

    def key(self) -> tuple[str, str, str]:
        import json

        return (self.resource, self.field, json.dumps(self.desired, sort_keys=True, default=str))

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "field": self.field, "desired": self.desired,
                "actual": self.actual}


@dataclass(slots=True)
class Event:
    """A timeline entry observed at a backend (Kubernetes event, ECS event, alarm change...)."""

    resource: str
    reason: str
    message: str
    at: datetime
    type: str = "Normal"  # Normal | Warning
    count: int = 1


@dataclass(slots=True)
class ActionSpec:
    """An action a resource supports, with the role it needs."""

    name: str  # e.g. "restart", "scale", "stop", "terminate"
    title: str
    role: Role = Role.OPERATOR
    mutating: bool = True
    destructive: bool = False  # needs the resource name typed to confirm
    params: tuple[str, ...] = ()  # parameter names, e.g. ("replicas",)
    optional: tuple[str, ...] = ()  # those of `params` that may be left out; the others are required

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "role": self.role.label,
                "mutating": self.mutating, "destructive": self.destructive,
                "params": list(self.params)}


@dataclass(slots=True)
class ActionResult:
    ok: bool
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LogLine:
    text: str
    source: str = ""  # pod/container, node:service, log stream...
    at: datetime | None = None


@dataclass(slots=True)
class MetricSeries:
    resource: str
    name: str  # e.g. "cpu", "memory", "load1", "disk:/"
    unit: str
    points: list[tuple[datetime, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "name": self.name, "unit": self.unit,
                "points": [[iso(t), v] for t, v in self.points]}


@dataclass(slots=True)
class ResourceDelta:
    """What changed since the previous Observation of the same watch stream: the Resources
    new or changed (the objects of `Observation.resources`) and the ids gone. A Resource
    with desired state carries a drift mark (not None), as in a full observation."""

    changed: list[Resource] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Observation:
    """What one observe pass of one backend saw."""

    backend: str
    resources: list[Resource] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    observed_at: datetime = field(default_factory=now_utc)
    # Metric samples worth keeping for sparklines: (resource id, metric name, value).
    samples: list[tuple[str, str, float]] = field(default_factory=list)
    # A watch's observation after its first: `resources` is still all of them; the delta lets
    # the reconciler apply only what changed (None: compare everything, as after a relist).
    delta: ResourceDelta | None = None
    # A backend of many hosts (edge): how many it has and how many the pass did not reach. The
    # backend still answers while some do (reachable), and these say how much of it is down.
    nodes_total: int | None = None
    nodes_unreachable: int | None = None


@dataclass(slots=True)
class BackendState:
    """The reconciler's view of one backend of one environment."""

    name: str
    reachable: bool | None = None  # None: never tried yet
    error: str | None = None
    observed_at: datetime | None = None  # last good observation
    last_pass: datetime | None = None
    next_pass: datetime | None = None
    failures: int = 0
    backoff_s: float = 0.0
    watching: bool = False
    # a backend of many hosts (edge): its last good pass's count of them and of those not reached
    nodes_total: int | None = None
    nodes_unreachable: int | None = None

    def nodes_down(self) -> tuple[int, int] | None:
        """(unreachable, total) while the backend answers but some of its hosts did not, else None."""
        if self.reachable is True and self.nodes_total and self.nodes_unreachable:
            return self.nodes_unreachable, self.nodes_total
        return None

    def to_json(self) -> dict[str, Any]:
        data = {
            "reachable": bool(self.reachable),
            "error": self.error,
            "observed_at": iso(self.observed_at),
            "last_pass": iso(self.last_pass),
            "next_pass": iso(self.next_pass),
            "failures": self.failures,
            "backoff_s": round(self.backoff_s, 3),
        }
        if self.nodes_total is not None:  # added fields, only for a backend of hosts (edge)
            data["nodes_total"] = self.nodes_total
            data["nodes_unreachable"] = self.nodes_unreachable
        return data


@dataclass(slots=True)
class RepairRecord:
    resource: str
    field: str
    action: str
    result: str  # AuditResult value
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "field": self.field, "action": self.action,
                "result": self.result, "message": self.message}
