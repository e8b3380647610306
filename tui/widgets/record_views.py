"""The record views of an environment: Faults, Compliance, Drift and Timeline
(events + audit + repairs in one stream). Each is a KeyedTable whose row keys
start with the resource id, so the action keys work on the selected row.

Resources are named as people name them: an EC2 instance, volume or security group by
its Name tag with the id beside it (`staging-bastion (i-0b6e…)`), not by the raw id.

Widths: the message column (FILL) gets whatever the other columns leave, at every
width, so the table never scrolls sideways; below NARROW_BELOW columns the least
useful columns go first (NARROW_COLUMNS) and the others are capped (NARROW_CAPS; CAPS
above). A cut cell always ends in `…`. The preview line under each table shows the
selected row's whole message, wrapped; Enter opens the resource's detail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static
from textual.widgets.data_table import ColumnKey

from tui.core.audit_rows import FUTURE_SKEW, row_time
from tui.core.env_state import EnvState
from tui.core.fleet_fold import fold_fleet_runs
from tui.core.model import SEVERITY_ORDER, Resource, iso
from tui.core.text_cut import cut_middle
from tui.core.timeline_fold import fold_health
from tui.widgets.cells import Palette, age_between, muted, result_cell, safe, severity_cell
from tui.widgets.keyed_table import Cells, KeyedTable, RowTest

SEP = "\t"
_SEV_RANK = {str(s): i for i, s in enumerate(SEVERITY_ORDER)}
NARROW_BELOW = 110
FILL_MIN = 12
FILL_WANT = 48  # wide layout: the other columns are capped (CAPS) when the message would get less
PREVIEW_LINES = 3
USER_SHOWN = 40  # cells of a row's user in the Timeline message (the rest is cut in the middle)
MESSAGE_SHOWN = 1000  # of a stored message; longer ones say they were cut (and how long they were)
# The Timeline reads ENTRIES_READ timeline rows and shows the newest ENTRIES_SHOWN once folded: a flapping
# 90-node fleet writes 270 rows a pass, which folded are one, so the events before it stay in view (the read
# of 1,200 rows costs ~7 ms CPU, their folding ~2 ms; showing them all unfolded would cost 4x the frame).
# A `/` filter looks through every row read.
ENTRIES_READ = 1200
ENTRIES_SHOWN = 300


def short_id(resource_id: str) -> str:
    """`kubernetes/Pod/web-1` → `Pod/web-1` (the backend shows in other columns)."""
    parts = resource_id.split("/", 1)
    return parts[1] if len(parts) == 2 else resource_id


def resource_label(resource_id: str, resource: Resource | None) -> str:
    """How a resource is named outside the Resources table: `Kind/name` when the name is
    the id's last part (Kubernetes, edge), else the name with the id beside it
    (`staging-bastion (i-0b6e6a…)`: AWS ids say nothing to an on-caller)."""
    short = short_id(resource_id)
    if resource is None or not resource.name:
        return short
    native = short.split("/", 1)[1] if "/" in short else short
    if resource.name == native:
        return short
    return f"{resource.name} ({native})"


def show_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


class RecordPreview(Static):
    """The selected row's whole message, wrapped, under its record table."""

    DEFAULT_CSS = f"""
    RecordPreview {{ height: auto; min-height: 1; max-height: {PREVIEW_LINES}; padding: 0 1;
                     color: $text-muted; }}
    """


