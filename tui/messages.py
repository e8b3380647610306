"""Typed Textual messages (past-tense names) and the bridge from the reconciler.

The reconciler calls its subscribers on the event loop and they must not block.
`ReconcilerBridge` turns each change into at most one queued `EnvUpdated` per
environment: the kinds of change are accumulated in the bridge and taken by the
handler, so coalescing (`can_replace`) never loses information. Screens then
re-read `EnvState` (the source of truth) and update their widgets by difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from tui.core.env_state import (
    BackendStatusChanged,
    Change,
    DriftsChanged,
    EnvironmentsChanged,
    EnvPaused,
    FaultsChanged,
    LeaderChanged,
    LifecycleChanged,
    RepairPerformed,
    ResourcesChanged,
    SamplesAdded,
    TimelineAdded,
)
from tui.core.model import LogLine, MetricSeries, Origin, RepairRecord

if TYPE_CHECKING:
    from tui.core.lifecycle.plan import Plan
    from tui.core.lifecycle.records import ManagedEnvironment

# What changed in an environment (the `kinds` of EnvUpdated).
RESOURCES, BACKENDS, DRIFTS, FAULTS, TIMELINE, PAUSED, SAMPLES = (
    "resources", "backends", "drifts", "faults", "timeline", "paused", "samples")
LIFECYCLE = "lifecycle"  # a managed environment's state or steps (LifecycleUpdated, not a bridge kind)
MAX_PENDING_SAMPLES = 100_000  # per environment, between two handled updates (oldest dropped)

_KIND_OF = {
    ResourcesChanged: RESOURCES,
    BackendStatusChanged: BACKENDS,
    DriftsChanged: DRIFTS,
    FaultsChanged: FAULTS,
    TimelineAdded: TIMELINE,
    EnvPaused: PAUSED,
    LeaderChanged: PAUSED,  # the status bar's "led by" (refreshed with the paused state)
    RepairPerformed: TIMELINE,
    SamplesAdded: SAMPLES,
}


class EnvUpdated(Message):
    """Something changed in `env`; take the kinds from the bridge."""

    def __init__(self, env: str) -> None:
        super().__init__()
        self.env = env

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EnvUpdated) and message.env == self.env


class RepairsPerformed(Message):
    """The reconciler repaired (or tried to repair) drift; take the records from the bridge."""

    def __init__(self, env: str) -> None:
        super().__init__()
        self.env = env

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RepairsPerformed) and message.env == self.env


@dataclass
class _Pending:
    kinds: set[str] = field(default_factory=set)
    queued: bool = False


class ReconcilerBridge:
    """Subscribed to the reconciler; posts coalesced messages to the app."""

    def __init__(self, post: Callable[[Message], Any]) -> None:
        self._post = post
        self._pending: dict[str, _Pending] = {}
        self._repairs: dict[str, list[RepairRecord]] = {}
        self._samples: dict[str, list[tuple[str, str, float]]] = {}

    def __call__(self, change: Change) -> None:
        # Lifecycle changes carry the whole record: posted as they are (coalesced per
        # environment, the latest record wins), not as kinds to re-read.
        if isinstance(change, LifecycleChanged):
            self._post(LifecycleUpdated(change.env, change.managed))
            return
        if isinstance(change, EnvironmentsChanged):
            self._post(EnvironmentsUpdated(list(change.added), list(change.removed)))
            return
        pending = self._pending.setdefault(change.env, _Pending())
        pending.kinds.add(_KIND_OF.get(type(change), RESOURCES))
        if isinstance(change, LeaderChanged) and change.took_over:
            pending.kinds.add(TIMELINE)  # its Timeline row
            self._post(LeadershipTakenOver(change.env, change.took_over))
        if isinstance(change, RepairPerformed) and change.origin == Origin.RECONCILER:
            # a repair a user asked for (R) is reported by its ActionFinished: one toast, not two
            self._repairs.setdefault(change.env, []).append(change.record)
            self._post(RepairsPerformed(change.env))
        elif isinstance(change, SamplesAdded):
            pending_samples = self._samples.setdefault(change.env, [])
            pending_samples.extend(change.samples)
            if len(pending_samples) > MAX_PENDING_SAMPLES:
                del pending_samples[:len(pending_samples) - MAX_PENDING_SAMPLES]
        if not pending.queued:
            pending.queued = True
            self._post(EnvUpdated(change.env))

    def take(self, env: str) -> set[str]:
        """The kinds of change since the last take (called by the EnvUpdated handler)."""
        pending = self._pending.get(env)
        if pending is None:
            return set()
        kinds, pending.kinds, pending.queued = pending.kinds, set(), False
        return kinds

    def take_repairs(self, env: str) -> list[RepairRecord]:
        return self._repairs.pop(env, [])

    def take_samples(self, env: str) -> list[tuple[str, str, float]]:
        """Metric samples since the last take (resource id, metric, value), oldest first."""
        return self._samples.pop(env, [])


@dataclass
class LifecycleUpdated(Message):
    """A managed environment changed state or step: `managed` is its whole
    `ManagedEnvironment` record (steps filled), so only the latest one matters."""

    env: str
    managed: ManagedEnvironment

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LifecycleUpdated) and message.env == self.env


@dataclass
class LeadershipTakenOver(Message):
    """This process took `env`'s lease over from another holder (gone or stopped leading):
    `text` ("now leading prod (root@vm:1234 gone)") is said once, as a toast."""

    env: str
    text: str


@dataclass
class EnvironmentsUpdated(Message):
    """Environments started (`added`) or stopped (`removed`) being observed."""

    added: list[str]
    removed: list[str]


@dataclass
class ManagedLoaded(Message):
    """The managed environments read from the store (at start, and after a failed request)."""

    managed: list[ManagedEnvironment]


@dataclass
class TemplatePlanned(Message):
    """The plan of a new environment (or why there is none: `error`)."""

    name: str
    plan: Plan | None
    error: str = ""


@dataclass
class LifecycleRequested(Message):
    """A lifecycle operation (create, destroy, sleep, wake) was handed over, or refused."""

    env: str
    operation: str
    managed: ManagedEnvironment | None
    error: str = ""
    denied: bool = False


class SessionOpened(Message):
    """The app's session (store + reconciler) is ready."""


