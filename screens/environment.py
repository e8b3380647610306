"""The environment screen: resources, logs, metrics, faults, timeline, compliance
and drift of one environment, with the k9s keys.

Every view has its own `/` filter (Logs: its search); while the filter box is open
every key goes to it, until Enter or Esc. Enter drills in: on a workload it lists
the pods it runs (Esc goes back to where it was), elsewhere it opens the resource's
detail; it never runs an action."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.widget import AwaitMount, Widget
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane, TextArea
from textual.worker import Worker

from screens import action_flow
from screens.base import EnvdeckScreen, steady_input
from screens.env_views import ENV_VIEWS, VIEW_BY_NAME, VIEWS
from screens.environment_actions import EnvironmentActions, pods_of, short_scope
from screens.key_hold import drop_keys, hold_keys, keys_on_their_way, release_keys
from screens.lifecycle_flow import explain_key
from screens.lifecycle_steps import StepsTable, StepsView, expiry_mark, lifecycle_cell, step_resource_id
from screens.settled_layout import SettledFirstLayout
from tui.core.compliance_score import HINT_WIDTH, format_score
from tui.core.env_state import EnvState
from tui.core.model import Resource
from tui.core.sanitize import clean
from tui.messages import (
    BACKENDS,
    DRIFTS,
    FAULTS,
    PAUSED,
    RESOURCES,
    MetricsLoaded,
    TimelineLoaded,
)
from tui.widgets.cells import drift_cell, health_cell
from tui.widgets.filter_input import FilterInput
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.log_stream import stream_logs
from tui.widgets.logs_view import LogsView
from tui.widgets.metric_history import MetricHistory
from tui.widgets.metrics_view import SEP as SERIES_SEP
from tui.widgets.metrics_view import MetricsView, SeriesTable
from tui.widgets.record_views import ComplianceTable, DriftTable, FaultsTable, RecordTable, TimelineTable
from tui.widgets.resource_filter import ResourceFilter
from tui.widgets.resource_table import SORTABLE, ResourceTable, TableView
from tui.widgets.status_bar import StatusBar, status_text
from tui.widgets.steady_footer import SteadyFooter

# The table each view filters with `/` (resources: the TableView; logs: its own search).
FILTERED_TABLES = {v.name: v.filtered for v in ENV_VIEWS if v.filtered}
# What the Steps view does not offer: actions on resources (a step row is a step, not a
# resource); Enter, i, x and y open the step's resource instead.
STEPS_VIEW_HIDES = frozenset({"restart", "scale", "stop", "start", "delete", "repair", "shell", "open_console",
                              "port_forward", "drift_diff", "mark", "mark_all", "group", "sort_next",
                              "sort_reverse", "logs"})
# The key hold from a view key (`1`-`8`) until that view is shown and focused: `4 /api⏎` filters Faults.
VIEW_HOLD = "view"
AGE_EVERY_TICKS = 5
COLLECTOR_HOLD_S = 1.0  # longest the collector stays off for a screen built on the switch
KEYS_ON_THEIR_WAY_WAITS = 50  # frames `/` waits for the keys typed before it (then opens its box anyway)
# The idle work of a new screen (the history of the rows not drawn, the store's older samples: 300
# reads) starts that long after its first frame: after the frames that settle it (~40 ms on a quiet
# machine), not inside them. Nothing waits for it: a drawn row records its own point.
AFTER_SHOWN_S = 0.3
METRICS_EVERY_TICKS = 30


def logs_changed(logs: LogsView) -> bool:
    """The Logs view is not as a new one is: lines, a stream, a search or a toggle."""
    return bool(logs.stream_id or logs.lines or logs.wrap or logs.pretty_json or logs.timestamps
                or not logs.follow or logs._search_text
                or not logs.query_one("#logs-search-input", Input).has_class("hidden"))


class EnvironmentScreen(EnvironmentActions, SettledFirstLayout, EnvdeckScreen):
    BINDINGS = [
        # priority: taken as the key arrives, so the keys typed in the same burst go into the box
        # (not to the table under it); skipped where '/' is text (the box itself, the logs search)
        Binding("slash", "filter", "Filter", id="filter", tooltip="regex; ~ or -f fuzzy; ! inverts", priority=True),
        Binding("escape", "back", "Back", id="back"),
        Binding("enter", "drill", "Open", id="drill", show=False, tooltip="Drill in: a workload's pods, or details"),
        Binding("i", "describe", "Details", id="describe", show=False, tooltip="Open the selected resource's details"),
        Binding("l", "logs", "Logs", id="logs", tooltip="Follow logs (of the marked resources, merged)"),
        Binding("s", "shell", "Shell", id="shell", show=False),
        Binding("r", "restart", "Restart", id="restart"),
        Binding("S", "scale", "Scale", id="scale", show=False),
        Binding("X", "stop", "Stop", id="stop", show=False, tooltip="Stop an instance or service (confirmation)"),
        Binding("u", "start", "Start", id="start", show=False, tooltip="Start a stopped instance (confirmation)"),
        Binding("x", "xray", "Xray", id="xray", show=False,
                tooltip="What the selected resource depends on and what depends on it"),
        Binding("o", "open_console", "Console", id="open-console", show=False),
        Binding("F", "port_forward", "Port-forward", id="port-forward", show=False,
                tooltip="Forward a local port to a pod or service (operator)"),
        Binding("P", "port_forwards", "Forwards", id="port-forwards", show=False,
                tooltip="The open port-forwards; c closes one"),
        Binding("y", "yaml", "YAML", id="yaml", show=False),
        Binding("d", "drift_diff", "Diff", id="drift-diff", show=False),
        Binding("R", "repair", "Repair", id="repair"),
        Binding("p", "pause", "Pause", id="pause", show=False),
        Binding("D", "env_destroy", "Destroy env", id="env-destroy", show=False,
                tooltip="Destroy this created environment (admin; type its name)"),
        Binding("Z", "env_sleep", "Sleep env", id="env-sleep", show=False,
                tooltip="Sleep this created environment: scale to 0, stop; wake restores (admin)"),
        Binding("W", "env_wake", "Wake env", id="env-wake", show=False, tooltip="Wake this sleeping environment (admin)"),
        Binding("space", "mark", "Mark", id="mark", show=False),
        Binding("ctrl+a", "mark_all", "Mark all", id="mark-all", show=False),
        Binding("ctrl+d", "delete", "Delete", id="delete", show=False, tooltip="Delete/terminate (admin)"),
        Binding("b", "group", "Group", id="group", show=False, tooltip="Group by backend"),
        Binding("greater_than_sign", "sort_next", "Sort", id="sort-next", show=False),
        Binding("less_than_sign", "sort_reverse", "Reverse", id="sort-reverse", show=False),
        *[Binding(str(i + 1), f"show_view('{view}')", VIEW_BY_NAME[view].title, id=f"view-{view}", show=False)
          for i, view in enumerate(VIEWS)],
    ]

    def __init__(self, env: str, *, view: str | None = None, kind: str | None = None) -> None:
        super().__init__()
        self.env = env
        self.view = TableView(kind=kind)
        self.initial_view = view if view in VIEWS else "resources"
        self.history = MetricHistory()
        self.dirty: set[str] = set()
        self.timeline_rows: tuple[list, list] = ([], [])
        self._timeline_note: str | None = None  # the last warning about unreadable audit rows
        self.filters: dict[str, ResourceFilter] = {v: ResourceFilter() for v in FILTERED_TABLES}
        self._filter_view = "resources"  # the view the open filter box filters
        self.scope: str | None = None  # the workload whose pods the resources view lists
        self._before_scope: tuple[str | None, ResourceFilter] = (None, ResourceFilter())
        self._log_workers: list[Worker] = []
        self._ticks = 0
        # views whose widgets exist (see _ensure_view); Logs always: follow_logs fills it at once
        self._built: set[str] = {"resources", "logs", self.initial_view}
        self._mounting: set[str] = set()  # views whose widgets are being mounted
        self._styled_on_mount = False
        self._resized_by_resume = False
        self._view_holding: str | None = None  # the view a view key holds the keys after it for (VIEW_HOLD)
        self._collector_held = False  # see hold_collector
        self._collector_holds = 0
        self._switch_held = False  # held for a view switch (see _hold_collector_for_switch)
        self._switch_shown = False  # ... and its view shown since (TabActivated handled)

    # Built on the switch (no idle moment built it ahead), a 20k-row screen allocates enough to run
    # ~7 young-generation collections before its first frame (~11 ms CPU of ~100): the collector is
    # off from the switch until that frame is composed, and collects what is due just after it.
    # Off at most COLLECTOR_HOLD_S (a screen dropped before its first frame) and only if it was on.
    def hold_collector(self, app: App) -> None:
        if gc.isenabled() and not self._collector_held:
            gc.disable()
            self._collector_held = True
            self._collector_holds += 1  # the cap of an earlier hold does not end this one
            app.set_timer(COLLECTOR_HOLD_S, partial(self._release_collector, self._collector_holds))

    def _release_collector(self, hold: int | None = None) -> None:
        if self._collector_held and hold in (None, self._collector_holds):
            self._collector_held = False
            gc.enable()

    # A view switch (`1`-`8`) allocates enough to run 20-30 young-generation passes (5-10 ms CPU of
    # ~45) and, every so often, the full pass that is due (40-55 ms with two 20k-row inventories: a
    # switch of 60-80 ms then took over 100). The collector is off from the view key until the frame
    # that shows the view and the footer's keys; what is due is collected just after it.
    def _hold_collector_for_switch(self) -> None:
        self._switch_shown = False
        if not self._collector_held:
            self.hold_collector(self.app)
            self._switch_held = self._collector_held

    def _release_after_switch(self) -> None:
        """Once the view is shown and the footer's keys drawn: at the frame that follows
        (`_compositor_refresh`), or now if no frame is due."""
        if not (self._switch_held and self._switch_shown and self._collector_held):
            return
        footer = self.query(SteadyFooter).first(SteadyFooter) if self.is_mounted else None
        if footer is not None and footer.settling:
            return  # its repaint is due: the frame that draws it releases
        if self._layout_required or self._repaint_required or self._dirty_widgets:
            return  # the frame that draws it releases
        self._switch_held = False
        self._release_collector()

    def _compositor_refresh(self) -> None:
        super()._compositor_refresh()
        if self._switch_held and self._switch_shown:
            footer = self.query(SteadyFooter).first(SteadyFooter) if self.is_mounted else None
            if footer is None or not footer.settling:
                self._switch_held = False
                self._release_collector()

    @property
    def AUTO_FOCUS(self) -> str:  # noqa: N802 - Textual's name; read when the screen is composed or resumed
        """The shown view's widget, not Textual's first focusable one (the tabs): focusing the
        tabs and then the table on a build styled both twice (~15 ms CPU of a first visit)."""
        view = VIEW_BY_NAME[self.active_view if self.ready else self.initial_view]
        try:
            return view.focus if self.query_one(view.focus).focusable else "*"
        except NoMatches:
            return "*"

    @property
    def state(self) -> EnvState:
        return self.env_state(self.env)

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        with TabbedContent(initial=self.initial_view, id="views"):
            for env_view in ENV_VIEWS:
                with TabPane(env_view.title, id=env_view.name):
                    if env_view.name in self._built:
                        yield from self._view_widgets(env_view.name)
        yield steady_input(self.app, FilterInput, placeholder="filter: regex · ~fuzzy · !inverts", id="filter",
                           classes="hidden")
        yield StatusBar(id="status")
        yield SteadyFooter(compact=True)

    # Only the Resources and Logs views and the view shown first are composed with the screen; every
    # other view's widgets are mounted the first time it is used (shown, refreshed, focused).
    # Textual styles and lays out every widget of a screen when it is built and again each time it
    # is shown, hidden panes included: views never opened cost nothing on either.
    def _view_widgets(self, view: str) -> list[Widget]:
        if view == "resources":
            return [Static(id="table-info", classes="hint"), ResourceTable(id="resource-table")]
        if view == "logs":
            return [LogsView(buffer_lines=self.envdeck.config.ui.log_buffer_lines, id="logs-view")]
        if view == "metrics":
            return [MetricsView(id="metrics-view")]
        if view == "faults":
            return [FaultsTable(id="faults-table")]
        if view == "timeline":
            return [TimelineTable(id="timeline-table")]
        if view == "compliance":
            return [Static(id="compliance-info", classes="hint"), ComplianceTable(id="compliance-table")]
        if view == "drift":
            return [Static(id="drift-info", classes="hint"), DriftTable(id="drift-table")]
        if view == "steps":
            return [StepsView(id="steps-view")]
        raise ValueError(f"no view {view!r}")

    def mounted(self, view: str) -> bool:
        """Whether `view`'s widgets are mounted (composed with the screen, or mounted since)."""
        return view in self._built and view not in self._mounting

    def _ensure_view(self, view: str) -> bool:
        """True when `view`'s widgets are mounted. Otherwise they are mounted now (in the DOM when
        this returns, composed a moment later), and the view is refreshed and focused then if it
        is the one shown."""
        if view not in self._built:
            self._built.add(view)
            self._mounting.add(view)
            mounting = self.query_one(f"#{view}", TabPane).mount_all(self._view_widgets(view))
            self.call_later(self._view_mounted, view, mounting)
        return view not in self._mounting

    async def _view_mounted(self, view: str, mounting: AwaitMount) -> None:
        await mounting
        self._mounting.discard(view)
        if not self.is_mounted or self.gone:
            return
        if view == self.active_view:
            if view in self.dirty:
                self.refresh_view(view)
            if not self.query_one("#filter", Input).has_focus:
                self._focus_view(view)
            self._release_view_keys(view)

    def on_mount(self) -> None:
        if self.managed is None:
            self.query_one(TabbedContent).hide_tab("steps")
        self.ready = True
        self._styled_on_mount = self in self.app.screen_stack  # pushed: resumed next (see _on_screen_resume)
        self._record_history()
        self.refresh_all()
        self._focus_view(self.active_view)
        if self._collector_held:
            self.call_after_refresh(self._release_collector)
        # the store's older samples are read once the screen is shown (sparklines grow then)
        self._after_shown(self._start_seeding)

    # The shown screen records the metric history of the rows it draws or measures only; the rest
    # of the inventory (20k: ~3-13 ms) a moment after (MetricHistory.record_later: anything that
    # reads or updates the history before then records it first).
    def _record_history(self) -> None:
        self.history.record_later(self._inventory)
        self._after_shown(self.history.flush)

    def _inventory(self) -> list[Resource]:
        return [] if self.gone else self.state.all_resources()  # destroyed: nothing left to record

    def _after_shown(self, callback: Callable[[], object]) -> None:
        """`callback` in idle time once the screen is shown: a timer started after the next frame
        (Textual's after-refresh callbacks run before the frames a new screen still needs)."""
        self.call_after_refresh(self.set_timer, AFTER_SHOWN_S, callback)

    # A screen built on the switch was styled as it mounted, a moment before Textual resumes it:
    # its resume would style every widget of the screen again (the screen's first resume only;
    # one built ahead off the stack, or kept and shown again, is styled again as before).
    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        if self.gone:  # destroyed while a screen over it was shown (`?`, a detail): back to the overview
            self.call_later(self._leave_gone)
        if self._styled_on_mount:
            self._styled_on_mount = False
            event.refresh_styles = False
            self._resized_by_resume = True
            self.settle_next_layout()

    def _leave_gone(self) -> None:
        self.envdeck.open_overview()
        self.envdeck.toast(f"{self.env} is no longer observed (destroyed)")
        kept = getattr(self.app, "_kept_env_screens", None)
        if kept is not None:  # off the stack once popped: dropped then
            self.app.call_after_refresh(kept.drop_unobserved)

    # The resume lays out a screen shown for the first time and posts it a Resize of the size it
    # was just laid out at; Textual lays it out again on that event. The next frame's update lays
    # out whatever changed since. A terminal resized, or a later Resize, is laid out as before.
    def _screen_resized(self, size: Size) -> None:
        if self._resized_by_resume:
            self._resized_by_resume = False
            if size == self._size:
                return
        super()._screen_resized(size)
        if self.ready and self.active_view == "compliance" and size.width - 2 != self._hint_width:
            self.refresh_view("compliance")  # its line fitted to the new width

    _hint_width = HINT_WIDTH  # the width the Compliance view's line was fitted to

    def on_unmount(self) -> None:
        self._release_collector()
        self._stop_logs()

    def on_screen_suspend(self) -> None:
        if self not in self.app.screen_stack:  # left (popped), not covered by a dialog: kept, not following logs
            self._stop_logs()

    def reopen(self, *, view: str | None = None, kind: str | None = None) -> None:
        """Shown again from the app's kept screens: back to what a new screen for `view`/`kind`
        shows (no filter, scope, marks or open box; default sort; cursors on the first row; an
        empty Logs view), every view re-read from the session's state (it got no updates while
        it was not in the stack)."""
        self.view = TableView(kind=kind)
        filtered = [view for view, f in self.filters.items() if f.active]
        self.filters = {v: ResourceFilter() for v in FILTERED_TABLES}
        self._filter_view = "resources"
        self.scope = None
        self._before_scope = (None, ResourceFilter())
        self._ticks = 0
        self._stop_logs()
        box = self.query_one("#filter", Input)
        box.value = ""
        box.add_class("hidden")
        self.query_one(ResourceTable).forget_rows()
        for name, selector in FILTERED_TABLES.items():
            if not self.mounted(name):
                continue
            table = self.query_one(selector, KeyedTable)
            if name in filtered:
                table.set_filter(None)
            table.move_cursor(row=0, animate=False, scroll=True)
        if logs_changed(self.query_one(LogsView)):  # a new Logs view: no lines, search or toggles of the last visit
            self.call_later(self._new_logs_view)
        tabs = self.query_one(TabbedContent)
        if self.managed is None:
            tabs.hide_tab("steps")
        else:
            tabs.show_tab("steps")
        self.initial_view = view if view in VIEWS else "resources"
        self._ensure_view(self.initial_view)
        tabs.active = self.initial_view
        self.stale = False
        self._record_history()
        self.refresh_all()
        self._focus_view(self.initial_view)

    async def _new_logs_view(self) -> None:
        pane = self.query_one("#logs", TabPane)
        await pane.query_one(LogsView).remove()
        await pane.mount(LogsView(buffer_lines=self.envdeck.config.ui.log_buffer_lines, id="logs-view"))
        if self.active_view == "logs":
            self._focus_view("logs")

    # -- views -----------------------------------------------------------------
    @property
    def active_view(self) -> str:
        return self.query_one(TabbedContent).active or "resources"

    def action_show_view(self, view: str) -> None:
        if view in VIEWS and VIEW_BY_NAME[view].managed_only and self.managed is None:
            self.app.notify(f"{clean(self.env)} was not created from a template: it has no lifecycle steps",
                            markup=False, timeout=3)
            self._release_view_keys()
            return
        if view in VIEWS:
            tabs = self.query_one(TabbedContent)
            if tabs.active != view:
                self._hold_collector_for_switch()
            self._ensure_view(view)
            if tabs.active == view:
                self._release_view_keys()  # shown already: no TabActivated comes
            tabs.active = view
        else:
            self._release_view_keys()

    def _view_key(self, key: str) -> str | None:
        """The view `key` shows here and now (its binding by id, remapped or not), else None: typed
        into a box, a view this environment has not, the screen not built or its environment gone."""
        if not (self.is_mounted and self.ready) or self.gone or isinstance(self.focused, Input | TextArea):
            return None
        for binding in self._bindings.key_to_bindings.get(key, ()):
            view = (binding.id or "").removeprefix("view-")
            if binding.id != view and view in VIEWS:
                return None if VIEW_BY_NAME[view].managed_only and self.managed is None else view
        return None

    def _release_view_keys(self, view: str | None = None) -> None:
        """The view a view key switched to is shown and its focus() queued: the keys after it go on."""
        if self._view_holding is not None and view in (None, self._view_holding):
            self._view_holding = None
            release_keys(self.app, VIEW_HOLD)

    # -- a created (managed) environment ---------------------------------------------------
    @property
    def managed(self):
        return self.envdeck.managed.get(self.env)

    def lifecycle_changed(self, env: str | None, _managed: object) -> None:
        if (env is not None and env != self.env) or self.gone:
            return
        tabs = self.query_one(TabbedContent)
        if self.managed is not None:
            tabs.show_tab("steps")
        self.dirty.add("steps")
        if self.active_view == "steps":
            self.refresh_view("steps")
        self._update_title()
        self.refresh_bindings()

    def _follow_lifecycle_state(self) -> None:
        """Z or W and `p` Pause/Resume follow this environment's lifecycle and paused states: the
        footer's keys are re-evaluated when either changes, even if no message said so."""
        managed = self.managed
        seen = (managed.state if managed is not None else None, self.state.paused)
        if seen != getattr(self, "_footer_state", None):
            self._footer_state = seen
            self.refresh_bindings()

    @property
    def gone(self) -> bool:
        """A created environment destroyed while this screen shows it: no longer observed (the app
        brings the overview back when EnvironmentsChanged arrives; until then nothing reads its state)."""
        session = self.envdeck.session
        return session is not None and self.env not in session.states()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("env_destroy", "env_sleep", "env_wake"):
            return self.managed is not None if self.is_mounted else None
        if self.gone:
            return action in ("back", "help", "quit", "command_line", "command_palette")
        if action == "show_view" and parameters and self.managed is None \
                and VIEW_BY_NAME[str(parameters[0])].managed_only:
            return False  # `8 Steps` of a config environment: said when pressed, "(not now)" in `?`
        if action in STEPS_VIEW_HIDES and self.is_mounted and self.ready and self.active_view == "steps":
            return False  # a step row is not a resource to act on (Enter opens the step's resource)
        return super().check_action(action, parameters)

    def on_key(self, event: events.Key) -> None:
        """D/Z/W on a config environment: their bindings are off there; say why instead of nothing."""
        if self.ready and not self.query_one("#filter", Input).has_focus and (
                explain_key(self, event.key, self.env) or action_flow.explain_ui_key(self, event.key, self.targets())
                or self.explain_key(event.key)):
            event.stop()

    def action_env_destroy(self) -> None:
        from screens.lifecycle_flow import destroy

        destroy(self.envdeck, self.env)

    def action_env_sleep(self) -> None:
        from screens.lifecycle_flow import sleep_or_wake

        sleep_or_wake(self.envdeck, self.env, sleep=True)

    def action_env_wake(self) -> None:
        from screens.lifecycle_flow import sleep_or_wake

        sleep_or_wake(self.envdeck, self.env, sleep=False)

    def jump(self, *, view: str | None = None, kind: str | None = None) -> None:
        if kind is not None:
            self.scope = None
            self.view.kind = kind or None
            view = "resources"
        if view:
            self.action_show_view(view)
        self.refresh_view("resources")
        self._update_title()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        view = event.pane.id or "resources"
        self.query_one("#filter", Input).add_class("hidden")  # a box left open filters the view it was opened in
        if view in self.dirty or VIEW_BY_NAME[view].reload_on_show:
            self.refresh_view(view)
        self._update_title()
        self._focus_view(view)
        self.refresh_bindings()  # the Steps view offers no resource actions
        if self.mounted(view):  # else once its widgets are mounted and focused (_view_mounted)
            self._release_view_keys(view)
        self._switch_shown = True
        self._release_after_switch()

    def _focus_view(self, view: str) -> None:
        if self._ensure_view(view):  # else focused once mounted, if still shown
            widget = self.query_one(VIEW_BY_NAME[view].focus)
            search = self.query_one("#logs-search-input", Input) if view == "logs" else None
            if search is not None and not search.has_class("hidden"):
                widget = search  # opened by a `/` typed right after `l`: its keys go there
            if widget is not self.focused:  # focus() repaints it even then (a 20k-row table's visible rows)
                widget.focus()

    def refresh_all(self) -> None:
        if self.gone:
            return
        self.dirty = set(VIEWS)
        self.refresh_view(self.active_view)
        self._update_title()
        self._update_status()

    def palette_changed(self) -> None:
        self.query_one(LogsView).restyle(self.envdeck.palette)
        self.refresh_all()

    def refresh_view(self, view: str) -> None:
        self.dirty.discard(view)
        if not self._ensure_view(view):
            self.dirty.add(view)  # refreshed once its widgets are mounted, if still shown
            return
        app = self.envdeck
        state = self.state
        if view == "resources":
            table = self.query_one(ResourceTable)
            table.show(self.scoped_resources(), self.view, now=app.now(), palette=app.palette,
                       history=self.history)
            self._update_table_info()
        elif view == "faults":
            self.query_one(FaultsTable).show(state, app.now(), app.palette)
        elif view == "compliance":
            count = self.query_one(ComplianceTable).show(state, app.palette)
            score = state.compliance()  # only what a rule assessed counts (tui/core/compliance_score.py)
            # fitted to the screen (the hint's padding of one column a side); before the first layout, 80 columns
            width = self.size.width - 2 if self.size.width else HINT_WIDTH
            self._hint_width = width
            self.query_one("#compliance-info", Static).update(Text(score.hint(count, width=width), end=""))
        elif view == "drift":
            self.query_one(DriftTable).show(state, app.palette)
            drifts = state.all_drifts()
            mode = state.repair + (" · paused" if state.paused else "")
            self.query_one("#drift-info", Static).update(Text(
                f"{len(drifts)} drifted field(s) · repair mode {mode} · R repairs the selected resource", end=""))
        elif view == "timeline":
            timeline = self.query_one(TimelineTable)
            timeline.show(*self.timeline_rows, app.palette, state=state, now=app.now())
            timeline.mark_loading()  # no row read yet: a placeholder row until the read answers
            self.run_worker(self._load_timeline, group="timeline", exclusive=True, exit_on_error=False)
        elif view == "metrics":
            self._load_metrics()
        elif view == "steps":
            self.query_one(StepsView).show(self.managed, app.now(), app.palette)
        self.selection_changed()  # rows came or went under the cursor

    def samples_added(self, env: str, samples: list[tuple[str, str, float]]) -> None:
        """Samples of resources whose objects carry no metrics (Kubernetes pods and
        workloads): their history feeds the table's sparkline column."""
        if env != self.env:
            return
        state = self.state
        self.history.record_samples([s for s in samples
                                     if (r := state.resource(s[0])) is not None and not r.metrics])

    def env_updated(self, env: str, kinds: set[str]) -> None:
        if env != self.env or not self.app.is_running or self.gone:  # not while the app shuts down (widgets going)
            return
        if RESOURCES in kinds:
            self.history.record(self.state.all_resources())
        for view in VIEWS:
            if VIEW_BY_NAME[view].kinds & kinds:
                self.dirty.add(view)
        if self.active_view in self.dirty:
            self.refresh_view(self.active_view)
        if kinds & {RESOURCES, DRIFTS, FAULTS, BACKENDS, PAUSED}:
            self._update_title()
            self._update_status()
            self.refresh_bindings()  # `R Repair` shows only while there is drift to repair

    def tick(self) -> None:
        if not self.app.is_running or self.gone:  # the interval can fire while the app prunes this screen's widgets
            return
        self._ticks += 1
        self._update_status()
        self._follow_lifecycle_state()
        if self._ticks % AGE_EVERY_TICKS == 0 and VIEW_BY_NAME[self.active_view].shows_ages:
            self.refresh_view(self.active_view)
        if self._ticks % METRICS_EVERY_TICKS == 0 and self.active_view == "metrics":
            self._load_metrics()

    # -- title and status ------------------------------------------------------
    def _update_title(self) -> None:
        app = self.envdeck
        palette = app.palette
        state = self.state
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append(f" {clean(self.env)}", style=palette.style("primary", bold=True))
        crumbs = f" › {VIEW_BY_NAME[self.active_view].title}"
        if self.active_view == "resources" and self.scope is not None:
            crumbs += f" › pods of {clean(short_scope(self.scope), max_len=60)}"
        view_filter = self.filters.get(self.active_view)
        if view_filter is not None and view_filter.active:
            t.append(crumbs, style=palette.style("text-muted"))
            t.append(f"  /{clean(view_filter.describe(), max_len=60)}", style=palette.style("accent"))
            crumbs = ""
        t.append(f"{crumbs}  ", style=palette.style("text-muted"))
        managed = self.managed
        if managed is not None:  # a created environment: its lifecycle first (state, expiry)
            t.append_text(lifecycle_cell(managed, palette))
            mark = expiry_mark(managed, app.now(), palette)
            if mark is not None:
                t.append(" ")
                t.append_text(mark)
            t.append("  ")
        t.append_text(health_cell(str(state.health()), palette))
        t.append("  ")
        t.append_text(drift_cell(state.drift(), palette))
        faults = len(state.all_faults())
        t.append(f"  {faults} fault{'s' if faults != 1 else ''}",
                 style=palette.style("error" if faults else "text-muted", bold=bool(faults)))
        score = state.compliance_score()
        if score is not None:
            t.append(f"  {format_score(score)} compliant", style=palette.style("text-muted"))
        t.append(f"  repair {state.repair}", style=palette.style("text-muted"))
        if state.paused:  # repairs paused for every process on the store, until someone resumes
            by = f" by {clean(state.pause.user, max_len=40)}" if state.pause is not None else ""
            t.append(f" · PAUSED{by}", style=palette.style("warning", bold=True))
        if state.description:
            t.append(f"  {clean(state.description, max_len=80)}", style=palette.style("text-muted"))
        self.query_one("#title", Static).update(t, layout=False)  # one line (.title-bar): no reflow of the screen

    def _update_table_info(self) -> None:
        table = self.query_one(ResourceTable)
        palette = self.envdeck.palette
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        what = f"pods of {short_scope(self.scope)}" if self.scope is not None else "resources"
        t.append(f"{len(table.shown)} of {table.total} {clean(what, max_len=80)}", style=palette.style("text-muted"))
        t.append(f"  {clean(self.view.describe(), max_len=120)}", style=palette.style("accent"))
        info = self.query_one("#table-info", Static)
        # one line (no_wrap) once it has text: a keystroke's new count needs no reflow of the screen
        info.update(t, layout=not info.content)

    def _update_status(self) -> None:
        session = self.session
        role = session.policy.role(self.env)
        self.query_one(StatusBar).update(status_text(
            user=session.user, role=role.label if role else None, read_only=session.policy.read_only,
            state=self.state, now=self.envdeck.now(), palette=self.envdeck.palette,
            activity=self.envdeck.activity_label(), verbose=self.size.width >= 100))

    # -- loading -----------------------------------------------------------------
    def _start_seeding(self) -> None:
        if self.is_mounted:
            self.run_worker(self._seed_history, group="history", exit_on_error=False)  # called when it runs: a screen gone first leaves no coroutine never awaited

    async def _seed_history(self) -> None:
        from datetime import timedelta

        from tui.widgets.metric_history import key_metric

        since = self.envdeck.now() - timedelta(hours=1)
        seeded = 0
        for r in list(self.state.all_resources())[:300]:
            metric = key_metric(r)
            name = metric[0] if metric is not None else "cpu"  # no metrics on the object (pods): cpu samples
            samples = await self.session.store.samples(self.env, r.id, name, since)
            if samples:
                self.history.seed(r.id, [v for _, v in samples[:-1]])
                seeded += 1
        if seeded and self.active_view == "resources":
            self.refresh_view("resources")

    async def _load_timeline(self) -> None:
        from tui.core import audit_scope
        from tui.core.audit_rows import unreadable_note
        from tui.widgets.record_views import ENTRIES_READ, MESSAGE_SHOWN

        store = self.session.store
        try:
            entries = await store.timeline(self.env, limit=ENTRIES_READ)  # the view shows ENTRIES_SHOWN, folded
            # a message is cut by the database (a member's 5 MB row costs what a short one does)
            audit = await store.audit_entries(self.env, limit=200, message_max=MESSAGE_SHOWN)
            # a created environment's rows are its instance's: not an earlier environment's of the same name
            entries, audit = await audit_scope.of_current_instance(store, self.env, self.session.config.environments,
                                                                   entries, audit)
        except Exception as exc:  # noqa: BLE001 - said on screen and logged; the view keeps its rows
            logging.getLogger(__name__).warning("timeline of %s not read: %s", self.env, exc, exc_info=True)
            self.notify(clean(f"The timeline could not be read: {exc or type(exc).__name__}"),
                        severity="error", markup=False)
            for table in self.query(TimelineTable):
                table.mark_unread(clean(str(exc or type(exc).__name__)))
            return
        note = unreadable_note(audit)
        if note and note != self._timeline_note:  # once per set of such rows, not at every reload
            self._timeline_note = note
            self.notify(clean(note), severity="warning", markup=False)
        self.post_message(TimelineLoaded(self.env, entries, audit))

    @on(TimelineLoaded)
    def _timeline_loaded(self, message: TimelineLoaded) -> None:
        self.timeline_rows = (message.entries, message.audit)
        if self.active_view == "timeline":
            self.query_one(TimelineTable).show(message.entries, message.audit, self.envdeck.palette, state=self.state,
                                               now=self.envdeck.now())
            self.selection_changed()

    def _load_metrics(self) -> None:
        if not self._ensure_view("metrics"):
            self.dirty.add("metrics")  # loaded once its widgets are mounted, if still shown
            return
        view = self.query_one(MetricsView)
        view.resource_lookup = self.state.resource
        view.mark_loading()
        window = view.window[1]
        resource = view.resource_filter

        async def load() -> None:
            try:
                series = await self.session.metrics(self.env, resource, window)
            except Exception as exc:  # noqa: BLE001 - shown in the view; the UI stays up
                view.post_message(MetricsLoaded(self.env, window, [], error=str(exc) or type(exc).__name__))
                return
            view.post_message(MetricsLoaded(self.env, window, series))

        self.run_worker(load, group="metrics", exclusive=True, exit_on_error=False)

    @on(MetricsView.ReloadRequested)
    def _metrics_reload(self, event: MetricsView.ReloadRequested) -> None:
        event.stop()
        self._load_metrics()

    # -- selection -------------------------------------------------------------
    def selected_id(self) -> str | None:
        view = self.active_view
        if view == "resources":
            return self.query_one(ResourceTable).selected_resource_id()
        if VIEW_BY_NAME[view].records:
            rid = self.query_one(f"#{view}-table", RecordTable).resource_for_cursor()
            return None if rid == self.env else rid  # an environment-level row (a repair run): no resource
        if view == "metrics":
            key = self.query_one(SeriesTable).cursor_key
            return key.split(SERIES_SEP, 1)[0] if key else None
        if view == "logs":
            return self.query_one(LogsView).sources[0] if self.query_one(LogsView).sources else None
        if view == "steps":
            step = self.query_one(StepsTable).step_for_cursor(self.managed)
            return step_resource_id(step, self.state.all_resources()) if step is not None else None
        return None

    def selected_resource(self) -> Resource | None:
        rid = self.selected_id()
        found = self.state.resource(rid) if rid else None
        if found is None and rid is not None:
            by_name = {r.name: r for r in self.state.all_resources()}
            found = by_name.get(rid)
        return found

    def targets(self) -> list[Resource]:
        """The marked resources, else the selected one."""
        if self.view.marks:
            found = [self.state.resource(rid) for rid in sorted(self.view.marks)]
            return [r for r in found if r is not None]
        r = self.selected_resource()
        return [r] if r is not None else []

    def _need_one(self) -> Resource | None:
        r = self.selected_resource()
        if r is None:
            self.app.notify("select a resource first", timeout=3)
        return r

    # -- filter ------------------------------------------------------------------
    def action_filter(self) -> None:
        """`/` filters the view it is pressed in; the box keeps every key until Enter/Esc. The keys
        typed after `/` wait until the box has the focus (screens/key_hold.py)."""
        if isinstance(self.focused, Input | TextArea):
            raise SkipAction()  # '/' is typed there
        hold_keys(self.app, "filter")

        # `/` is taken as it arrives (priority), ahead of the keys typed before it that are still on
        # their way to their binding: `l/email` on a pod lost its `l` (the box took the focus first)
        # and filtered Resources. The box opens once they ran, in the view they chose (a key bubbles
        # through a queue per widget: a frame may come before it arrives).
        def open_box(waits: int = 0) -> None:
            if waits < KEYS_ON_THEIR_WAY_WAITS and keys_on_their_way(self.app):
                self.app.call_after_refresh(open_box, waits + 1)
                return
            if self.app.screen is not self:  # `i/r`: the detail opened first; `r` was not typed for it
                drop_keys(self.app, "filter", "/ was typed for the environment's filter and another screen opened first")
                return
            try:
                self._open_filter_box()
            finally:
                release_keys(self.app, "filter")  # after its focus() (both wait in the app's queue)

        self.app.call_after_refresh(open_box)

    def _open_filter_box(self) -> None:
        view = self.active_view
        if view == "logs":
            self.query_one(LogsView).action_search()
            return
        if view != "resources" and view not in self.filters:  # Steps: a handful of rows, no filter
            self.app.notify(f"the {VIEW_BY_NAME[view].title} view has no filter", timeout=3)
            return  # (it raised KeyError 'steps' and ended the TUI)
        self._filter_view = view
        if view == "resources":
            self.query_one(ResourceTable).prepare_search()  # the first keystroke then only searches
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.value = self.view.filter.text if view == "resources" else self.filters[view].text
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._set_filter(self._filter_view, ResourceFilter(event.value))

    def _set_filter(self, view: str, new: ResourceFilter) -> None:
        if view == "resources":
            self.view.filter = new
            self.refresh_view("resources")
        else:
            self.filters[view] = new
            self.query_one(FILTERED_TABLES[view], KeyedTable).set_filter(new.text_matcher() if new.active else None)
        self._update_title()
        self.selection_changed()  # the row under the cursor may be another, or none

    def holds_keys_after(self, key: str) -> str | None:
        """Enter and Esc close the filter box: the keys typed after them wait until the view has
        the focus again (released by _close_filter), never typed into the closed box. A view key
        (`1`-`8`) holds them until that view is shown and focused: `4 /api⏎` filters Faults, not
        the view it was typed on, and `4jj` moves Faults' cursor."""
        if key in ("enter", "escape") and self.is_mounted and self.focused is not None and (
                self.focused is self.query_one("#filter", Input) or self.focused.id == "logs-search-input"):
            return "filter"  # the Logs view's search box: released when it says it closed
        view = self._view_key(key)
        if view is not None:
            self._view_holding = view
            return VIEW_HOLD
        return None

    @on(LogsView.SearchClosed)
    def _logs_search_closed(self, event: LogsView.SearchClosed) -> None:
        event.stop()
        release_keys(self.app, "filter")  # `/email⏎nn`: the n n jump to the next matches

    def _close_filter(self) -> None:
        self.query_one("#filter", Input).add_class("hidden")
        self._focus_view(self.active_view)
        release_keys(self.app, "filter")

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        """Enter keeps the filter; when the selected row was filtered out, the cursor
        (cleared until now) goes to the first row shown."""
        event.stop()
        view = self._filter_view
        if view == "resources":
            self.query_one(ResourceTable).ensure_cursor()
        elif view in FILTERED_TABLES:
            self.query_one(FILTERED_TABLES[view], KeyedTable).ensure_cursor()
        self._close_filter()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            self._close_filter()
            return
        view = self.active_view
        if view in self.filters and self.filters[view].active:
            self._set_filter(view, ResourceFilter(""))
            return
        if view == "resources" and (self.view.filter.active or self.scope or self.view.kind or self.view.marks):
            if self.view.filter.active:
                self.view.filter = ResourceFilter("")
            elif self.scope is not None:
                self.leave_scope()
                return
            elif self.view.kind:
                self.view.kind = None
            else:
                self.view.marks.clear()
            self.refresh_view("resources")
            return
        if view != "resources":
            self.action_show_view("resources")
            return
        self.envdeck.open_overview()

    # -- drilling into a workload ----------------------------------------------------
    def scoped_resources(self) -> list[Resource]:
        resources = self.state.all_resources()
        if self.scope is None:
            return resources
        workload = self.state.resource(self.scope)
        return pods_of(resources, workload) if workload is not None else []

    def enter_scope(self, workload: Resource) -> None:
        """List the pods of `workload` (Esc comes back to the list it was chosen from)."""
        self._before_scope = (self.view.kind, self.view.filter)
        self.scope = workload.id
        self.view.kind, self.view.filter = None, ResourceFilter("")
        self.action_show_view("resources")
        self.refresh_view("resources")
        table = self.query_one(ResourceTable)
        table.move_cursor(row=0)
        table.focus()
        self._update_title()

    def leave_scope(self) -> None:
        workload, self.scope = self.scope, None
        self.view.kind, self.view.filter = self._before_scope
        self.refresh_view("resources")
        if workload is not None:
            self.query_one(ResourceTable).move_to_key(workload)
        self._update_title()

    # -- table keys --------------------------------------------------------------
    def action_mark(self) -> None:
        table = self.query_one(ResourceTable)
        rid = table.selected_resource_id() if self.active_view == "resources" else None
        if rid is None:
            return
        self.view.marks.symmetric_difference_update({rid})
        self.refresh_view("resources")
        table.action_cursor_down()

    def action_mark_all(self) -> None:
        table = self.query_one(ResourceTable)
        shown = {r.id for r in table.shown}
        self.view.marks = set() if shown <= self.view.marks else shown
        self.refresh_view("resources")

    def action_group(self) -> None:
        self.view.group = not self.view.group
        self.refresh_view("resources")

    def action_sort_next(self) -> None:
        index = SORTABLE.index(self.view.sort) if self.view.sort in SORTABLE else -1
        self.view.sort = SORTABLE[(index + 1) % len(SORTABLE)]
        self.refresh_view("resources")

    def action_sort_reverse(self) -> None:
        self.view.reverse = not self.view.reverse
        self.refresh_view("resources")

    @on(ResourceTable.HeaderSelected)
    def _header_selected(self, event: ResourceTable.HeaderSelected) -> None:
        event.stop()
        column = event.column_key
        if column in SORTABLE:
            if self.view.sort == column:
                self.view.reverse = not self.view.reverse
            else:
                self.view.sort, self.view.reverse = column, False
            self.refresh_view("resources")

    @on(ResourceTable.LayoutChanged)
    def _layout_changed(self, _event: ResourceTable.LayoutChanged) -> None:
        self.refresh_view("resources")

    @on(ResourceTable.RowSelected)
    def _resource_selected(self, event: ResourceTable.RowSelected) -> None:
        event.stop()
        self.action_drill()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "steps-table":
            event.stop()
            self._open_step()
            return
        if event.data_table.id in ("faults-table", "compliance-table", "drift-table",
                                   "timeline-table"):
            event.stop()
            self.action_drill(tab="drift" if event.data_table.id == "drift-table" else None)

    def _open_step(self) -> None:
        """Enter on a step row: the resource it made, when observed (else why not)."""
        step = self.query_one(StepsTable).step_for_cursor(self.managed)
        if step is None:
            return
        rid = step_resource_id(step, self.state.all_resources())
        if rid is None:
            what = "nothing made yet" if not step.native_id else f"{clean(step.native_id, max_len=60)} not observed yet"
            self.app.notify(f"step {clean(step.id, max_len=60)}: {what}", timeout=3, markup=False)
            return
        self.open_detail(self.state.resource(rid))

    # -- logs ------------------------------------------------------------------------
    def action_logs(self) -> None:
        targets = self.targets()
        if not targets:
            self.app.notify("select a resource first (space marks several)", timeout=3)
            return
        self.follow_logs(targets)

    def follow_logs(self, resources: list[Resource]) -> None:
        self._stop_logs()
        logs = self.query_one(LogsView)
        labels = {r.id: r.name for r in resources}
        stream_id = logs.start([r.id for r in resources] if len(resources) == 1 else list(labels.values()))
        if len(resources) == 1:
            logs.sources = [resources[0].id]
        for r in resources:
            worker = self.run_worker(stream_logs(self.session, self.env, r.id, r.name, stream_id,
                                                 logs.post_message), group="logs", exit_on_error=False)
            self._log_workers.append(worker)
        self.action_show_view("logs")

    def _stop_logs(self) -> None:
        for worker in self._log_workers:
            worker.cancel()
        self._log_workers.clear()