class RecordTable(KeyedTable):
    """Base: row key = `<resource id>\\t<detail>`. Subclasses build cells for every
    column of COLUMNS; the table shows the subset its width allows."""

    COLUMNS: tuple[tuple[str, str], ...] = ()
    NARROW_COLUMNS: tuple[str, ...] = ()  # the column keys kept below NARROW_BELOW (empty: all)
    NARROW_CAPS: dict[str, int] = {}  # width caps below NARROW_BELOW
    CAPS: dict[str, int] = {}  # width caps at NARROW_BELOW and above
    NARROW_TINT: tuple[str, str] | None = None  # (kept column, dropped column whose colour it takes)
    FILL: str | None = "message"  # the column that takes the width left

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self.COLUMNS, id=id)
        self.narrow = False
        self._full: tuple[dict[str, Cells], list[str]] = ({}, [])  # every column, whole text
        self._full_of: dict[int, Cells] = {}  # id(shown cells) -> the full cells (the filter reads those)
        self._natural: dict[str, int] = {}  # column key -> widest cell shown
        self._fill_width: int | None = None  # the FILL cells are cut to this, with an ellipsis
        self._uncapped: dict[str, int] = {}  # column key -> widest whole cell (wide layout)
        self._use_caps = False  # wide layout: CAPS apply (the message would get less than FILL_WANT)
        self.preview = RecordPreview(classes="record-preview")

    def _layout(self, narrow: bool) -> list[tuple[str, str]]:
        if narrow and self.NARROW_COLUMNS:
            return [c for c in self.COLUMNS if c[0] in self.NARROW_COLUMNS]
        return list(self.COLUMNS)

    def on_mount(self) -> None:
        # Decided before the columns exist, so a fixed-size terminal never re-lays out.
        self.narrow = self.app.size.width < NARROW_BELOW
        self._column_spec = self._layout(self.narrow)  # KeyedTable.on_mount (called next) adds them
        if self.parent is not None and not self.preview.is_mounted:
            self.parent.mount(self.preview, after=self)

    def on_resize(self) -> None:
        narrow = self.app.size.width < NARROW_BELOW
        if narrow != self.narrow:
            self.narrow = narrow
            self._rebuild()
        else:
            self._fit()

    def _rebuild(self) -> None:
        """New columns (DataTable never narrows a column whose cells got shorter), the rows again."""
        self.clear(columns=True)
        self._cells, self._order, self._natural, self._fill_width = {}, [], {}, None
        self._column_spec = self._layout(self.narrow)
        for key, label in self._column_spec:
            self.add_column(label, key=key)
        self.sync(*self._full)

    def _project(self, cells: Cells) -> Cells:
        keys = [key for key, _ in self.COLUMNS]
        caps = dict(self.NARROW_CAPS) if self.narrow else dict(self.CAPS) if self._use_caps else {}
        if self.FILL is not None and self._fill_width is not None:
            caps[self.FILL] = self._fill_width
        out = []
        for key in self.column_keys:
            cell = self.narrow_cell(key, cells) if self.narrow else cells[keys.index(key)]
            cap = caps.get(key)
            if cap is not None and cell.cell_len > cap:
                cell = cell.copy()
                cell.truncate(cap, overflow="ellipsis")
            out.append(cell)
        return tuple(out)

    def narrow_cell(self, key: str, cells: Cells) -> Text:
        """The cell of column `key` in the narrow layout (subclasses may fold a dropped column in).
        NARROW_TINT (kept column, dropped column): the kept cell takes the dropped one's colour."""
        keys = [k for k, _ in self.COLUMNS]
        cell = cells[keys.index(key)]
        if self.NARROW_TINT is not None and key == self.NARROW_TINT[0]:
            cell = cell.copy()
            cell.stylize(cells[keys.index(self.NARROW_TINT[1])].style)
        return cell

    def sync(self, rows: dict[str, Cells], order: list[str]) -> None:
        """`rows` have a cell per column of COLUMNS (from show()); the filter's re-sync hands
        back the rows as shown, which are cut again from the full ones."""
        first = next(iter(rows.values()), None)
        if first is not None and id(first) in self._full_of:
            rows, order = self._full
        self._full = (rows, order)
        if not self.narrow:
            keys = [key for key, _ in self.COLUMNS]
            self._uncapped = {key: max([len(label)] + [cells[keys.index(key)].cell_len for cells in rows.values()])
                              for key, label in self._column_spec}
        shown = {key: self._project(cells) for key, cells in rows.items()}
        self._full_of = {id(shown[key]): rows[key] for key in shown}
        rows = shown
        super().sync(rows, order)
        # The widths DataTable will measure when idle, known now: fit once, with them (of the rows
        # shown: those the filter hides take no width).
        widths = [len(label) for _, label in self._column_spec]
        for cells in self._cells.values():
            for i, cell in enumerate(cells):
                if cell.cell_len > widths[i]:
                    widths[i] = cell.cell_len
        self._natural = dict(zip(self.column_keys, widths, strict=True))
        self._fit()
        self.show_preview()

    def preview_text(self, cells: Cells) -> Text:
        """The whole text of a row's message (every column of COLUMNS, uncut)."""
        keys = [key for key, _ in self.COLUMNS]
        return cells[keys.index(self.FILL)] if self.FILL in keys else Text(" ".join(c.plain for c in cells))

    def show_preview(self) -> None:
        key = self.cursor_key
        full = self._full[0].get(key) if key is not None else None
        text = self.preview_text(full).copy() if full is not None else Text("")
        text.no_wrap = False
        text.end = ""
        self.preview.update(text)

    def on_data_table_row_highlighted(self) -> None:
        self.show_preview()

    def _fit(self) -> None:
        """The FILL column gets the width the others leave (at least FILL_MIN)."""
        if self.FILL is None or self.FILL not in self.column_keys:
            return
        room = self.content_region.width
        if room <= 0:
            return
        if self.row_count + int(self.show_header) > self.content_region.height:
            room -= self.styles.scrollbar_size_vertical  # the scrollbar is there, or comes with these rows
        fill = self.columns[ColumnKey(self.FILL)]
        if not self.narrow and self.CAPS:
            whole = sum(w + 2 * self.cell_padding for k, w in self._uncapped.items() if k != self.FILL)
            use_caps = room - whole - 2 * self.cell_padding < FILL_WANT
            if use_caps != self._use_caps:
                self._use_caps = use_caps
                self._rebuild()  # cut (or uncut) the capped columns
                return
        # Every other column as wide as its cells shown now: DataTable never narrows a column whose
        # cells got shorter (TIME stayed 14 wide for `14:31:57` once a dated row had gone).
        others, narrowed = 0, False
        for key, column in self.columns.items():
            if key == fill.key:
                continue
            natural = self._natural.get(key.value)
            if natural is None:
                others += column.content_width + 2 * self.cell_padding
                continue
            if column.auto_width or column.width != natural:
                column.auto_width, column.width, narrowed = False, natural, True
            others += natural + 2 * self.cell_padding
        width = max(FILL_MIN, room - others - 2 * self.cell_padding)
        if narrowed:
            self._require_update_dimensions = True
            self.refresh()
        if fill.auto_width or fill.width != width:
            fill.auto_width = False
            fill.width = width
            self._require_update_dimensions = True
            self.refresh()
        if width != self._fill_width:
            self._fill_width = width
            self.sync(*self._full)  # cut the messages again, with "…" where they go on

    def _row_text(self, cells: Cells) -> tuple[str, str]:
        # The filter matches the whole row, dropped columns and cut messages included.
        full = self._full_of.get(id(cells))
        if full is None:
            return super()._row_text(cells)
        keys = [key for key, _ in self.COLUMNS]
        name = full[keys.index(self.NAME_COLUMN)].plain if self.NAME_COLUMN in keys else full[0].plain
        return " ".join(c.plain for c in full), name

    def resource_for_cursor(self) -> str | None:
        key = self.cursor_key
        return key.split(SEP, 1)[0] if key else None

    def detail_for_cursor(self) -> str | None:
        key = self.cursor_key
        return key.split(SEP, 1)[1] if key and SEP in key else None


