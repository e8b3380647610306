"""Kubernetes Events (core/v1) → timeline Events, and Warning events → Faults.

An Event object is updated in place by the apiserver when it repeats (its
`count` and `lastTimestamp` grow); `EventLog` remembers what it has reported so
that each observation carries only new or repeated events.

Events outlive their object (the apiserver keeps them about an hour): a Warning about
a pod or Deployment that was deleted is no fault any more. `EventLog.faults(tables)`
leaves out the events whose involved object is of a kind the inventory holds (its table
knows every object of that kind in the namespace) and is not there; the timeline keeps them.
An object follows its identity, not only its name (`involvedObject.uid` against the table's
`metadata.uid`): one deleted and made again under the same name starts clean, the events of
its predecessor make no fault of it, its own events still count. An event without a uid (or an
object whose uid the table does not know) goes by the name alone.

An event's reason and message are capped as they are read (`tui.core.redaction.cap_text`: a few
KiB, redacted before the cut): a workload may post megabytes, and what is kept is redacted,
stored, published and shown many times.

A workload may also post thousands of Warning events (10,000 of 4 KB each took `status --json`
108 s, mostly redacting them downstream): `faults` keeps the newest FAULTS_PER_OBJECT per
involved object and FAULTS_MAX in all, with one `EventsNotShown` fault saying how many events
were left out, and `take_new` the newest EVENTS_PER_PASS of one observation with an
`EventsNotShown` event likewise; the cut is made before anything downstream redacts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from backends.kubernetes.convert import rid
from tui.core.model import Event, Fault, Severity, now_utc, parse_iso
from tui.core.redaction import NAME_MAX, REDACT_MARGIN, cap_text, read_piece

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAULTS_PER_OBJECT = 10   # event faults kept per involved object (the newest)
FAULTS_MAX = 200         # event faults kept per namespace, the "N more events not shown" one besides
EVENTS_PER_PASS = 300    # timeline events handed out by one observation (the newest)
NOT_SHOWN = "EventsNotShown"
NOT_SHOWN_RESOURCE = rid("Event", "not-shown")
# Warning reasons that mean something is broken now rather than a hiccup.
_HIGH_REASONS = {"BackOff", "Failed", "FailedMount", "FailedAttachVolume", "FailedCreate", "Evicted",
                 "OOMKilling", "FailedScheduling", "Unhealthy", "NodeNotReady"}


class ObjectTable(Protocol):
    """What `faults` needs of an inventory table (informer.ResourceTable): its objects by name, their uids."""

    entries: Mapping[str, Any]
    uids: Mapping[str, str]  # metadata.uid by name (absent or "": not known)


@dataclass(slots=True, frozen=True)
class SlimEvent:
    """What envdeck keeps of one Event object."""

    name: str
    resource: str
    reason: str
    message: str
    type: str
    count: int
    first: datetime | None
    last: datetime | None
    kind: str = ""         # the involved object's kind, name and uid
    object: str = ""
    uid: str = ""
    message_length: int = 0  # of the whole message, `message` its piece (read_piece), capped when handed out

    def about_a_deleted_object(self, tables: Mapping[str, ObjectTable]) -> bool:
        """Whether its object is of a kind the inventory holds, and gone: no object of that name,
        or one of another uid (the object was deleted and another made under its name)."""
        table = tables.get(self.kind)
        if table is None:
            return False
        if self.object not in table.entries:
            return True
        if not self.uid:
            return False
        current = table.uids.get(self.object, "")
        return bool(current) and current != self.uid

    def to_event(self) -> Event:
        return Event(self.resource, self.reason, self.capped_message(), self.last or self.first or now_utc(),
                     self.type, self.count)

    def capped_message(self) -> str:
        return _capped(self.message, self.message_length)

    def to_fault(self) -> Fault:
        severity = Severity.HIGH if self.reason in _HIGH_REASONS else Severity.MEDIUM
        return Fault(self.resource, severity, self.reason, self.capped_message(), self.first, self.count, self.last)


@lru_cache(maxsize=2_048)  # the faults of every pass, an observation's events: each message redacted once
def _capped(piece: str, length: int) -> str:
    return cap_text(piece, length=length)


def slim_event(obj: dict[str, Any]) -> SlimEvent:
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    series = obj.get("series") or {}
    first = parse_iso(obj.get("firstTimestamp") or obj.get("eventTime"))
    last = parse_iso(obj.get("lastTimestamp") or series.get("lastObservedTime") or obj.get("eventTime")) or first
    count = int(obj.get("count") or series.get("count") or 1)
    message, reason = str(obj.get("message") or obj.get("note") or ""), str(obj.get("reason") or "")
    kind, name = str(involved.get("kind") or "Unknown"), str(involved.get("name") or "")
    return SlimEvent(
        name=str((obj.get("metadata") or {}).get("name") or ""),
        resource=rid(kind, name),
        # outside text of any size: the reason capped here, the message kept as its piece and
        # capped (redacted) only when handed out, so that a flood of events is cut first
        reason=cap_text(reason[:NAME_MAX + REDACT_MARGIN], NAME_MAX, length=len(reason)),
        message=read_piece(message), message_length=len(message),
        type=str(obj.get("type") or "Normal"),
        count=count, first=first, last=last, kind=kind, object=name, uid=str(involved.get("uid") or ""),
    )


class EventLog:
    """The events currently in the namespace, and which of them were reported."""

    def __init__(self) -> None:
        self.current: dict[str, SlimEvent] = {}
        self._reported: dict[str, tuple[int, datetime | None]] = {}
        self._fresh: list[SlimEvent] = []

    def upsert(self, obj: dict[str, Any]) -> None:
        self.put(slim_event(obj))

    def put(self, ev: SlimEvent) -> bool:
        """Keep an event; True if it is new or repeated (then it is reported)."""
        self.current[ev.name] = ev
        if self._reported.get(ev.name) != (ev.count, ev.last):
            self._reported[ev.name] = (ev.count, ev.last)
            self._fresh.append(ev)
            return True
        return False

    def remove(self, name: str) -> None:
        self.current.pop(name, None)
        self._reported.pop(name, None)

    def prune(self, keep: set[str]) -> None:
        """After a (re)list: forget the events that are gone."""
        for name in [n for n in self.current if n not in keep]:
            self.remove(name)

    def relist(self) -> EventRelist:
        return EventRelist(self)

    def take_new(self) -> list[Event]:
        fresh, self._fresh = self._fresh, []
        fresh.sort(key=lambda e: e.last or e.first or now_utc())
        left_out = fresh[:-EVENTS_PER_PASS]
        out = [e.to_event() for e in fresh[-EVENTS_PER_PASS:]]
        if left_out:
            out.insert(0, Event(NOT_SHOWN_RESOURCE, NOT_SHOWN, _not_shown(len(left_out), f"the newest {EVENTS_PER_PASS} of one observation"),
                                left_out[-1].last or left_out[-1].first or now_utc(), "Warning", len(left_out)))
        return out

    def faults(self, tables: Mapping[str, ObjectTable] | None = None) -> list[Fault]:
        """One fault per (object, reason) of Warning events: counts summed, first
        and last times kept, the latest message. With the inventory's `tables` (kind →
        table), the events of an object that was deleted make no fault."""
        groups: dict[tuple[str, str], list[SlimEvent]] = {}
        for ev in self.current.values():
            if ev.type == "Warning" and not (tables and ev.about_a_deleted_object(tables)):
                groups.setdefault((ev.resource, ev.reason), []).append(ev)
        latest = {key: max(events, key=_when) for key, events in groups.items()}
        newest_first = sorted(groups, key=lambda key: _when(latest[key]), reverse=True)
        per_object: dict[str, int] = {}
        faults, left_out = [], 0
        for key in newest_first:  # the newest FAULTS_PER_OBJECT per object, FAULTS_MAX in all
            events = groups[key]
            per_object[key[0]] = per_object.get(key[0], 0) + 1
            if per_object[key[0]] > FAULTS_PER_OBJECT or len(faults) >= FAULTS_MAX:
                left_out += len(events)
                continue
            fault = latest[key].to_fault()
            fault.count = sum(e.count for e in events)
            fault.since = min((e.first for e in events if e.first), default=None)
            faults.append(fault)
        if left_out:
            faults.append(Fault(NOT_SHOWN_RESOURCE, Severity.MEDIUM, NOT_SHOWN, _not_shown(left_out, f"the newest {FAULTS_PER_OBJECT} per object, {FAULTS_MAX} in all"),
                                None, left_out))
        return faults


def _when(ev: SlimEvent) -> datetime:
    return ev.last or ev.first or _EPOCH


def _not_shown(count: int, kept: str) -> str:
    return f"{count} more events not shown ({kept})"


class EventRelist:
    """The events one LIST pass saw, applied to the EventLog at once by commit()."""

    def __init__(self, log: EventLog):
        self.log = log
        self.seen: dict[str, SlimEvent] = {}

    def upsert(self, obj: dict[str, Any]) -> None:
        ev = slim_event(obj)
        self.seen[ev.name] = ev

    def commit(self) -> bool:
        gone = [name for name in self.log.current if name not in self.seen]
        self.log.prune(set(self.seen))
        fresh = [self.log.put(ev) for ev in self.seen.values()]
        return bool(gone) or any(fresh)
