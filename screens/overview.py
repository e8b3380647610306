"""Environments overview: one row per environment — health, drift, faults,
compliance score, per-backend reachability and data age, repair mode.

Environments created from a template are marked: while not `ready` their lifecycle
state takes the HEALTH cell (`◐ provisioning 2/5`, `‖ sleeping`, `✖ failed`), one
expiring within the hour carries `⌛42m` after its name, and the line under the table
says the whole (state, owner, template, expiry, step and reason). `n` creates one."""

from __future__ import annotations

import contextlib
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.css.query import NoMatches
from textual.widgets import DataTable, Input, Static

from screens.base import EnvdeckScreen, steady_input
from screens.environment_actions import (
    lifecycle_keys_for,
    may_pause,
    pause_hidden,
    pause_reads_resume,
    promote_to_footer,
)
from screens.key_hold import NEW_ENV_HOLD, release_keys
from screens.lifecycle_flow import LIFECYCLE_ACTIONS, explain_key
from screens.overview_rows import (  # noqa: F401 - re-exported: the rows' names were this module's
    CELL_PADDING,
    COLUMNS,
    COMPACT_LABELS,
    DROP_ORDER,
    LEADER_COLUMN,
    MIN_NAME_CELLS,
    NAME_KEPT_CELLS,
    NARROW_BELOW,
    NARROW_DROPS,
    EnvironmentsTable,
    backends_cell,
    cut_middle,
    description_text,
    env_column_room,
    env_row,
    holder_name,
    leader_cell,
    lifecycle_drift_cell,
    managed_row,
    name_cell,
    overview_rows,
    team_mode,
)
from tui.core.env_state import EnvState
from tui.core.sanitize import clean
from tui.widgets.cells import muted
from tui.widgets.filter_input import FilterInput
from tui.widgets.keyed_table import Cells
from tui.widgets.resource_filter import ResourceFilter
from tui.widgets.status_bar import StatusBar, status_text
from tui.widgets.steady_footer import SteadyFooter

WATCH_EVERY_S = 0.05  # how often a hold started by a key of this screen is looked at (_watch_hold)
WATCH_AT_MOST_S = 1.0