class FaultsTable(RecordTable):
    COLUMNS = (("severity", "SEVERITY"), ("resource", "RESOURCE"), ("reason", "REASON"), ("count", "COUNT"),
               ("since", "SINCE"), ("message", "MESSAGE"))
    NARROW_COLUMNS = ("resource", "reason", "message")
    NARROW_CAPS = {"resource": 20, "reason": 16}
    CAPS = {"resource": 28, "reason": 20}
    NARROW_TINT = ("reason", "severity")  # SEVERITY is dropped: REASON takes its colour (rows are sorted by it)

    def show(self, state: EnvState, now: datetime, palette: Palette) -> None:
        faults = sorted(state.all_faults(), key=lambda f: (-_SEV_RANK.get(str(f.severity), 0), f.resource, f.reason))
        rows: dict[str, Cells] = {}
        for f in faults:
            key = f"{f.resource}{SEP}{f.reason}"
            if key in rows:
                continue
            rows[key] = (severity_cell(str(f.severity), palette),
                         safe(resource_label(f.resource, state.resource(f.resource)), max_len=48),
                         safe(f.reason, max_len=32), Text(str(f.count), end=""),
                         Text(age_between(now, f.since), end=""), safe(f.message, max_len=160))
        self.sync(rows, list(rows))


class ComplianceTable(RecordTable):
    COLUMNS = (("severity", "SEVERITY"), ("rule", "RULE"), ("resource", "RESOURCE"), ("message", "MESSAGE"))
    NARROW_COLUMNS = ("rule", "resource", "message")
    NARROW_CAPS = {"rule": 18, "resource": 20}
    CAPS = {"rule": 24, "resource": 28}
    NARROW_TINT = ("rule", "severity")  # SEVERITY is dropped: RULE takes its colour (rows are sorted by it)

    def show(self, state: EnvState, palette: Palette) -> int:
        findings = [(r, f) for r in state.all_resources() for f in r.findings]
        findings.sort(key=lambda x: (-_SEV_RANK.get(str(x[1].severity), 0), x[1].rule, x[0].id))
        rows: dict[str, Cells] = {}
        for r, f in findings:
            key = f"{r.id}{SEP}{f.rule}"
            if key in rows:
                continue
            rows[key] = (severity_cell(str(f.severity), palette), safe(f.rule, max_len=40),
                         safe(resource_label(r.id, r), max_len=48), safe(f.message, max_len=160))
        self.sync(rows, list(rows))
        return len(rows)


