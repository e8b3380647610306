"""Compare: environment A against environment B, side by side (tui/core/compare, issue 18).

`:diff prod` from an environment's screen (or `:diff staging prod` anywhere) opens it. One
row per field that differs, under its role (the resource's part, matched across the two
environments by name without the environment's own name, or by the config's mapping), then
the roles only in A and only in B. Columns: ROLE | FIELD | A | B. A value that differs is
drawn in the theme's `warning` colour, a side where the resource is missing in `error`; a
Secret's or ConfigMap's value is never shown, only that it differs.

The comparison is `Session.compare(fresh=False)`: the reconciler's last observations (a
backend not reached yet is observed once), ConfigMap/Secret values read as digests, the diff
itself in a thread — in a Textual worker, so the UI never waits. Keys as in k9s: `/` filter,
Esc clears the filter then goes back, `r` compares again, `?` help.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from screens.base import EnvdeckScreen, steady_input
from screens.key_hold import release_keys
from tui.core.compare.records import EnvDiff
from tui.core.errors import EnvdeckError
from tui.core.sanitize import clean
from tui.core.text_cut import cell_width, cut_end, cut_middle, cut_start
from tui.messages import RESOURCES
from tui.widgets.cells import Palette
from tui.widgets.status_bar import StatusBar, status_text
from tui.widgets.steady_footer import SteadyFooter
from tui.widgets.throttled_refresh import ThrottledRefresh

REFRESH_S = 5.0
CHROME = 2 * 4 + 2  # each of the 4 columns' padding, and the vertical scrollbar


@dataclass(frozen=True, slots=True)
class ColumnWidths:
    role: int
    field: int
    value: int


def column_widths(width: int, rows: list[CompareRow] | None = None, headers: tuple[str, str] = ("", "")) -> ColumnWidths:
    """The columns for a terminal `width` columns wide, all of it: the values (where what
    differs is) first, as wide as the longest when there is room; the role and the field get
    what is left up to their longest (at 80 columns at least 20 and 11); the rest widens the
    values."""
    rows = rows or []
    room = max(width - CHROME, 40)
    want_role = max([cell_len(clean(r.role)) for r in rows] + [14])
    want_field = max([cell_len(clean(r.field)) for r in rows] + [10])
    want_value = max([cell_len(clean(v)) for r in rows for v in (r.a, r.b) if v] + [cell_len(h) for h in headers] + [9])
    role, field = min(want_role, max(room * 2 // 7, 14)), min(want_field, max(room // 6, 10))
    value = max(min(want_value, (room - role - field) // 2), 8)
    left = room - role - field - 2 * value
    grow = min(left, want_role - role)
    role, left = role + grow, left - grow
    grow = min(left, want_field - field)
    field, left = field + grow, left - grow
    return ColumnWidths(role, field, value + max(left, 0) // 2)


@dataclass(frozen=True, slots=True)
class CompareRow:
    """One line of the view: a differing field of a role, or a role only one side has."""

    role: str
    field: str
    a: str | None
    b: str | None
    what: str  # "differs", "hidden", "only_a", "only_b"

    def matches(self, needle: str) -> bool:
        return any(needle in (part or "").lower() for part in (self.role, self.field, self.a, self.b))


def _shown(value: object) -> str | None:
    return None if value is None else str(value)


def compare_rows(result: EnvDiff) -> list[CompareRow]:
    rows: list[CompareRow] = []
    for pair in result.differing:
        for f in pair.fields:
            if f.hidden:
                rows.append(CompareRow(pair.role, f.field, "set" if f.a is not None else None,
                                       "set" if f.b is not None else None, "hidden"))
            else:
                rows.append(CompareRow(pair.role, f.field, _shown(f.a), _shown(f.b), "differs"))
    rows += [CompareRow(o.role, "(resource)", o.id, None, "only_a") for o in result.only_in_a]
    rows += [CompareRow(o.role, "(resource)", None, o.id, "only_b") for o in result.only_in_b]
    return rows


def _field_cell(text: str, width: int, style) -> Text:
    """A field name cut in its middle (`limits[w…].memory`): the fields of one container differ at
    their end, and two rows cut at the end read alike (`limits[web…`, `limits[web…`)."""
    name = clean(text, max_len=200)
    head, dot, last = name.rpartition(".")
    tail = dot + last
    if head and cell_width(name) > width and cell_width(tail) + 4 <= width:  # the last part whole (`.memory`)
        name = cut_end(head, width - cell_width(tail)) + tail
    else:
        name = cut_middle(name, width)
    return Text(name, style=style, no_wrap=True, end="")


def _value(text: str, width: int, style) -> Text:
    return Text(cut_start(clean(text, max_len=400), width), style=style, no_wrap=True, end="")


def value_cell(row: CompareRow, side: str, palette: Palette, width: int) -> Text:
    value = row.a if side == "a" else row.b
    if value is None:
        return _value("— missing" if row.what.startswith("only") else "(absent)", width,
                      palette.style("error" if row.what.startswith("only") else "text-muted"))
    if row.what == "hidden":
        return _value("differs (hidden)", width, palette.style("warning"))
    if row.what.startswith("only"):
        return _value(value, width, palette.style("text-muted"))
    return _value(value, width, palette.style("warning", bold=True))


class CompareScreen(EnvdeckScreen):
    DEFAULT_CSS = """
    CompareScreen #compare-table { height: 1fr; }
    CompareScreen #compare-filter { display: none; height: 1; border: none; padding: 0 1; }
    CompareScreen #compare-filter.shown { display: block; }
    CompareScreen #compare-detail { height: auto; max-height: 7; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="compare-back"),
        Binding("slash", "filter", "Filter", id="compare-filter"),
        Binding("r", "recompare", "Compare again", id="compare-refresh"),
        Binding("j", "cursor_down", "Down", id="compare-down", show=False),
        Binding("k", "cursor_up", "Up", id="compare-up", show=False),
    ]

    def __init__(self, a: str, b: str) -> None:
        super().__init__()
        self.a_env, self.b_env = a, b
        self.result: EnvDiff | None = None
        self.rows: list[CompareRow] = []
        self.shown_rows: list[CompareRow] = []
        self.error: str | None = None
        self.needle = ""
        self._widths: ColumnWidths | None = None
        self._refresh = ThrottledRefresh(REFRESH_S)  # at most one comparison per this while things change

    @property
    def min_interval_s(self) -> float:
        """At most one comparison per this while things change (REFRESH_S)."""
        return self._refresh.interval_s

    @min_interval_s.setter
    def min_interval_s(self, value: float) -> None:
        self._refresh.interval_s = value

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        yield Static(id="compare-hint", classes="hint")
        yield steady_input(self.app, placeholder="filter: role, field or value", id="compare-filter")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=False)
        yield Static(id="compare-detail")  # not `.hint`: the app's 2-line limit would drop B
        yield StatusBar(id="status")
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self._columns()
        self.ready = True
        self.refresh_all()
        self.query_one(DataTable).focus()

    def _columns(self) -> ColumnWidths:
        """The table's columns for the screen's width (again when it changed)."""
        widths = column_widths(self.size.width or 80, self.rows, (clean(self.a_env), clean(self.b_env)))
        if widths != self._widths:
            self._widths = widths
            table = self.query_one(DataTable)
            table.clear(columns=True)
            table.add_column("ROLE", key="role", width=widths.role)
            table.add_column("FIELD", key="field", width=widths.field)
            for key, env in (("a", self.a_env), ("b", self.b_env)):
                table.add_column(Text(cut_start(clean(env, max_len=80), widths.value), end=""), key=key,
                                 width=widths.value)
        return widths

    def on_resize(self) -> None:
        if self.ready:
            self._show()

    # -- data: Session.compare in a worker --------------------------------------------------
    def refresh_all(self) -> None:
        """Redraw what is known, then compare again (in the worker; coalesced while one runs)."""
        palette = self.envdeck.palette
        title = Text(no_wrap=True, overflow="ellipsis", end="")
        title.append(" diff ", style=palette.style("primary", bold=True))
        title.append(clean(self.a_env), style=palette.style("foreground", bold=True))
        title.append(" ↔ ", style=palette.style("text-muted"))
        title.append(clean(self.b_env), style=palette.style("foreground", bold=True))
        self.query_one("#title", Static).update(title)
        if self.result is not None or self.error is not None:
            self._show()
        self._recompare()

    def _recompare(self) -> None:
        """Start a comparison in the worker, or mark one wanted when one runs already. Never
        draws: `tick` calls it, and drawing calls `tick`'s status bar only."""
        if not self._refresh.begin():
            return
        if self.result is None:
            self.query_one("#compare-hint", Static).update(
                Text("comparing…", style=self.envdeck.palette.style("text-muted")))
        self.run_worker(self._compare(), exclusive=True, group="compare", exit_on_error=False)

    async def _compare(self) -> None:
        try:
            result = await self.session.compare(self.a_env, self.b_env, fresh=False)
        except EnvdeckError as exc:
            self.post_message(self.CompareFailed(str(exc)))
            return
        self.post_message(self.Compared(result))

    @dataclass
    class Compared(Message):
        result: EnvDiff

    @dataclass
    class CompareFailed(Message):
        reason: str

    @on(Compared)
    def _compared(self, message: Compared) -> None:
        self._refresh.done()
        self.error = None
        self.result = message.result
        self.rows = compare_rows(message.result)
        self._show()

    @on(CompareFailed)
    def _failed(self, message: CompareFailed) -> None:
        self._refresh.done()
        self.error = message.reason
        self._show()

    def env_updated(self, env: str, kinds: set[str]) -> None:
        if env in (self.a_env, self.b_env) and RESOURCES in kinds:
            self._refresh.changed()

    def tick(self) -> None:
        if not self.app.is_running:
            return
        if self._refresh.due():
            self._recompare()
        self._status()

    def _status(self) -> None:
        session = self.session
        self.query_one(StatusBar).update(status_text(
            user=session.user, role=None, read_only=session.policy.read_only, state=None,
            now=self.envdeck.now(), palette=self.envdeck.palette, activity=self.envdeck.activity_label(),
            verbose=self.size.width >= 100))

    # -- drawing ---------------------------------------------------------------------------
    def _show(self) -> None:
        palette = self.envdeck.palette
        table = self.query_one(DataTable)
        keep = table.cursor_row
        widths = self._columns()
        table.clear()
        needle = self.needle.lower()
        self.shown_rows = [r for r in self.rows if not needle or r.matches(needle)]
        previous = None
        for i, row in enumerate(self.shown_rows):
            role = "" if row.role == previous else row.role
            previous = row.role
            table.add_row(_value(role, widths.role, palette.style("foreground", bold=True)),  # the name's end kept
                          _field_cell(row.field, widths.field, palette.style("text-muted")),
                          value_cell(row, "a", palette, widths.value), value_cell(row, "b", palette, widths.value),
                          key=str(i))
        if self.shown_rows:
            table.move_cursor(row=min(keep, len(self.shown_rows) - 1))
        self.query_one("#compare-hint", Static).update(self._hint(palette))
        self._say_detail()
        if self.app.is_running:
            self._status()

    def _hint(self, palette: Palette) -> Text:
        hint = Text(no_wrap=True, overflow="ellipsis", end="")
        if self.error is not None:
            hint.append(f"cannot compare: {clean(self.error, max_len=200)}", style=palette.style("error"))
            return hint
        result = self.result
        if result is None:
            return hint
        differ = len(result.differing)
        hint.append(f"{result.matched} role(s) in both, ")
        hint.append(f"{differ} differ", style=palette.style("warning" if differ else "success"))
        hint.append(f", {len(result.only_in_a)} only in {clean(self.a_env)}, "
                    f"{len(result.only_in_b)} only in {clean(self.b_env)}")
        if result.ignored:
            hint.append(f"  ignored: {clean(', '.join(result.ignored), max_len=40)}", style=palette.style("text-muted"))
        if self.needle:
            hint.append(f"  /{clean(self.needle, max_len=30)}", style=palette.style("accent"))
        return hint

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._say_detail()

    def _say_detail(self) -> None:
        """Under the table: the selected row's role and field, then A's and B's value whole,
        each on its own line (a long one wraps, never pushes the other out)."""
        line = Text(end="")
        table = self.query_one(DataTable)
        if self.shown_rows and 0 <= table.cursor_row < len(self.shown_rows):
            row = self.shown_rows[table.cursor_row]
            palette = self.envdeck.palette
            line.append(clean(f"{row.role} {row.field}"), style=palette.style("text-muted"))
            for env, value in ((self.a_env, row.a), (self.b_env, row.b)):
                line.append(f"\n{clean(env)}: ", style=palette.style("text-muted"))
                line.append("differs (hidden)" if row.what == "hidden" and value else clean(value or "—"))
        elif self.result is not None and not self.rows:
            line.append("no differences", style=self.envdeck.palette.style("success"))
        self.query_one("#compare-detail", Static).update(line)

    # -- keys ------------------------------------------------------------------------------
    def holds_keys_after(self, key: str) -> str | None:
        """`/` opens the box and Enter/Esc in it close it: the keys typed after them in one burst
        wait until the box (or the table) has the focus (screens/key_hold.py): `/web⏎jj` filters,
        then moves the cursor."""
        box = self.query_one("#compare-filter", Input)
        if (key == "slash" and self.focused is not box) or (key in ("enter", "escape") and self.focused is box):
            return "filter"
        return None

    def action_filter(self) -> None:
        box = self.query_one("#compare-filter", Input)
        box.add_class("shown")
        box.focus()
        release_keys(self.app, "filter")  # after the focus()

    @on(Input.Changed, "#compare-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        self._show()

    @on(Input.Submitted, "#compare-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.needle:
            event.input.remove_class("shown")
        self.query_one(DataTable).focus()
        release_keys(self.app, "filter")

    def action_recompare(self) -> None:
        self.refresh_all()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_back(self) -> None:
        box = self.query_one("#compare-filter", Input)
        if box.has_class("shown") or self.needle:
            box.value = ""
            box.remove_class("shown")
            self.needle = ""
            self._show()
            self.query_one(DataTable).focus()
            release_keys(self.app, "filter")
            return
        self.app.pop_screen()
