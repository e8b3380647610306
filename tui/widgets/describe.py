"""What `kubectl describe` tells an on-caller, for a resource of any backend: its
conditions, its current faults with their whole message, and its recent events (from
the store's timeline: Kubernetes events, ECS service events, alarm and status-check
changes, edge probe failures). Texts only: the resource detail screen places them.
Outside text goes through `clean()` and is never markup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from tui.core.audit_rows import row_time, time_flag
from tui.core.model import Fault, Resource
from tui.core.sanitize import clean
from tui.widgets.cells import Palette, age_between, severity_cell

EVENTS_SHOWN = 20
MESSAGE_LEN = 600  # whole messages: the tables cut them, the detail is where they are read
_EVENT_KINDS = ("event", "fault", "repair", "drift")


def conditions_text(r: Resource, palette: Palette) -> Text:
    """`attributes["conditions"]` (type, status True/False, reason, message): Kubernetes
    status conditions, EC2 status checks, edge reachability/probes/service state."""
    conditions = r.attributes.get("conditions")
    t = Text(end="")
    if not isinstance(conditions, list) or not conditions:
        t.append("no conditions reported", style=palette.style("text-muted"))
        return t
    for c in conditions[:30]:
        if not isinstance(c, dict):
            continue
        ok = str(c.get("status")) == "True"
        t.append("✓ " if ok else "✗ ", style=palette.style("success" if ok else "warning"))
        t.append(clean(c.get("type", "?"), max_len=40), style=palette.style("foreground", bold=True))
        for key in ("reason", "message"):
            if c.get(key):
                t.append(f"  {clean(c[key], max_len=MESSAGE_LEN)}")
        t.append("\n")
    t.rstrip()
    return t


def resource_faults(faults: list[Fault], resource_id: str) -> list[Fault]:
    return [f for f in faults if f.resource == resource_id]


def faults_text(faults: list[Fault], now: datetime, palette: Palette) -> Text:
    """The resource's current faults: severity, reason, count, since, the whole message."""
    t = Text(end="")
    if not faults:
        t.append("no current faults", style=palette.style("text-muted"))
        return t
    for f in faults:
        t.append_text(severity_cell(str(f.severity), palette))
        t.append(f"  {clean(f.reason, max_len=60)}", style=palette.style("foreground", bold=True))
        detail = [f"×{f.count}"] if f.count > 1 else []
        if f.since is not None:
            detail.append(f"since {age_between(now, f.since)}")
        if detail:
            t.append(f"  ({', '.join(detail)})", style=palette.style("text-muted"))
        t.append(f"\n  {clean(f.message, max_len=MESSAGE_LEN)}\n")
    t.rstrip()
    return t


def resource_events(entries: list[dict[str, Any]], resource_id: str) -> list[dict[str, Any]]:
    """The timeline entries about one resource, newest first (the store's order)."""
    return [e for e in entries if e.get("resource") == resource_id and e.get("kind") in _EVENT_KINDS][:EVENTS_SHOWN]


def events_text(entries: list[dict[str, Any]] | None, now: datetime, palette: Palette) -> Text:
    """Like the Events of `kubectl describe`: age, level, reason (×count), message."""
    t = Text(end="")
    if entries is None:
        t.append("loading…", style=palette.style("text-muted"))
        return t
    if not entries:
        t.append("no events recorded", style=palette.style("text-muted"))
        return t
    for e in entries:
        # stored text, read as data: a time that is no time (or that overflows) or is in the
        # future is marked, never a traceback (tui/core/audit_rows.row_time)
        flag = time_flag(e.get("at"), now) if e.get("at") else None
        at = row_time(e.get("at"))
        if flag is None:
            t.append(f"{age_between(now, at):>4} ", style=palette.style("text-muted"))
        else:
            t.append(f"{'⚠':>4} ", style=palette.style("warning"))
        t.append_text(severity_cell(str(e.get("severity") or "info"), palette))
        t.append(f"  {clean(e.get('kind') or '', max_len=10)}", style=palette.style("text-muted"))
        t.append(f"  {clean(e.get('reason') or '', max_len=60)}", style=palette.style("foreground", bold=True))
        count = _count(e.get("count"))
        if count > 1:
            t.append(f" (×{count})", style=palette.style("text-muted"))
        if flag is not None:
            t.append(f"\n     [{flag}: {clean(e.get('at'), max_len=40)}]", style=palette.style("warning"))
        t.append(f"\n     {clean(e.get('message') or '', max_len=MESSAGE_LEN)}\n")
    t.rstrip()
    return t


def _count(value: object) -> int:
    """A stored event's count; anything that is not a count is 1."""
    try:
        return int(value or 1)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 1
