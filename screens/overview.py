"""Environments overview: one row per environment — health, drift, faults,
compliance score, per-backend reachability and data age, repair mode.

Environments created from a template are marked: while not `ready` their lifecycle
state takes the HEALTH cell (`◐ provisioning 2/5`, `‖ sleeping`, `✖ failed`), one
expiring within the hour carries `⌛42m` after its name, and the line under the table
says the whole (state, owner, template, expiry, step and reason). `n` creates one."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Input, Static

from screens.base import EnvdeckScreen, steady_input
from screens.environment_actions import lifecycle_keys_for, promote_to_footer
from screens.key_hold import release_keys
from screens.lifecycle_flow import LIFECYCLE_ACTIONS, explain_key
from screens.lifecycle_steps import expiry_mark, header_text, lifecycle_cell
from tui.core.env_state import EnvState
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment
from tui.core.model import now_utc
from tui.core.sanitize import clean
from tui.widgets.cells import Palette, drift_cell, format_age, health_cell, muted, safe
from tui.widgets.filter_input import FilterInput
from tui.widgets.keyed_table import Cells, KeyedTable
from tui.widgets.resource_filter import ResourceFilter
from tui.widgets.resource_table import SHORT_BACKEND
from tui.widgets.status_bar import StatusBar, holder_display, status_text

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


def backends_cell(state: EnvState, now: datetime, palette: Palette) -> Text:
    out = Text(end="")
    for i, b in enumerate(state.backends.values()):
        if i:
            out.append(" ")
        name = SHORT_BACKEND.get(b.name, b.name)
        if b.reachable is True:
            out.append(f"{name}✓", style=palette.style("success"))
        elif b.reachable is False:
            age = format_age((now - b.observed_at).total_seconds()) if b.observed_at else "never"
            out.append(f"{name}✗{age}", style=palette.style("error", bold=True))
        else:
            out.append(f"{name}…", style=palette.style("text-muted"))
    if not state.backends:
        out.append("none", style=palette.style("text-muted"))
    return out


def env_row(state: EnvState, now: datetime, palette: Palette) -> Cells:
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
        muted("—", palette) if score is None else Text(f"{score:.0f}%", style=palette.style(score_style), end=""),
        backends_cell(state, now, palette),
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


def cut_middle(name: str, width: int) -> str:
    """`name` in `width` cells, cut in its middle with `…`: its start and its end stay (`adv7-b`
    and `adv7-c` stay apart, `pr…12345` keeps a branch's number; the tail gets the extra cell)."""
    if cell_len(name) <= width:
        return name
    head = (width - 1) // 2
    tail = width - 1 - head
    start = name[:head]
    end = name[len(name) - tail:] if tail else ""
    while cell_len(start) + 1 + cell_len(end) > width and end:  # wide characters
        end = end[1:]
    return f"{start}…{end}"


def managed_row(managed: ManagedEnvironment, now: datetime, palette: Palette, *, compact: bool = False,
                env_width: int | None = None) -> Cells:
    """A created environment the reconciler does not observe (yet, or any more)."""
    dash = muted("—", palette)
    return (name_cell(managed.name, managed, now, palette, env_width), lifecycle_cell(managed, palette, short=compact),
            dash, dash, dash, dash, dash, muted("—", palette))


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
                  env_width: int | None = None) -> dict[str, Cells]:
    """A row per environment, a cell per column of COLUMNS (and of LEADER_COLUMN when `team`).
    `compact` (80 columns): lifecycle states in a short word (`◐ prov 2/5`); `env_width`: names cut
    with `…` to fit that many cells (the expiry mark kept)."""
    rows: dict[str, Cells] = {}
    for name, state in states.items():
        cells = env_row(state, now, palette)
        m = managed.get(name)
        if m is not None:
            health = cells[1] if m.state == EnvLifecycleState.READY else lifecycle_cell(m, palette, short=compact)
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
    def show(self, rows: dict[str, Cells], *, narrow: bool, team: bool = False, compact: bool = False) -> None:
        """`rows` have a cell per column of COLUMNS (and LEADER_COLUMN when `team`); `narrow`
        drops NARROW_DROPS; `compact` heads the columns with COMPACT_LABELS."""
        columns = (*COLUMNS, LEADER_COLUMN) if team else COLUMNS
        if compact:
            columns = tuple((key, COMPACT_LABELS.get(key, label)) for key, label in columns)
        spec = [c for c in columns if not (narrow and c[0] in NARROW_DROPS)]
        selected = self._anchor if self._anchor is not None else self.cursor_key
        before = list(self._order)
        if spec != self._column_spec:  # the columns are made again: the cursor is put back below
            self.clear(columns=True)
            self._cells, self._order = {}, []
            self._column_spec = spec
            for key, label in spec:
                self.add_column(label, key=key)
        keep = [i for i, (key, _) in enumerate(columns) if not (narrow and key in NARROW_DROPS)]
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


