"""How a lifecycle operation ended, as the TUI tells it: whether a created environment stays
on the overview (anything but `destroyed`, and a destroyed one while it has orphans: they are
still there to see to) and the error worth a notification when an operation ended `failed` or
`destroyed` with orphans left (docs/lifecycle.md, "Unreachable backends during destroy")."""

from __future__ import annotations

from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment
from tui.core.sanitize import clean

__all__ = ["ended_badly", "kept_on_overview"]

SHOWN_ORPHANS = 2


def kept_on_overview(managed: ManagedEnvironment) -> bool:
    return managed.state != EnvLifecycleState.DESTROYED or bool(managed.orphans)


def ended_badly(before: ManagedEnvironment | None, after: ManagedEnvironment) -> str | None:
    """The error text when `after` is the end of an operation that failed, or of a destroy that
    left orphans, and `before` (the record the app held) was not that end already; else None."""
    if after.operation is not None:
        return None   # another operation is pending: not an end
    name = clean(after.name, max_len=80)
    if after.state == EnvLifecycleState.FAILED:
        if before is not None and before.state == EnvLifecycleState.FAILED and before.operation is None:
            return None
        what = f"{before.operation} {name}" if before is not None and before.operation else name
        step = clean(after.step or "", max_len=60)
        return f"{what} failed" + (f" at step {step}" if step else "") + f": {clean(after.reason or '', max_len=300)}"
    if after.state == EnvLifecycleState.DESTROYED and after.orphans:
        if before is not None and before.state == EnvLifecycleState.DESTROYED:
            return None
        named = "; ".join(f"{clean(o.backend)} {clean(o.resource, max_len=80)}: {clean(o.reason, max_len=120)}"
                          for o in after.orphans[:SHOWN_ORPHANS])
        more = len(after.orphans) - SHOWN_ORPHANS
        return (f"destroy {name}: {len(after.orphans)} orphan(s) left: {named}"
                + (f"; and {more} more" if more > 0 else "") + f" (envdeck env list; envdeck env destroy {name} again)")
    return None