class DriftTable(RecordTable):
    COLUMNS = (("resource", "RESOURCE"), ("field", "FIELD"), ("desired", "DESIRED"), ("actual", "ACTUAL"))
    NARROW_CAPS = {"resource": 20, "field": 18, "desired": 18}
    CAPS = {"resource": 28, "field": 24, "desired": 30}
    FILL = "actual"

    def preview_text(self, cells: Cells) -> Text:
        return Text.assemble(cells[1], ": desired ", cells[2], " · actual ", cells[3])

    def show(self, state: EnvState, palette: Palette) -> None:
        rows: dict[str, Cells] = {}
        for d in sorted(state.all_drifts(), key=lambda d: (d.resource, d.field)):
            # a desired value from an overlay (a manual action's, kept) says so; a held repair too
            desired = show_value(d.desired) + (" (overlay)" if (d.resource, d.field) in state.overlays else "")
            actual = show_value(d.actual) + (" · repair held" if d.resource in state.holds else "")
            rows[f"{d.resource}{SEP}{d.field}"] = (
                safe(resource_label(d.resource, state.resource(d.resource)), max_len=48), safe(d.field, style=palette.style("accent")),
                safe(desired, max_len=60, style=palette.style("success")),
                safe(actual, max_len=80, style=palette.style("warning", bold=True)))
        for (rid, field), overlay in sorted(state.overlays.items()):
            key = f"{rid}{SEP}{field}"
            if key not in rows:  # in sync with the overlay: still shown, as an overlay
                rows[key] = (
                    safe(resource_label(rid, state.resource(rid)), max_len=48), safe(field, style=palette.style("accent")),
                    safe(f"{show_value(overlay['value'])} (overlay)", max_len=60, style=palette.style("success")),
                    safe(f"in sync · overlay by {overlay['user']}", max_len=80, style=palette.style("text-muted")))
        self.sync(rows, list(rows))


LOADING_KEY = f"{SEP}loading"  # the placeholder row's key (no resource)


