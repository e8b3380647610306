"""The resources of one environment: filter, kind filter, sort, grouping by
backend, marks for bulk actions, key-metric sparkline. Rows are rebuilt only for
Resource objects that changed (backends hand over the same object when nothing
changed), then the table is synced by difference."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget

from tui.core.model import HEALTH_ORDER, Resource
from tui.core.sanitize import clean
from tui.widgets.cells import (
    HEALTH_GLYPH,
    PLAIN,
    Palette,
    drift_cell,
    format_age,
    format_number,
    health_cell,
    muted,
    safe,
    sparkline_text,
)
from tui.widgets.line_table import PADDING, Cells, LineTable, RowIndex
from tui.widgets.metric_history import MetricHistory, key_metric
from tui.widgets.resource_filter import SHORT_BACKEND, ResourceFilter
from tui.widgets.row_selection import RowSelection, gone_slack

GROUP_PREFIX = "group:"
SORTABLE = ("name", "kind", "backend", "health", "drift", "age", "status")
_HEALTH_RANK = {str(h): i for i, h in enumerate(HEALTH_ORDER)}
_DRIFT_RANK = {"Drifted": 0, "Unknown": 1, "InSync": 2, None: 3}
WIDE_COLUMNS = (("mark", " "), ("backend", "BACKEND"), ("kind", "KIND"), ("name", "NAME"), ("status", "STATUS"),
                ("health", "HEALTH"), ("drift", "DRIFT"), ("age", "AGE"), ("metric", "METRIC"))
# Below COMPACT_BELOW columns the least useful columns go (backend, age, metric), drift
# shrinks to one glyph, kind and name are capped, and STATUS (the cause: CrashLoopBackOff,
# 1/2 ready) is last and gets the rest of the width, so it reads at 80×24 without
# horizontal scrolling. Where even that leaves STATUS fewer than STATUS_MIN cells (60
# columns, every kind shown), NAME gives up cells first (down to NAME_MIN), then KIND (down
# to KIND_MIN), then HEALTH (down to its glyph): the cause stays in view, cut, in every view
# by one rule (`fit_compact`). Enter opens the detail with the whole text.
COMPACT_COLUMNS = (("mark", " "), ("kind", "KIND"), ("name", "NAME"), ("health", "HEALTH"), ("drift", "Δ"),
                   ("status", "STATUS"))
COMPACT_BELOW = 110
COMPACT_KIND_LEN, COMPACT_NAME_LEN, STATUS_MIN = 12, 22, 8
NAME_MIN, KIND_MIN, HEALTH_MIN = 12, 4, 1
# compact column → the fewest cells it gives up to STATUS, in the order they give them up
_COMPACT_YIELD = (("name", NAME_MIN), ("kind", KIND_MIN), ("health", HEALTH_MIN))
_DRIFT_GLYPH = {"Drifted": ("≠", "warning"), "Unknown": ("?", "text-muted"), "InSync": ("=", "success")}
WIDE_KIND_LEN, WIDE_NAME_LEN = 20, 48
# A kind too long for its column shows as its `:` alias (the short names `:asg`, `:hpa` jump to)
# rather than cut to `autoscaling…` / `HorizontalP…`.
SHORT_KIND = {
    "autoscaling-group": "asg", "lambda-function": "lambda", "load-balancer": "lb", "target-group": "tg",
    "dynamodb-table": "ddb", "sqs-queue": "sqs", "ec2-instance": "ec2", "rds-instance": "rds",
    "ecs-service": "ecs", "s3-bucket": "s3", "security-group": "sg", "ebs-volume": "ebs",
    "HorizontalPodAutoscaler": "hpa", "PodDisruptionBudget": "pdb", "NetworkPolicy": "netpol",
    "PersistentVolumeClaim": "pvc", "PersistentVolume": "pv", "ServiceAccount": "sa",
    "CustomResourceDefinition": "crd", "StatefulSet": "sts", "Deployment": "deploy", "Certificate": "cert",
}
ID_HEAD = 10  # `i-15f7e905…`: enough of an AWS id to tell two instances apart


def kind_label(kind: str, max_len: int) -> str:
    """The kind, or its short alias when the kind does not fit `max_len`."""
    return kind if len(kind) <= max_len else SHORT_KIND.get(kind, kind)


def name_label(r: Resource, duplicated: bool, max_len: int) -> str:
    """The name; `Name (id)` when another resource of its kind shares that name (two instances of
    one Auto Scaling group), as AWS resources are named outside this table. Cut to `max_len` keeping both
    parts readable: `staging… (i-15f7e905…)`."""
    native = r.id.split("/", 2)[-1]
    if not duplicated or not r.name or r.name == native:
        return r.name
    label = f"{r.name} ({native})"
    if len(label) <= max_len:
        return label
    ident = native if len(native) <= ID_HEAD + 1 else native[:ID_HEAD] + "…"
    room = max_len - len(ident) - 3
    if room < 4:
        return ident
    return f"{r.name if len(r.name) <= room else r.name[:room - 1] + '…'} ({ident})"


@dataclass
class TableView:
    """What the user chose: kept on the screen, applied to every refresh."""

    filter: ResourceFilter = field(default_factory=ResourceFilter)
    kind: str | None = None  # from `:pods`; matched case-insensitively
    sort: str = "backend"
    reverse: bool = False
    group: bool = False
    marks: set[str] = field(default_factory=set)

    def describe(self) -> str:
        parts = []
        if self.kind:
            parts.append(f"kind={self.kind}")
        if self.filter.active:
            parts.append(f"/{self.filter.describe()}")
        parts.append(f"sort={self.sort}{'↓' if self.reverse else '↑'}")
        if self.group:
            parts.append("grouped")
        if self.marks:
            parts.append(f"{len(self.marks)} marked")
        return "  ".join(parts)


def fit_compact(keys: Sequence[str], natural: Sequence[int], room: int) -> list[int]:
    """The compact layout's column widths for `room` cells, from each column's widest cell
    (`natural`; STATUS is the last column): STATUS takes what the others leave (never more than
    its widest cell, never less than STATUS_MIN); when that is under STATUS_MIN, NAME, then KIND,
    then HEALTH give up cells to it, each down to its minimum (`_COMPACT_YIELD`)."""
    widths = list(natural)
    status = len(widths) - 1
    free = room - sum(widths[:status]) - 2 * PADDING * len(widths)
    for key, least in _COMPACT_YIELD:
        if free >= STATUS_MIN:
            break
        if key in keys:
            i = keys.index(key)
            give = max(0, min(STATUS_MIN - free, widths[i] - least))
            widths[i] -= give
            free += give
    widths[status] = max(STATUS_MIN, min(natural[status], free))
    return widths


def plain_width(value: object, max_len: int) -> int:
    """The width of `safe(value, max_len=max_len)` without building the Text (printable ASCII, nearly
    every name: its length, cut as clean() cuts it to max_len cells, without the sanitiser's scans)."""
    if value is None:
        return 0
    if type(value) is str and value.isascii() and value.isprintable():
        return len(value) if len(value) <= max_len else max_len
    return cell_len(clean(value, max_len=max_len))


def drift_glyph(drift: str | None, palette: Palette) -> Text:
    """One character for the compact layout's Δ column (≠ drifted, = in sync, ? unknown)."""
    glyph, variable = _DRIFT_GLYPH.get(drift or "", (" ", "text-muted"))
    return Text(glyph, style=palette.style(variable, bold=drift == "Drifted"), end="")


def _age_key(r: Resource) -> tuple:
    created = r.created_at  # oldest first; never created last
    return (math.inf if created is None else created.timestamp(), r.name)


# One key function per sort column, chosen once per refresh (C-level attrgetter where it can be):
# sorting 20,000 resources happens on every reconciler update.
_SORT_KEYS: dict[str, Callable[[Resource], Any]] = {
    "health": lambda r: (-_HEALTH_RANK.get(str(r.health), 0), r.name),
    "drift": lambda r: (_DRIFT_RANK.get(None if r.drift is None else str(r.drift), 3), r.name),
    "age": _age_key,
    "backend": attrgetter("backend", "kind", "name"),
    "kind": attrgetter("kind", "name"),
    "status": attrgetter("status", "name"),
    "name": attrgetter("name", "kind"),
}


def sort_key(by: str) -> Callable[[Resource], Any]:
    """The key function for sort column `by` (unknown columns sort by name)."""
    return _SORT_KEYS.get(by, _SORT_KEYS["name"])


class ResourceTable(LineTable):
    """Row key: the resource id (group headers: `group:<backend>`). Rows are drawn
    only when visible; their cells are built then and cached per Resource object."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(WIDE_COLUMNS, id=id)
        self.compact = False
        self._row_cache: dict[str, tuple[tuple, Cells]] = {}
        self._by_id: dict[str, Resource] = {}
        self._selection = RowSelection()
        self._groups: dict[str, Cells] = {}
        self._marks: set[str] = set()
        self._now = datetime.now().astimezone()
        self._palette = PLAIN
        self._history = MetricHistory()
        self.shown: list[Resource] = []
        self.total = 0
        self._natural = list(self._widths)  # each column's widest cell measured (before fitting)
        self._duplicated: frozenset[tuple[str, str]] = frozenset()  # (kind, name) two or more resources share
        self._prepare_pending = False  # an idle slice of search-text preparation is scheduled
        self._shown_as: tuple[str, str] | None = None  # the kind and filter of the rows shown

    def on_mount(self) -> None:
        # Decide the column set from the terminal size up front, so that a fixed-size
        # terminal never switches column sets (and never re-lays out) after the first paint.
        self.compact = self.app.size.width < COMPACT_BELOW
        self._set_columns(COMPACT_COLUMNS if self.compact else WIDE_COLUMNS)

    class LayoutChanged(Message):
        """The table switched between the wide and the compact column set."""

    # The footer offers the action keys the selected resource has: it asks again when the
    # selection changes (the screen's check_action decides).
    def set_rows(self, order: list[str], index: RowIndex | None = None, *, hidden_waits: bool = False) -> None:
        before = self.cursor_key
        super().set_rows(order, index, hidden_waits=hidden_waits)
        self._selection_changed(before)

    def _place_after_loss(self, row: int) -> int:
        """A group header takes no selection: the resource under it does (else the one above)."""
        order = self._order
        if not order[row].startswith(GROUP_PREFIX):
            return row
        if row + 1 < len(order):
            return row + 1
        return max(0, row - 1)

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        before = self.cursor_key
        super().move_cursor(row=row, animate=animate, scroll=scroll)
        self._selection_changed(before)

    def _selection_changed(self, before: str | None) -> None:
        if self.cursor_key != before and self.is_attached:
            self.screen.refresh_bindings()

    def set_layout(self, compact: bool) -> None:
        self.compact = compact
        self._row_cache.clear()
        self._set_columns(COMPACT_COLUMNS if compact else WIDE_COLUMNS)
        self._update_virtual_size()
        self.refresh()

    def _update_virtual_size(self) -> None:
        """As LineTable's, without a layout of the whole screen when only the row count changed and
        the vertical scrollbar is needed before and after (a filter keystroke over thousands of rows):
        the scrollbar's thumb and the scroll limits follow the new size, nothing else moves."""
        new = Size(sum(w + 2 * PADDING for w in self._widths), len(self._order) + 1)
        old = self.virtual_size
        if new == old:
            return
        rows = self.container_size.height
        if (self.is_attached and new.width == old.width and self.show_vertical_scrollbar and rows > 0
                and new.height > rows and old.height > rows):
            self.set_reactive(Widget.virtual_size, new)
            self._scroll_update(new)
        else:
            self.virtual_size = new
            if not self._size:
                self._scrollbar_before_layout()

    def _set_columns(self, columns: Sequence[tuple[str, str]]) -> None:
        super()._set_columns(columns)
        self._natural = list(self._widths)
        self._fitted_room: int | None = None  # the width `_widths` were fitted to (compact)

    def _grow_widths(self, keys) -> bool:
        if not self.compact:
            return super()._grow_widths(keys)
        # Measured against the widest cells (`_natural`), not the fitted widths; fitted again
        # only when a column grew or the widget's width changed (every drawn row comes here).
        natural = self._natural
        grown = list(map(max, natural, *map(self.cell_widths, keys))) if keys else natural
        room = self.scrollable_content_region.width
        if grown == natural and room == self._fitted_room:
            return False
        self._natural = grown
        return self._fit_status(room)

    def _fit_status(self, room: int) -> bool:
        """Compact layout: the columns fitted to the widget's width (see `fit_compact`), so that
        the table does not scroll sideways and STATUS stays in view; True when a width changed."""
        if room <= 0:
            fitted = list(self._natural)
        else:
            self._fitted_room = room
            fitted = fit_compact(self.column_keys, self._natural, room)
        if fitted == self._widths:
            return False
        self._widths[:] = fitted
        return True

    def on_resize(self) -> None:
        compact = self.app.size.width < COMPACT_BELOW
        if compact != self.compact:
            self.set_layout(compact)
            self.post_message(self.LayoutChanged())
        elif self.compact and self._grow_widths([]):
            self._update_virtual_size()
            self.refresh()

    # The search texts are lowered ahead, in idle time: after each fill or update, one slice
    # of rows (a few ms) per timer tick until every row's text is ready, so that no frame waits
    # for all 20,000 and the `/` and the first keystroke only filter. Only rows whose Resource
    # object is new (added or changed) are lowered again.
    PREPARE_GAP_S = 0.01

    @property
    def search_ready(self) -> bool:
        """Every shown resource's search text is prepared (a plain filter query only filters)."""
        return self._selection.search_ready

    def prepare_search(self) -> None:
        """The filter box opened: whatever the idle slices have not prepared yet is prepared now."""
        self._selection.prepare_search()

    def _schedule_prepare(self, *, after_frame: bool = False) -> None:
        if self._prepare_pending or self._selection.search_ready or not self.is_attached:
            return
        self._prepare_pending = True
        if after_frame:  # after a fill: the frame showing it first (a new screen's first frame waits for no slice)
            self.call_after_refresh(self.set_timer, self.PREPARE_GAP_S, self._prepare_slice)
        else:
            self.set_timer(self.PREPARE_GAP_S, self._prepare_slice)

    def _prepare_slice(self) -> None:
        self._prepare_pending = False
        if not self._selection.prepare_some():
            self._schedule_prepare()

    def show(self, resources: list[Resource], view: TableView, *, now: datetime, palette: Palette,
             history: MetricHistory) -> None:
        self.total = len(resources)
        if set(view.marks) != self._marks and self.is_attached:
            self.screen.refresh_bindings()  # the action keys the footer offers follow the marks too
        self._now, self._palette, self._history, self._marks = now, palette, history, set(view.marks)
        selection = self._selection.select(
            resources, kind=view.kind or "", query=view.filter, sort_key=sort_key(view.sort),
            sort_spec=(view.sort, view.reverse, view.group), group=view.group, reverse=view.reverse,
            previous=lambda: self._index)
        self._duplicated = self._selection.duplicated
        self._by_id = self._selection.by_id  # every resource: `resource()` asks `_index` whether it is shown
        chosen = selection.resources
        self.shown = chosen
        self._groups = {}
        width = len(self._column_spec)
        if view.group:
            counts: dict[str, int] = {}
            order: list[str] = []
            index = None
            for r in chosen:
                counts[r.backend] = counts.get(r.backend, 0) + 1
            current_group = None
            for r in chosen:
                if r.backend != current_group:
                    current_group = r.backend
                    order.append(GROUP_PREFIX + r.backend)
                order.append(r.id)
            for backend, count in counts.items():
                header = Text(f"▾ {backend} ({count})", style=palette.style("accent", bold=True), end="")
                self._groups[GROUP_PREFIX + backend] = (Text(""), header) + tuple(Text("") for _ in range(width - 2))
        else:
            order, index = selection.keys, lambda: selection.index  # made when first asked
        if len(self._row_cache) - len(resources) > gone_slack(len(resources)):  # rows gone: drop their cells
            live = {r.id for r in resources}
            for rid in [k for k in self._row_cache if k not in live]:
                del self._row_cache[rid]
        # A selected row hidden by the user's own kind or filter change waits for its resource;
        # one taken away by an update (deleted, no longer matching) hands the selection on.
        shown_as = (view.kind or "", view.filter.describe() if view.filter.active else "")
        hidden_waits, self._shown_as = shown_as != self._shown_as, shown_as
        self.set_rows(order, index, hidden_waits=hidden_waits)
        self._schedule_prepare(after_frame=True)

    def row_stamp(self, key: str) -> object:
        return self._by_id.get(key)  # the Resource object: a new one for every change

    def resource(self, key: str) -> Resource | None:
        """The resource shown under row `key` (None: not shown, e.g. filtered out)."""
        return self._by_id.get(key) if key in self._index else None

    def cells_for(self, key: str) -> Cells:
        group = self._groups.get(key)
        if group is not None:
            return group
        return self._cells_for(self._by_id[key], key in self._marks, self._now, self._palette, self._history)

    def cell_widths(self, key: str) -> Sequence[int]:
        """The widths `cells_for(key)` gives, from plain strings: measuring a sample of a new
        inventory does not build (and style) its rows' Text cells."""
        group = self._groups.get(key)
        if group is not None:
            return [cell.cell_len for cell in group]
        r = self._by_id[key]
        values = self._history.values_of(r)
        metric = key_metric(r)
        if metric is None and values:
            metric = ("", values[-1])
        metric_w = 1 if metric is None else cell_len(f"{sparkline_text(values, 8)} {format_number(metric[1])}".strip())
        health = str(r.health)
        health_w = cell_len(f"{HEALTH_GLYPH.get(health, '?')} {health}")
        duplicated = (r.kind, r.name) in self._duplicated
        if self.compact:
            return (1, plain_width(kind_label(r.kind, COMPACT_KIND_LEN), COMPACT_KIND_LEN),
                    plain_width(name_label(r, duplicated, COMPACT_NAME_LEN), COMPACT_NAME_LEN), health_w, 1,
                    plain_width(r.status or r.health_reason, 120))
        age = format_age((self._now - r.created_at).total_seconds()) if r.created_at else "—"
        return (1, cell_len(SHORT_BACKEND.get(r.backend, r.backend)),
                plain_width(kind_label(r.kind, WIDE_KIND_LEN), WIDE_KIND_LEN),
                plain_width(name_label(r, duplicated, WIDE_NAME_LEN), WIDE_NAME_LEN), plain_width(r.status, 36),
                health_w, 1 if r.drift is None else cell_len(str(r.drift)), cell_len(age), metric_w)

    def _cells_for(self, r: Resource, marked: bool, now: datetime, palette: Palette,
                   history: MetricHistory) -> Cells:
        age = format_age((now - r.created_at).total_seconds()) if r.created_at else "—"
        values = history.values_of(r)
        duplicated = (r.kind, r.name) in self._duplicated
        stamp = (id(r), r.observed_at, marked, age, len(values), values[-1] if values else None, id(palette),
                 duplicated)
        cached = self._row_cache.get(r.id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        mark = Text("●" if marked else " ", style=palette.style("accent", bold=True), end="")
        metric = key_metric(r)
        if metric is None and values:  # e.g. pods: their samples come beside the object
            metric = ("", values[-1])
        if metric is None:
            metric_cell = muted("—", palette)
        else:
            spark = sparkline_text(values, 8)
            metric_cell = Text(f"{spark} {format_number(metric[1])}".strip(), style=palette.style("primary"),
                               end="")
        health = health_cell(str(r.health), palette)
        drift = drift_cell(None if r.drift is None else str(r.drift), palette)
        if self.compact:
            cells: Cells = (mark, safe(kind_label(r.kind, COMPACT_KIND_LEN), max_len=COMPACT_KIND_LEN),
                            safe(name_label(r, duplicated, COMPACT_NAME_LEN), max_len=COMPACT_NAME_LEN),
                            health, drift_glyph(None if r.drift is None else str(r.drift), palette),
                            safe(r.status or r.health_reason, max_len=120))
        else:
            cells = (mark, Text(SHORT_BACKEND.get(r.backend, r.backend), end=""),
                     safe(kind_label(r.kind, WIDE_KIND_LEN), max_len=WIDE_KIND_LEN),
                     safe(name_label(r, duplicated, WIDE_NAME_LEN), max_len=WIDE_NAME_LEN),
                     safe(r.status, max_len=36), health, drift, Text(age, end=""),
                     metric_cell)
        self._row_cache[r.id] = (stamp, cells)
        return cells

    def selected_resource_id(self) -> str | None:
        key = self.cursor_key
        if key is None or key.startswith(GROUP_PREFIX):
            return None
        return key