@dataclass
class StoreWaiting(Message):
    """Opening the session's store waits for another session's migration lock (PostgreSQL):
    `text` says how long at most and who holds it (Session.open's `on_store_wait`)."""

    text: str


class SessionFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class LogLinesReceived(Message):
    """A batch of log lines for one logs view (never coalesced: lines are never dropped)."""

    def __init__(self, stream_id: int, lines: list[LogLine]) -> None:
        super().__init__()
        self.stream_id = stream_id
        self.lines = lines


class LogStreamEnded(Message):
    def __init__(self, stream_id: int, source: str, error: str | None) -> None:
        super().__init__()
        self.stream_id = stream_id
        self.source = source
        self.error = error


class MetricsLoaded(Message):
    def __init__(self, env: str, window_s: float, series: list[MetricSeries], error: str | None = None) -> None:
        super().__init__()
        self.env = env
        self.window_s = window_s
        self.series = series
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MetricsLoaded) and message.env == self.env


class TimelineLoaded(Message):
    """Timeline entries (events, faults, drift, repairs) and audit rows of one env."""

    def __init__(self, env: str, entries: list[dict[str, Any]], audit: list[dict[str, Any]]) -> None:
        super().__init__()
        self.env = env
        self.entries = entries
        self.audit = audit

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TimelineLoaded) and message.env == self.env


class ActionStarted(Message):
    def __init__(self, env: str, label: str) -> None:
        super().__init__()
        self.env = env
        self.label = label


class ActionFinished(Message):
    """An action, repair, pause or shell request finished (ok, failed or denied)."""

    def __init__(self, env: str, label: str, ok: bool, message: str, denied: bool = False) -> None:
        super().__init__()
        self.env = env
        self.label = label
        self.ok = ok
        self.message = message
        self.denied = denied


@dataclass
class ConfirmRequest:
    title: str
    details: list[str] = field(default_factory=list)  # outside text allowed: cleaned on display
    params: dict[str, str] = field(default_factory=dict)  # name -> default value
    type_to_confirm: str | None = None  # destructive: this text must be typed
    destructive: bool = False
    confirm_label: str = "Confirm"
    limits: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (min, max): whole numbers only
    counts: tuple[str, ...] = ()  # names of params that are whole numbers, 0 or more (replicas, …)


class ConfirmationRequested(Message):
    """A widget needs the user's confirmation: the app shows the confirmation screen and
    calls `done` with the parameters, or None when cancelled. Widgets post this instead
    of importing a screen."""

    def __init__(self, request: ConfirmRequest, done: Callable[[dict[str, str] | None], None]) -> None:
        super().__init__()
        self.request = request
        self.done = done
