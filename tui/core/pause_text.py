"""The words for an environment's repair pause (tui/core/store.py `repair_pauses`), one place for
the audit trail, the CLI and the TUI: who paused, since when and why, and what a pause or resume
request did (a pause is never overwritten; a resume says whose pause it ended)."""

from __future__ import annotations

from tui.core.env_state import RepairPause


def pause_by(pause: RepairPause) -> str:
    """`alice since 2026-12-07T17:50:46Z (INC-42 db failover)`."""
    return f"{pause.user} since {pause.at}" + (f" ({pause.reason})" if pause.reason else "")


def already_paused(env: str, pause: RepairPause) -> str:
    """A pause request on an environment someone paused already: nothing was done."""
    return f"{env} is already paused by {pause_by(pause)}; nothing done"


def pause_ended(pause: RepairPause) -> str:
    """Whose pause a resume ended: `paused by alice since 2026-12-07T17:50:46Z: INC-42 db failover`."""
    return f"paused by {pause.user} since {pause.at}" + (f": {pause.reason}" if pause.reason else "")


def pause_audit_message(paused: bool, reason: str, before: RepairPause | None) -> str:
    """The message of a pause or resume audit row. `before`: the pause the store held before the
    request (on pause: found, so nothing done; on resume: the pause ended)."""
    if paused:
        if before is not None:
            return f"already paused by {pause_by(before)}; nothing done"
        return f"paused: {reason}" if reason else "paused"
    if before is None:
        return "not paused; nothing to resume"
    return f"resumed ({pause_ended(before)})"


__all__ = ["already_paused", "pause_audit_message", "pause_by", "pause_ended"]