class OverviewScreen(EnvdeckScreen):
    BINDINGS = [
        Binding("enter", "open_env", "Open", id="drill", tooltip="Open the environment"),
        Binding("p", "pause", "Pause", id="pause",
                tooltip="Pause or resume repairs (observing goes on)"),
        Binding("slash", "filter", "Filter", id="filter", show=False,
                tooltip="Show the environments whose row matches: regex; ~ fuzzy; ! inverts"),
        Binding("escape", "back", "Back", id="back", tooltip="Close the filter box, then clear the filter"),
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
        yield SteadyFooter()

    filter: ResourceFilter = ResourceFilter()

    def on_mount(self) -> None:
        self._taken_over: set[str] = set()  # holds this screen started that the action they wait for took over
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
        """The table's rows, compact (see NARROW_BELOW) when the whole words do not fit; then
        BACKENDS without ages, then whole columns dropped (DROP_ORDER), then names cut."""
        app = self.envdeck
        now, managed, width = app.now(), app.managed, self.app.size.width
        narrow = team and width < NARROW_BELOW
        table = self.query_one(EnvironmentsTable)
        columns = (*COLUMNS, LEADER_COLUMN) if team else COLUMNS
        dropped: set[str] = set(NARROW_DROPS) if narrow else set()

        def room(rows: dict[str, Cells], labels: list[str]) -> int:
            keep = [i for i, (key, _) in enumerate(columns) if key not in dropped]
            scrollbar = 2 if len(rows) > table.size.height - 1 > 0 else 0  # the vertical scrollbar's cells
            return env_column_room({k: tuple(c[i] for i in keep) for k, c in rows.items()},
                                   [labels[i] for i in keep], width - scrollbar)

        rows = overview_rows(states, managed, now, app.palette, team=team)
        compact = any(cells[0].cell_len > room(rows, [label for _, label in columns]) for cells in rows.values())
        if compact:
            rows = overview_rows(states, managed, now, app.palette, team=team, compact=True)
            labels = [COMPACT_LABELS.get(key, label) for key, label in columns]
            left = room(rows, labels)
            if any(cells[0].cell_len > left for cells in rows.values()):
                # BACKENDS gives way first (`✗aws ✓k8s`, no ages), then whole columns, then names are cut
                rows = overview_rows(states, managed, now, app.palette, team=team, compact=True, compact_backends=True)
                left = room(rows, labels)
                wanted = max((cells[0].cell_len for cells in rows.values() if cells[0].cell_len <= NAME_KEPT_CELLS),
                             default=0)
                for key in DROP_ORDER:
                    if wanted <= left:
                        break
                    dropped.add(key)
                    left = room(rows, labels)
                if any(cells[0].cell_len > left for cells in rows.values()):
                    rows = overview_rows(states, managed, now, app.palette, team=team, compact=True,
                                         compact_backends=True, env_width=left)
        table.show(rows, narrow=narrow, team=team, compact=compact, dropped=frozenset(dropped))
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
        self._follow_selected_state()
        self.query_one(StatusBar).update(status_text(
            user=self.session.user, role=None, read_only=self.session.policy.read_only, state=None, now=now,
            palette=app.palette))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_description()
        self.refresh_bindings()

    def holds_keys_after(self, key: str) -> str | None:
        """Enter on a selected row opens its environment: the keys typed after it wait until that
        screen is up (screens/key_hold.py), never acting on this one meanwhile (`Enter jj`); `n`
        until its form is built (`n pr-7⏎2h⏎`: the name, the Enter and the TTL go to the form). `/`
        opens the filter box and Enter/Esc close it: the keys after them wait for the box or the
        table to have the focus (`/pr` filters, it never runs `p`)."""
        if not self.ready:
            return None
        focused = self.app.focused
        if focused is self.query_one("#filter", Input):
            return "filter" if key in ("enter", "escape") else None
        if focused is not self.query_one(EnvironmentsTable):
            return None
        reason = "filter" if key == "slash" else \
            "open-env" if key == "enter" and self.query_one(EnvironmentsTable).cursor_key else \
            NEW_ENV_HOLD if self._opens_new_env(key) else None
        if reason is not None:
            self._taken_over.discard(reason)
            self.set_timer(WATCH_EVERY_S, lambda: self._watch_hold(reason, WATCH_EVERY_S))
        return reason

    def _opens_new_env(self, key: str) -> bool:
        bindings = self._bindings.key_to_bindings.get(key, ())
        return any(b.action == "new_env" for b in bindings) and self.check_action("new_env", ()) is not False

    def _watch_hold(self, reason: str, waited_s: float) -> None:
        """The key that took hold `reason` went elsewhere: a key typed before it opened a dialog
        (`p⏎`: the dialog ignores the Enter), so nothing here releases the hold; it is released at
        once and the keys after it go to that dialog in order (an Esc cancels it). Still on this
        screen with nothing done after WATCH_AT_MOST_S, the keys go on here."""
        keys = getattr(self.app, "keys", None)
        if keys is None or reason not in keys.reasons or reason in self._taken_over:
            return  # released, or the open / the box under way releases it
        if self.app.screen is self and waited_s < WATCH_AT_MOST_S:
            self.set_timer(WATCH_EVERY_S, lambda: self._watch_hold(reason, waited_s + WATCH_EVERY_S))
            return
        release_keys(self.app, reason)

    # -- `/` filter ----------------------------------------------------------------------
    def action_filter(self) -> None:
        self._taken_over.add("filter")
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
        # the selected row filtered out: the first match is selected while typing (the line under
        # the table described it, not `nothing selected` beside the one row shown)
        self.query_one(EnvironmentsTable).ensure_cursor()
        self._show_description()

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
        self._taken_over.add("open-env")
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
        self._follow_selected_state()

    def _follow_selected_state(self) -> None:
        """The footer offers Z or W and `p` as Pause or Resume by the selected environment's
        lifecycle and paused states: re-evaluate its keys when either changes, not only when the
        cursor moves (`Z Sleep` stayed on a sleeping row)."""
        env = self.query_one(EnvironmentsTable).cursor_key
        managed = self.envdeck.managed.get(env) if env else None
        state = self.session.states().get(env) if env else None
        seen = (env, managed.state if managed is not None else None, state is not None and state.paused)
        if seen != getattr(self, "_footer_state", None):
            self._footer_state = seen
            self.refresh_bindings()

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
        bindings = pause_reads_resume(bindings, state is not None and state.paused)  # `p` resumes this one
        if env and not may_pause(self.envdeck.session, env):
            bindings = pause_hidden(bindings)  # a viewer's `p` is refused: not offered
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

        self._taken_over.add(NEW_ENV_HOLD)  # the form releases the keys after `n` once it is built
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