class TimelineTable(RecordTable):
    """Events, faults, drift, repairs and backend outages from the store's timeline,
    merged with the audit trail, newest first.

    Edge health changes that follow from each other are folded (tui/core/timeline_fold.py): a
    node's services' `Unknown → Healthy` in the node's row, a pass's burst of nodes in one summary
    row; so are the audit rows of one fleet run (tui/core/fleet_fold.py, as `envdeck audit` on a
    terminal); any `/` filter shows every row unfolded. Until the first read answers, a placeholder row
    says the timeline is being read (`mark_loading`), not an empty table that reads as "no events"."""

    COLUMNS = (("at", "TIME"), ("kind", "KIND"), ("level", "LEVEL"), ("resource", "RESOURCE"),
               ("reason", "WHAT"), ("message", "MESSAGE"))
    NARROW_COLUMNS = ("at", "resource", "reason", "message")
    NARROW_CAPS = {"resource": 20, "reason": 18}
    CAPS = {"resource": 24, "reason": 20}
    NARROW_TINT = ("reason", "level")  # LEVEL is dropped: WHAT takes its colour

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: EnvState | None = None  # names resources (set by the screen)
        self._today = ""  # "12-07 ": the date prefix of today's rows (the narrow layout drops only theirs)
        self._inputs: tuple[Any, ...] | None = None  # show()'s arguments: shown again (un)folded when a filter comes or goes

    def narrow_cell(self, key: str, cells: Cells) -> Text:
        # "12-07 02:50:00" -> "02:50:00" for today's rows only: another day's (or a marked) time keeps its date
        if key == "at" and cells[0].plain.startswith(self._today) and cells[0].cell_len == 14:
            return cells[0][6:]
        return super().narrow_cell(key, cells)

    def _label(self, resource_id: str) -> str:
        state = self.state
        return resource_label(resource_id, state.resource(resource_id) if state is not None and resource_id else None)

    def show(self, entries: list[dict[str, Any]], audit: list[dict[str, Any]], palette: Palette,
             state: EnvState | None = None, now: datetime | None = None) -> None:
        """Rows a member wrote by hand into a shared store are shown, never a crash: a time that
        is no time (`time?`, its text in MESSAGE) or in the future (`⚠`, with its date) is marked
        and placed by the row's id (where it was written, not where it claims), unreadable params show their raw text as data, a cut message says
        how long it was, and an audit row written by another database role than the user it
        names says so (`[db role NAME]`, as `envdeck audit`)."""
        if state is not None:
            self.state = state
        now = now or datetime.now(UTC)
        self._inputs = (entries, audit, palette, None, now)
        self._today = now.strftime("%m-%d ")
        merged: list[tuple[str, str, Cells]] = []
        # each row's place is its stored row's (a folded summary takes its newest member's)
        places = [*_sort_times(entries, now)]
        if self._row_test is None:  # unfolded while filtered: `/` is how a summary opens
            shown = fold_health(entries)
            if shown is not entries:
                place_of = {str(e.get("id", "")): at for e, at in zip(entries, places, strict=True)}
                places = [place_of.get(str(e.get("id", "")).removeprefix("fold"), "") for e in shown]
                entries = shown
            entries, places = entries[:ENTRIES_SHOWN], places[:ENTRIES_SHOWN]
            audit = fold_fleet_runs(audit, "/ shows each")
        for e, at in zip(entries, places, strict=True):
            key = f"{e.get('resource', '')}{SEP}t{e.get('id', '')}"
            count = int(e.get("count") or 1)
            message = _flagged(e.get("at"), now) + str(e.get("message") or "")[:MESSAGE_SHOWN] + (
                f" (×{count})" if count > 1 else "")
            merged.append((at, key, (self._time(e.get("at"), palette, now), Text(str(e.get("kind", "")), end=""),
                                     severity_cell(str(e.get("severity", "info")), palette),
                                     safe(e.get("label") or self._label(str(e.get("resource", ""))), max_len=40),
                                     safe(e.get("reason", ""), max_len=32), safe(message, max_len=160))))
        for (a, at) in zip(audit, _sort_times(audit, now), strict=True):
            key = f"{'' if a.get('folded') else a.get('target', '')}{SEP}a{a.get('id', '')}"  # a run's row: no resource
            params = a.get("params") or {}
            what = str(a.get("action", "")) + (" " + " ".join(f"{k}={show_value(v)}" for k, v in params.items())
                                               if params else "")
            if a.get("params_error"):
                what += " [params unreadable]"
            user = str(a.get("user", ""))
            # The mark goes first and the user is cut: a user padded with spaces or zero-width
            # characters by a member's hand-written row could push the mark out of the cell.
            db = f"[db role {a['db_user']}] " if a.get("db_user") and a["db_user"] != user else ""
            user = cut_middle(" ".join(user.split()), USER_SHOWN)
            text = str(a.get("message") or "")
            if a.get("message_cut"):  # said first: the cell cuts the text at 160 characters
                text = f"[message cut: {a.get('message_length')} characters] {text}"
            message = _flagged(a.get("at"), now) + f"{db}{user} via {a.get('origin', '')}" + (
                f": {text}" if text else "")
            if a.get("params_error"):
                message += f" · params unreadable ({a['params_error']}): {a.get('params_raw') or ''}"
            merged.append((at, key, (self._time(a.get("at"), palette, now), Text("audit", end=""),
                                     result_cell(str(a.get("result", "")), palette),
                                     safe(str(a["target"]) if a.get("folded") else self._label(str(a.get("target", ""))),
                                          max_len=40),
                                     safe(what, max_len=32), safe(message, max_len=160))))
        merged.sort(key=lambda x: x[0], reverse=True)
        rows = {key: cells for _, key, cells in merged}
        self.sync(rows, list(rows))

    def set_filter(self, test: RowTest | None) -> None:
        """A filter coming (or going) shows the rows unfolded (folded again)."""
        if (test is None) != (self._row_test is None) and self._inputs is not None:
            self._row_test = test
            self.show(*self._inputs)
            return
        super().set_filter(test)

    def mark_loading(self) -> None:
        """While no row was read yet: a placeholder row saying the timeline is being read."""
        if self._full[0] and LOADING_KEY not in self._full[0]:
            return
        palette = self._inputs[2] if self._inputs is not None else None
        style = palette.style("text-muted") if palette is not None else ""
        self.sync({LOADING_KEY: (Text("…", end=""), Text("", end=""), Text("", end=""), Text("", end=""),
                                 Text("loading", style=style, end=""),
                                 Text("Reading the timeline and the audit trail…", style=style, end=""))},
                  [LOADING_KEY])

    def mark_unread(self, why: str) -> None:
        """The read failed: a placeholder still shown says so (rows already shown stay)."""
        if LOADING_KEY not in self._full[0]:
            return
        self.sync({LOADING_KEY: (Text("—", end=""), Text("", end=""), Text("", end=""), Text("", end=""),
                                 Text("not read", end=""), safe(f"The timeline could not be read: {why}", max_len=160))},
                  [LOADING_KEY])

    def resource_for_cursor(self) -> str | None:
        return super().resource_for_cursor() or None  # a summary or placeholder row is of no resource

    @staticmethod
    def _time(at: object, palette: Palette, now: datetime) -> Text:
        if not at:
            return muted("—", palette)
        ts = row_time(at)
        if ts is None:
            return Text("time?", style=palette.style("warning"), end="")
        if ts > now + FUTURE_SKEW:  # a time to come: with its date, marked (a member may have written it)
            return Text(f"{ts.year:04d}-{ts:%m-%d %H:%M} ⚠", style=palette.style("warning"), end="")
        if ts.year != now.year:
            return Text(f"{ts.year:04d}-{ts:%m-%d %H:%M}", end="")  # %Y of year 1 is "1" (glibc)
        return Text(ts.strftime("%m-%d %H:%M:%S"), end="")


def _flagged(at: object, now: datetime) -> str:
    """The mark a row's message starts with when its time is no time (TIME shows `time?`)."""
    return f"[time unreadable: {at}] " if at and row_time(at) is None else ""


def _sort_times(rows: list[dict[str, Any]], now: datetime) -> list[str]:
    """Each row's place in the merged stream (rows newest id first, as the store returns them):
    its time, or, for a time that is no time or in the future, the time of the row written
    before it (by id), so a forged `9999-12-31` row is not pinned above everything."""
    keys = [""] * len(rows)
    last = ""
    for i in range(len(rows) - 1, -1, -1):
        ts = row_time(rows[i].get("at"))
        if ts is not None and ts <= now + FUTURE_SKEW:
            last = iso(ts) or ""
        keys[i] = last
    return keys
