"""The overview's rows and table: a row per environment (health, drift, faults, score, each
backend's reachability, data age, repair mode; a created environment's lifecycle state and
expiry mark), fitted to the terminal's width, and the table that keeps its cursor on the
environment it was on (screens/overview.py is the screen)."""

from __future__ import annotations

from datetime import datetime

from rich.cells import cell_len
from rich.text import Text

from screens.lifecycle_steps import expiry_mark, header_text, lifecycle_cell
from tui.core.compliance_score import format_score
from tui.core.env_state import EnvState
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment
from tui.core.model import now_utc
from tui.core.sanitize import clean
from tui.core.text_cut import cut_middle
from tui.widgets.cells import Palette, drift_cell, format_age, health_cell, muted, safe
from tui.widgets.keyed_table import Cells, KeyedTable
from tui.widgets.resource_table import SHORT_BACKEND
from tui.widgets.status_bar import OVERDUE_S, holder_display, unanswered_s

# Short headers: the whole row fits 80 columns. SCORE is the compliance score, UPDATED the age of
# the oldest backend's data (not AGE: on the Resources view AGE is an object's age, as in k9s).
COLUMNS = (("env", "ENV"), ("health", "HEALTH"), ("drift", "DRIFT"), ("faults", "FAULTS"),
           ("score", "SCORE"), ("backends", "BACKENDS"), ("age", "UPDATED"), ("repair", "REPAIR"))
# Team mode (issue 16): who leads each environment and for how long, shown once another process
# leads one of them (a single user, who leads them all, sees the table as before).
LEADER_COLUMN = ("leader", "LEADER")


def holder_name(holder: str) -> str:
    """`agent@ops-1` for the holder `agent@ops-1:4242` (the pid says nothing to the reader);
    `root@vm:1234` for one of this process's user@host (tui/widgets/status_bar.holder_display)."""
    return holder_display(holder, 28)


def team_mode(states: dict[str, EnvState]) -> bool:
    return any(s.leader and s.leader != "you" for s in states.values())


def leader_cell(state: EnvState, palette: Palette) -> Text:
    """`you 2m`, `agent@ops-1 12s` (the lease's age, on the wall clock as the store keeps it), or `—`."""
    if not state.leader:
        return muted("—", palette) if not state.lease_note else Text("none", style=palette.style("warning"), end="")
    age = (now_utc() - state.lease_since).total_seconds() if state.lease_since else None
    mine = state.leader == "you"
    text = Text("you" if mine else holder_name(state.leader),
                style=palette.style("success" if mine else "foreground"), end="")
    if age is not None:
        text.append(f" {format_age(max(age, 0.0))}", style=palette.style("text-muted"))
    return text


def backends_cell(state: EnvState, now: datetime, palette: Palette, *, compact: bool = False) -> Text:
    """`aws✓ k8s✗1m edge?12s`, `edge✗86/90` for a backend that answers with 86 of its 90 hosts
    not reached; `compact` (the row does not fit): the mark first and no ages,
    `✓aws ✗k8s ?edge`, so that BACKENDS gives way before ENV names are cut or REPAIR goes off
    screen (the environment's screen and the line under the table keep the ages)."""
    out = Text(end="")
    for i, b in enumerate(state.backends.values()):
        if i:
            out.append(" ")
        name = SHORT_BACKEND.get(b.name, b.name)
        # a backend unanswered OVERDUE_S (a frozen server: a call waits for its timeout, ~45 s,
        # with the last ✓ on screen) shows `aws?12s`, unanswered since
        late = unanswered_s(b, now)
        down = b.nodes_down()
        if b.reachable is not False and late >= OVERDUE_S:
            out.append(f"?{name}" if compact else f"{name}?{format_age(late)}", style=palette.style("warning", bold=True))
        elif down is not None:  # it answers, but not for all its hosts: `edge✗86/90` (86 of 90 not reached)
            count = f"{down[0]}/{down[1]}"
            out.append(f"✗{name}{count}" if compact else f"{name}✗{count}", style=palette.style("warning", bold=True))
        elif b.reachable is True:
            out.append(f"✓{name}" if compact else f"{name}✓", style=palette.style("success"))
        elif b.reachable is False:
            age = format_age((now - b.observed_at).total_seconds()) if b.observed_at else "never"
            out.append(f"✗{name}" if compact else f"{name}✗{age}", style=palette.style("error", bold=True))
        else:
            out.append(f"…{name}" if compact else f"{name}…", style=palette.style("text-muted"))
    if not state.backends:
        out.append("none", style=palette.style("text-muted"))
    return out