class OverviewScreen(EnvdeckScreen):
    BINDINGS = [
        Binding("enter", "open_env", "Open", id="drill", tooltip="Open the environment"),
        Binding("p", "pause", "Pause", id="pause",
                tooltip="Pause or resume repairs (observing goes on)"),
        Binding("slash", "filter", "Filter", id="filter", show=False,
                tooltip="Show the environments whose row matches: regex; ~ fuzzy; ! inverts"),
        Binding("escape", "back", "Back", id="back", show=False, tooltip="Close the filter box, then clear the filter"),
        Binding("n", "new_env", "New", id="env-new", tooltip="A new environment from a template (plan, then create)"),
        Binding("D", "env_destroy", "Destroy", id="env-destroy", show=False,
                tooltip="Destroy the selected created environment (admin; type its name)"),
        Binding("Z", "env_sleep", "Sleep", id="env-sleep", show=False,
                tooltip="Sleep the selected created environment: scale to 0, stop; wake restores (admin)"),
        Binding("W", "env_wake", "Wake", id="env-wake", show=False,
                tooltip="Wake the selected sleeping environment (admin)"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        yield EnvironmentsTable(COLUMNS, id="environments")
        yield Static(id="env-description", classes="hint")
        yield steady_input(self.app, FilterInput, placeholder="filter environments: regex · ~fuzzy · !inverts",
                           id="filter", classes="hidden")
        yield StatusBar(id="status")
        yield Footer()

    filter: ResourceFilter = ResourceFilter()

    def on_mount(self) -> None:
        self.ready = True
        self.refresh_all()
        self.query_one(EnvironmentsTable).focus()

    def refresh_all(self) -> None:
        with contextlib.suppress(NoMatches):  # the app is closing: its widgets go while updates still arrive
            self._refresh_all()

    def _refresh_all(self) -> None:
        session = self.session
        app = self.envdeck
        states = dict(session.states())
        team = team_mode(states)
        envs = self._show_rows(states, team=team)
        title = Text(" envdeck ", style=app.palette.style("primary", bold=True), end="")
        table = self.query_one(EnvironmentsTable)
        shown = f"{len(table.row_keys)} of " if self.filter.active else ""
        title.append(f"· {shown}{len(envs)} environment{'s' if len(envs) != 1 else ''}",
                     style=app.palette.style("text-muted"))
        if self.filter.active:
            title.append(f" /{clean(self.filter.describe(), max_len=40)}", style=app.palette.style("accent"))
        if not envs:
            title.append(f" · {clean(session.user)} has a role in none of {clean(app.config.source or 'the config')}",
                         style=app.palette.style("warning"))
        hint = app.options.extra.get("cli_hint")  # the demo: how to run the CLI against it, kept in view
        if hint:
            title.append(f" · {clean(str(hint), max_len=120)}", style=app.palette.style("accent"))
        self.query_one("#title", Static).update(title)
        self._show_description()
        self.tick()

    def _show_description(self) -> None:
        env = self.query_one(EnvironmentsTable).cursor_key
        state = self.session.states().get(env) if env else None
        managed = self.envdeck.managed.get(env) if env else None
        shown = self.query_one(EnvironmentsTable).cells_of(env) if env else None
        cut = shown is not None and not shown[0].plain.startswith(env)
        line = description_text(state, managed, self.envdeck.now(), self.envdeck.palette, name=env if cut else None)
        if env is None:  # p, Enter, D… act on nothing: the footer does not offer them either
            line = muted("nothing selected" if self.query_one(EnvironmentsTable).row_keys or not self.filter.active
                         else "no environment matches the filter (Esc clears it)", self.envdeck.palette)
        self.query_one("#env-description", Static).update(line)

    def env_updated(self, env: str, kinds: set[str]) -> None:
        self.refresh_all()  # LeaderChanged too (tui/messages.py): the LEADER column and "following"

    def _show_rows(self, states: dict[str, EnvState], *, team: bool = False) -> dict[str, Cells]:
        """The table's rows, compact (see NARROW_BELOW) when the whole words do not fit."""
        app = self.envdeck
        now, managed, width = app.now(), app.managed, self.app.size.width
        narrow = team and width < NARROW_BELOW
        table = self.query_one(EnvironmentsTable)
        columns = (*COLUMNS, LEADER_COLUMN) if team else COLUMNS
        keep = [i for i, (key, _) in enumerate(columns) if not (narrow and key in NARROW_DROPS)]

        def room(rows: dict[str, Cells], labels: list[str]) -> int:
            scrollbar = 2 if len(rows) > table.size.height - 1 > 0 else 0  # the vertical scrollbar's cells
            return env_column_room({k: tuple(c[i] for i in keep) for k, c in rows.items()},
                                   [labels[i] for i in keep], width - scrollbar)

        rows = overview_rows(states, managed, now, app.palette, team=team)
        compact = any(cells[0].cell_len > room(rows, [label for _, label in columns]) for cells in rows.values())
        if compact:
            rows = overview_rows(states, managed, now, app.palette, team=team, compact=True)
            left = room(rows, [COMPACT_LABELS.get(key, label) for key, label in columns])
            if any(cells[0].cell_len > left for cells in rows.values()):
                rows = overview_rows(states, managed, now, app.palette, team=team, compact=True, env_width=left)
        table.show(rows, narrow=narrow, team=team, compact=compact)
        return rows

    def on_resize(self) -> None:
        if self.ready:
            self.refresh_all()

    def tick(self) -> None:
        with contextlib.suppress(NoMatches):  # the app is closing
            self._tick()

    def _tick(self) -> None:
        app = self.envdeck
        now = app.now()
        states = dict(self.session.states())
        self._show_rows(states, team=team_mode(states))
        self.query_one(StatusBar).update(status_text(
            user=self.session.user, role=None, read_only=self.session.policy.read_only, state=None, now=now,
            palette=app.palette))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_description()
        self.refresh_bindings()

    def holds_keys_after(self, key: str) -> str | None:
        """Enter on a selected row opens its environment: the keys typed after it wait until that
        screen is up (screens/key_hold.py), never acting on this one meanwhile (`Enter jj`). `/`
        opens the filter box and Enter/Esc close it: the keys after them wait for the box or the
        table to have the focus (`/pr` filters, it never runs `p`)."""
        if not self.ready:
            return None
        focused = self.app.focused
        if focused is self.query_one("#filter", Input):
            return "filter" if key in ("enter", "escape") else None
        if focused is not self.query_one(EnvironmentsTable):
            return None
        if key == "slash":
            return "filter"
        return "open-env" if key == "enter" and self.query_one(EnvironmentsTable).cursor_key else None

    # -- `/` filter ----------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        try:
            box.remove_class("hidden")
            box.value = self.filter.text
            box.focus()
        finally:
            release_keys(self.app, "filter")  # after its focus(): the keys after `/` go into the box

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._set_filter(ResourceFilter(event.value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(EnvironmentsTable).ensure_cursor()  # the selected row filtered out: the first shown
        self._close_filter()

    def _set_filter(self, new: ResourceFilter) -> None:
        self.filter = new
        self.query_one(EnvironmentsTable).set_filter(new.text_matcher() if new.active else None)
        self.refresh_all()
        self.refresh_bindings()

    def _close_filter(self) -> None:
        self.query_one("#filter", Input).add_class("hidden")
        self.query_one(EnvironmentsTable).focus()
        release_keys(self.app, "filter")

    def action_back(self) -> None:
        """Esc: closes the filter box (the filter stays), then clears the filter."""
        if self.query_one("#filter", Input).has_focus:
            self._close_filter()
        elif self.filter.active:
            self._set_filter(ResourceFilter(""))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._open(event.row_key.value)

    def action_open_env(self) -> None:
        env = self.query_one(EnvironmentsTable).cursor_key
        if env:
            self._open(env)

    def _open(self, env: str) -> None:
        try:
            self.envdeck.open_env(env)
        finally:  # the keys typed after Enter act on the environment's screen once it is ready
            release_keys(self.app, "open-env", when_settled=True)

    def action_pause(self) -> None:
        from screens.action_flow import toggle_pause

        env = self.query_one(EnvironmentsTable).cursor_key
        if env and env in self.session.states():  # a created one not observed yet has no repairs
            toggle_pause(self.envdeck, env)

    # -- created environments ------------------------------------------------------------
    def lifecycle_changed(self, env: str | None, _managed: Any) -> None:
        self.refresh_all()

    def select_env(self, env: str) -> None:
        self.refresh_all()
        self.query_one(EnvironmentsTable).move_to_key(env)
        self._show_description()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, with D and Z or W shown on a created environment's row (check_action
        turns them off on a config environment's), as the width allows."""
        bindings = super().active_bindings
        if not getattr(self, "ready", False):
            return bindings
        env = self.query_one(EnvironmentsTable).cursor_key
        state = self.session.states().get(env) if env and self.envdeck.session is not None else None
        for key, ab in list(bindings.items()):
            if ab.binding.action == "pause" and state is not None and state.paused:  # `p` resumes this one
                bindings[key] = ActiveBinding(ab.node, replace(ab.binding, description="Resume"), ab.enabled,
                                              ab.tooltip)
        return promote_to_footer(self, bindings, lifecycle_keys_for(self.envdeck.managed.get(env) if env else None))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new_env" and self.envdeck.session is not None:
            return bool(self.session.templates())  # no templates in the config: no `n` in the footer
        if action in LIFECYCLE_ACTIONS and self.is_mounted and self.ready:
            env = self.query_one(EnvironmentsTable).cursor_key
            return env is not None and env in self.envdeck.managed
        if action in ("open_env", "pause") and self.is_mounted and self.ready:
            env = self.query_one(EnvironmentsTable).cursor_key  # nothing selected: nothing to act on
            if env is None:
                return False
            return action == "open_env" or env in self.session.states()  # a created one not observed: no repairs
        if action == "back" and self.is_mounted and self.ready:
            return self.filter.active or self.query_one("#filter", Input).has_focus
        return super().check_action(action, parameters)

    def on_key(self, event: events.Key) -> None:
        """D/Z/W on a config environment: their bindings are off there; say why instead of nothing."""
        if self.ready and not self.query_one("#filter", Input).has_focus and explain_key(
                self, event.key, self.query_one(EnvironmentsTable).cursor_key):
            event.stop()

    def action_new_env(self) -> None:
        from screens.new_environment import NewEnvironmentScreen

        def done(env: str | None) -> None:
            if env:
                self.select_env(env)

        self.envdeck.push_screen(NewEnvironmentScreen(), done)

    def action_env_destroy(self) -> None:
        from screens.lifecycle_flow import destroy

        env = self.query_one(EnvironmentsTable).cursor_key
        if env:
            destroy(self.envdeck, env)

    def action_env_sleep(self) -> None:
        from screens.lifecycle_flow import sleep_or_wake

        env = self.query_one(EnvironmentsTable).cursor_key
        if env:
            sleep_or_wake(self.envdeck, env, sleep=True)

    def action_env_wake(self) -> None:
        from screens.lifecycle_flow import sleep_or_wake

        env = self.query_one(EnvironmentsTable).cursor_key
        if env:
            sleep_or_wake(self.envdeck, env, sleep=False)
