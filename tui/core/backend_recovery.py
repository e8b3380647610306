"""The Timeline row of a backend that answers again after being unreachable: the reconciler
writes `Unreachable` when a backend stops answering (reconciler._record_backend) and this one
row once it answers again, so the Timeline's last word on an outage is its end."""

from __future__ import annotations

from datetime import datetime

from tui.core.model import TimelineEntry


def outage_length(seconds: float) -> str:
    """An outage's length as read on the Timeline: 45s, 1m35s, 2h03m."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def recovery_entry(backend: str, since: datetime | None, now: datetime) -> TimelineEntry:
    """`kubernetes answered again after 1m35s unreachable` (without the length when this process
    did not see the outage begin, e.g. a state loaded unreachable from the store)."""
    if since is None:
        message = f"{backend} answered again after being unreachable"
    else:
        message = f"{backend} answered again after {outage_length((now - since).total_seconds())} unreachable"
    return TimelineEntry(now, backend, "backend", "info", "Reachable", message)
