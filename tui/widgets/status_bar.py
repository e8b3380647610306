"""The status bar: who you are in this environment, READ-ONLY, the reconciler's
state per backend (last pass, next pass, backoff, error) and the age of the data."""

from __future__ import annotations

import math
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from tui.core.env_state import EnvState
from tui.core.leadership import holder_label
from tui.core.model import BackendState
from tui.core.sanitize import clean
from tui.widgets.cells import Palette, format_age
from tui.widgets.resource_table import SHORT_BACKEND

#: a pass (or a watching backend's liveness answer) this late and not ended reads `k8s ? unanswered 12s`
#: here and `k8s?12s` on the overview (screens/overview_rows.py)
OVERDUE_S = 10.0
#: who paused an environment's repairs, as the bar shows it (`REPAIRS PAUSED by alice`): cut longer
PAUSED_BY_MAX = 24


def retrying(b: BackendState, now: datetime) -> bool:
    """An unreachable backend's retry is under way: its watch runs again (`watching`), or its
    retry was due and has not ended (a pass or a watch's first list waits up to its timeout,
    15 s and more): not a countdown stuck at `retry 0s`."""
    return b.watching or (b.next_pass is not None and b.next_pass <= now)


def unanswered_s(b: BackendState, now: datetime) -> float:
    """How long a backend's answer is overdue: a polled backend's pass due at `next_pass` and not
    ended, or a watching one's liveness answer (its state then reads not `watching`, `next_pass`
    the answer's due time: Reconciler.answer_due); 0 for a watch that answers."""
    return (now - b.next_pass).total_seconds() if b.next_pass is not None and not b.watching else 0.0


def backend_summary(b: BackendState, now: datetime, palette: Palette, *, verbose: bool) -> Text:
    name = SHORT_BACKEND.get(b.name, b.name)
    out = Text(end="")
    if b.reachable is None:
        out.append(f"{name} …", style=palette.style("text-muted"))
        if verbose:
            out.append(" first pass", style=palette.style("text-muted"))
        return out
    if b.reachable is False:
        out.append(f"{name} ✗", style=palette.style("error", bold=True))
        if b.observed_at is not None:
            out.append(f" {format_age((now - b.observed_at).total_seconds())} old")
        if retrying(b, now):
            out.append(" retrying")
        elif b.next_pass is not None:
            out.append(f" retry in {format_age(math.ceil((b.next_pass - now).total_seconds()))}")  # 0.3 s: 1s
        elif b.backoff_s:
            out.append(f" backoff {format_age(b.backoff_s)}")
        if verbose and b.error:
            out.append(f" {clean(b.error, max_len=60)}", style=palette.style("error"))
        return out
    late = unanswered_s(b, now)
    if late >= OVERDUE_S:  # as the overview's `aws?30s`: no answer for that long, the rows may be stale
        out.append(f"{name} ?", style=palette.style("warning", bold=True))
        out.append(f" unanswered {format_age(late)}")
        return out
    down = b.nodes_down()
    if down is not None:  # it answers, but not for all its hosts (edge): how many are down
        out.append(f"{name} ✗{down[0]}/{down[1]}", style=palette.style("warning", bold=True))
        out.append(" nodes down" if verbose else "")
        return out
    out.append(f"{name} ✓", style=palette.style("success", bold=True))
    if b.watching:
        out.append(" watch")
    elif verbose and b.last_pass is not None:
        out.append(f" {format_age((now - b.last_pass).total_seconds())} ago")
        if b.next_pass is not None:
            out.append(f" next {format_age(max(0.0, (b.next_pass - now).total_seconds()))}")
    return out


def holder_display(holder: str, max_len: int) -> str:
    """A lease holder as shown: `agent@ops-1` (the pid says nothing to the reader), or
    `root@vm:1234` when it is this process's user@host (two processes of one user@host); a
    long name is cut before its pid, never the pid."""
    label = holder_label(holder)
    who, colon, pid = label.rpartition(":")
    if colon and pid.isdigit():
        return clean(who, max_len=max(max_len - len(pid) - 1, 4)) + ":" + pid
    return clean(label, max_len=max_len)


def leader_text(state: EnvState, palette: Palette) -> Text:
    """Who repairs this environment, when it is not this process: "led by agent@ops-1 · following"
    (the holder without its pid; this envdeck shows what it publishes, tui/core/follower.py), or
    why this process stopped ("not leading: fenced…"). Nothing when this process leads it (a
    single user sees the bar as before)."""
    out = Text(end="")
    if state.leader and state.leader != "you":
        out.append(f"  led by {holder_display(state.leader, 40)}",
                   style=palette.style("text-muted"))
        out.append(" · following", style=palette.style("accent"))
    elif not state.leader and state.lease_note:
        out.append(f"  not leading: {clean(state.lease_note, max_len=60)}", style=palette.style("warning"))
    return out


def status_text(*, user: str, role: str | None, read_only: bool, state: EnvState | None, now: datetime,
                palette: Palette, activity: str = "", verbose: bool = True) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(f" {user}", style=palette.style("primary", bold=True))
    if role:
        text.append(f" {role}", style=palette.style("text-muted"))
    if read_only:
        text.append("  READ-ONLY", style=palette.style("warning", bold=True))
    if state is not None:
        if state.paused:  # repairs only: the reconciler still observes; early in the bar, so 80 columns show it
            by = f" by {clean(state.pause.user, max_len=PAUSED_BY_MAX)}" if state.pause is not None else ""
            text.append(f"  REPAIRS PAUSED{by}", style=palette.style("warning", bold=True))
        if state.holds:
            text.append(f"  {len(state.holds)} held", style=palette.style("warning"))
        text.append_text(leader_text(state, palette))
        for b in state.backends.values():
            text.append("  ")
            text.append_text(backend_summary(b, now, palette, verbose=verbose))
        age = state.data_age_s(now)
        text.append(f"  data {format_age(age)}", style=palette.style("text-muted"))
    if activity:
        text.append(f"  ⟳ {activity}", style=palette.style("accent", bold=True))
    return text


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; }
    """

    def update(self, content="", *, layout: bool = True) -> None:
        # One line of a fixed size (no auto width or height): new text never moves another widget,
        # so the once-a-second update repaints the bar instead of laying out the whole screen
        # (which otherwise lands on a filter keystroke now and then)
        super().update(content, layout=layout and self.styles.auto_dimensions)