def env_row(state: EnvState, now: datetime, palette: Palette, *, compact: bool = False) -> Cells:
    faults = state.all_faults()
    score = state.compliance_score()
    worst = max((str(f.severity) for f in faults), key=lambda s: ("info", "low", "medium", "high",
                                                                   "critical").index(s), default=None)
    fault_style = palette.style("error" if worst in ("high", "critical") else "warning", bold=True) if faults \
        else palette.style("text-muted")
    score_style = "success" if score is not None and score >= 95 else "warning" if score and score >= 70 else "error"
    # Repairs paused (observing goes on): PAUSED replaces the mode, so the row still fits 80
    # columns (`auto PAUSED` was cut to `auto PAU`); the environment's title keeps the mode.
    repair = "PAUSED" if state.paused else state.repair
    return (
        safe(state.name, style=palette.style("primary", bold=True)),
        health_cell(str(state.health()), palette),
        drift_cell(state.drift(), palette),
        Text(str(len(faults)), style=fault_style, end=""),
        muted(format_score(None), palette) if score is None
        else Text(format_score(score), style=palette.style(score_style), end=""),
        backends_cell(state, now, palette, compact=compact),
        Text(format_age(state.data_age_s(now)), end=""),
        Text(repair, style=palette.style("warning", bold=True) if state.paused else palette.style("foreground"),
             end=""),
    )


def name_cell(name: str, managed: ManagedEnvironment | None, now: datetime, palette: Palette,
              max_width: int | None = None) -> Text:
    """The name, then the `⌛42m` mark of one expiring within the hour; `max_width`: the name is
    cut with `…` so the cell fits and the mark stays whole."""
    cell = safe(name, style=palette.style("primary", bold=True))
    mark = expiry_mark(managed, now, palette) if managed is not None else None
    room = None if max_width is None else max_width - (mark.cell_len + 1 if mark is not None else 0)
    if room is not None and cell.cell_len > room:
        cell = safe(cut_middle(clean(name), max(room, MIN_NAME_CELLS)), style=palette.style("primary", bold=True))
    if mark is not None:
        cell.append(" ")
        cell.append_text(mark)
    return cell


def managed_row(managed: ManagedEnvironment, now: datetime, palette: Palette, *, compact: bool = False,
                env_width: int | None = None) -> Cells:
    """A created environment the reconciler does not observe (yet, or any more); a destroyed one
    with orphans left reads `✖ destroyed, 8 orphan(s)` (`✖ orph 8` in short)."""
    dash = muted("—", palette)
    return (name_cell(managed.name, managed, now, palette, env_width), managed_state_cell(managed, palette, compact),
            dash, dash, dash, dash, dash, muted("—", palette))


def managed_state_cell(managed: ManagedEnvironment, palette: Palette, short: bool) -> Text:
    """HEALTH of a created environment not `ready`: its lifecycle state (lifecycle_cell), and a
    destroyed one with orphans left marked as the error it is."""
    if managed.state == EnvLifecycleState.DESTROYED and managed.orphans:
        n = len(managed.orphans)
        return Text(f"✖ orph {n}" if short else f"✖ destroyed, {n} orphan(s)", end="",
                    style=palette.style("error", bold=True))
    return lifecycle_cell(managed, palette, short=short)


SHOWN_ORPHANS = 3


def orphans_text(managed: ManagedEnvironment, palette: Palette) -> Text:
    """`orphans: aws arn:…: reason; kubernetes pr-20: reason; and 5 more`: what a destroy left."""
    text = Text("orphans: ", style=palette.style("error", bold=True), end="")
    for n, orphan in enumerate(managed.orphans[:SHOWN_ORPHANS]):
        text.append(("; " if n else "") + f"{clean(orphan.backend)} {clean(orphan.resource, max_len=80)}: "
                    f"{clean(orphan.reason, max_len=120)}", style=palette.style("error"))
    more = len(managed.orphans) - SHOWN_ORPHANS
    if more > 0:
        text.append(f"; and {more} more (envdeck env list)", style=palette.style("error"))
    return text


def lifecycle_drift_cell(managed: ManagedEnvironment, state: EnvState, palette: Palette) -> Text:
    """DRIFT of a created environment: while its steps are still being carried out (or torn down)
    a half-made environment is not `Drifted` (`—`); a failed one's drift is `held`: no repair runs
    on it until it is created again or destroyed."""
    if managed.state in (EnvLifecycleState.READY, EnvLifecycleState.SLEEPING):
        return drift_cell(state.drift(), palette)
    if managed.state == EnvLifecycleState.FAILED and state.drift() is not None:
        return Text("held", style=palette.style("warning"), end="")
    return muted("—", palette)


def description_text(state: EnvState | None, managed: ManagedEnvironment | None, now: datetime,
                     palette: Palette, *, name: str | None = None) -> Text:
    """The line(s) under the table: a created environment's state line, then the description
    on a line of its own; each line cut with `…` rather than running on into the next. `name`:
    the environment's whole name first (its ENV cell was cut)."""
    text = Text(end="", no_wrap=True, overflow="ellipsis")
    if name:
        text.append(f"{clean(name)}  ", style=palette.style("primary", bold=True))
    if managed is not None:
        text.append_text(header_text(managed, now, palette))
        if managed.orphans:
            text.append("\n")
            text.append_text(orphans_text(managed, palette))
    if state is not None and state.leader and state.leader != "you":
        if text.plain:
            text.append("\n")
        text.append(f"following {holder_name(state.leader)}", style=palette.style("accent", bold=True))
        text.append(": its published state is shown; this envdeck makes no inventory calls for it",
                    style=palette.style("text-muted"))
    if state is not None:
        line = Text(end="")
        if state.description:
            line.append(clean(state.description, max_len=200))
        for b in state.backends.values():
            if b.reachable is False and b.error:
                line.append(f"  {b.name}: {clean(b.error, max_len=100)}", style=palette.style("error"))
        if line.plain:
            if text.plain:
                text.append("\n")
            text.append_text(line)
    return text


def overview_rows(states: dict[str, EnvState], managed: dict[str, ManagedEnvironment], now: datetime,
                  palette: Palette, *, team: bool = False, compact: bool = False,
                  compact_backends: bool = False, env_width: int | None = None) -> dict[str, Cells]:
    """A row per environment, a cell per column of COLUMNS (and of LEADER_COLUMN when `team`).
    `compact` (80 columns): lifecycle states in a short word (`◐ prov 2/5`); `compact_backends`
    (still too wide): backends without ages (`✗aws ✓k8s`); `env_width`: names cut
    with `…` to fit that many cells (the expiry mark kept)."""
    rows: dict[str, Cells] = {}
    for name, state in states.items():
        cells = env_row(state, now, palette, compact=compact_backends)
        m = managed.get(name)
        if m is not None:
            health = cells[1] if m.state == EnvLifecycleState.READY else managed_state_cell(m, palette, compact)
            cells = (name_cell(name, m, now, palette, env_width), health, lifecycle_drift_cell(m, state, palette),
                     *cells[3:])
        elif env_width is not None:
            cells = (name_cell(name, None, now, palette, env_width), *cells[1:])
        rows[name] = (*cells, leader_cell(state, palette)) if team else cells
    for name, m in managed.items():
        if name not in rows:
            cells = managed_row(m, now, palette, compact=compact, env_width=env_width)
            rows[name] = (*cells, muted("—", palette)) if team else cells
    return rows


# When the whole words do not fit (80 columns with created environments listed, or long names),
# every column stays (an on-call engineer reads SCORE and UPDATED too): lifecycle states take a
# short word (`◐ prov 2/5`, the line under the table says the whole), UPDATED is headed UPD, and
# names are cut with `…` to what is left. In team mode, below NARROW_BELOW, SCORE and UPDATED give
# way to LEADER (the environment screen shows both: the score in its title, the data's age in its
# status bar).
NARROW_BELOW = 100
NARROW_DROPS = frozenset({"score", "age"})
COMPACT_LABELS = {"age": "UPD"}  # the data's age: `5s`, `12m` (at most 3 cells)
# Still too narrow for the names whole (60 columns), whole columns give way, the least read
# first, before any name is cut (on-call tells the rows apart by it): no column is left a stub
# of a cell or two and REPAIR stays on screen. HEALTH, the names and REPAIR never drop.
DROP_ORDER = ("score", "age", "drift", "backends", "faults")
# ...so that every name of up to this many cells (with its `⌛42m` mark) shows whole; a longer
# one is cut in its middle to what is left (the line under the table has it whole), as at 80
# columns, rather than SCORE and UPDATED dropped for it.
NAME_KEPT_CELLS = 16
MIN_NAME_CELLS = 4  # a name cut shorter than this says nothing (`pr…`): the table scrolls instead
CELL_PADDING = 2  # DataTable's cell_padding (1) on each side of every column


def env_column_room(rows: dict[str, Cells], labels: list[str], width: int) -> int:
    """The cells left for the ENV column (the first) when every other column takes its widest
    cell or label, each with its padding, out of `width`."""
    used = 0
    for i, label in enumerate(labels[1:], start=1):
        used += max([len(label), *(cells[i].cell_len for cells in rows.values())]) + CELL_PADDING
    return width - used - CELL_PADDING


class EnvironmentsTable(KeyedTable):
    def show(self, rows: dict[str, Cells], *, narrow: bool, team: bool = False, compact: bool = False,
             dropped: frozenset[str] = frozenset()) -> None:
        """`rows` have a cell per column of COLUMNS (and LEADER_COLUMN when `team`); `narrow`
        drops NARROW_DROPS, `dropped` those columns too (dropped_columns); `compact` heads the
        columns with COMPACT_LABELS."""
        columns = (*COLUMNS, LEADER_COLUMN) if team else COLUMNS
        if compact:
            columns = tuple((key, COMPACT_LABELS.get(key, label)) for key, label in columns)
        gone = (NARROW_DROPS if narrow else frozenset()) | dropped
        spec = [c for c in columns if c[0] not in gone]
        selected = self._anchor if self._anchor is not None else self.cursor_key
        before = list(self._order)
        if spec != self._column_spec:  # the columns are made again: the cursor is put back below
            self.clear(columns=True)
            self._cells, self._order = {}, []
            self._column_spec = spec
            for key, label in spec:
                self.add_column(label, key=key)
        keep = [i for i, (key, _) in enumerate(columns) if key not in gone]
        shown = {name: tuple(cells[i] for i in keep) for name, cells in rows.items()}
        self.sync(shown, list(shown))
        self._follow(selected, before)
        self._fit_columns(shown, [label for _, label in spec])

    def _follow(self, selected: str | None, before: list[str]) -> None:
        """The cursor stays on the environment it was on, by name (the columns made again put it
        on the first row; a p/Enter/D then acted on another). Gone (destroyed), it goes to the row
        that followed it, else the one before (as k9s does); hidden by the `/` filter, it waits."""
        if selected is None:
            return
        if selected in self._cells:
            if self.cursor_key != selected:
                self.move_to_key(selected)
            return
        if selected in self._source[0] or not self._order:
            return
        at = before.index(selected) if selected in before else 0
        for key in [*before[at + 1:], *reversed(before[:at])]:
            if key in self._cells:
                self.move_to_key(key)
                return
        self.move_to_key(self._order[0])

    def _fit_columns(self, rows: dict[str, Cells], labels: list[str]) -> None:
        """Each column as wide as its widest cell or label now: the table only ever widens a
        column, and a long name gone (destroyed) left ENV wide and REPAIR off screen."""
        changed = False
        for i, column in enumerate(self.columns.values()):
            width = max([cell_len(labels[i]), *(cells[i].cell_len for cells in rows.values())])
            if column.content_width != width:
                column.content_width = width
                changed = True
        if changed:
            self._require_update_dimensions = True
            self.refresh()
