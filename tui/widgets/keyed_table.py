"""A DataTable kept in step with a mapping of row key → cells, by difference.

`sync()` removes rows that went away, adds new ones, `update_cell`s only the
cells that changed, and re-sorts only when the order changed; all inside one
`App.batch_update()`. The cursor stays on the same row key across updates; when
that key is gone from the rows (resolved, deleted) the row now at its place is
selected, else the last row (as k9s does); when the `/` filter hides it the cursor
clears instead of landing on a neighbour, and returns when the key is shown again.
`set_filter` keeps only the rows whose text matches (the `/` filter of the record
views). k9s movement: j/k, G, gg.
Cells must be `rich.text.Text` (see `cells.safe`): a `str` cell would be parsed
as Rich markup by DataTable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist

from tui.widgets.line_table import MOVE_BINDINGS, KeyChord

Cells = tuple[Text, ...]
RowTest = Callable[[str, str], bool]  # (row text, resource name) -> shown


class KeyedTable(KeyChord, DataTable):
    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """
    BINDINGS = [
        *MOVE_BINDINGS,
        Binding("enter", "select_cursor", "Open", id="table-select", show=False),
    ]
    NAME_COLUMN = "resource"  # fuzzy filters (`~x`) match this column

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._column_spec = list(columns)  # (key, label)
        self._cells: dict[str, Cells] = {}
        self._order: list[str] = []
        self._anchor: str | None = None  # the key a cleared cursor waits for
        self._row_test: RowTest | None = None
        self._source: tuple[dict[str, Cells], list[str]] = ({}, [])

    def on_mount(self) -> None:
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    @property
    def column_keys(self) -> list[str]:
        return [key for key, _ in self._column_spec]

    @property
    def row_keys(self) -> list[str]:
        """Row keys in display order."""
        return list(self._order)

    def cells_of(self, key: str) -> Cells | None:
        return self._cells.get(key)

    @property
    def cursor_cleared(self) -> bool:
        return self._anchor is not None

    @property
    def cursor_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self._anchor is not None:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def move_to_key(self, key: str) -> bool:
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:
            return False
        self._uncover()
        self.move_cursor(row=index, animate=False, scroll=True)
        return True

    def ensure_cursor(self) -> None:
        """A cleared cursor goes to the first row (after the user confirms a filter)."""
        if self._anchor is not None and self.row_count:
            self._uncover()
            self.move_cursor(row=0, animate=False, scroll=True)

    def _uncover(self) -> None:
        if self._anchor is not None:
            self._anchor = None
            self.show_cursor = True

    def _clear_cursor(self, key: str) -> None:
        self._anchor = key
        self.show_cursor = False

    # -- movement: a cleared cursor reappears on the first row -------------------------
    def _move(self, action: Callable[[], None]) -> None:
        if self._anchor is not None:
            self._uncover()
            self.move_cursor(row=0, animate=False, scroll=True)
            return
        action()

    def action_cursor_up(self) -> None:
        self._move(super().action_cursor_up)

    def action_cursor_down(self) -> None:
        self._move(super().action_cursor_down)

    def action_page_up(self) -> None:
        self._move(super().action_page_up)

    def action_page_down(self) -> None:
        self._move(super().action_page_down)

    def action_scroll_top(self) -> None:
        self._uncover()
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self._uncover()
        super().action_scroll_bottom()

    def action_top_chord(self) -> None:
        if self._chord():
            self.action_scroll_top()

    def on_key(self, event: events.Key) -> None:
        self._note_key(event.key)

    # -- filter --------------------------------------------------------------------------
    def set_filter(self, test: RowTest | None) -> None:
        """Show only the rows for which `test(row text, resource name)` holds (None: all)."""
        self._row_test = test
        self.sync(*self._source)

    def _row_text(self, cells: Cells) -> tuple[str, str]:
        columns = self.column_keys
        name = cells[columns.index(self.NAME_COLUMN)].plain if self.NAME_COLUMN in columns else cells[0].plain
        return " ".join(c.plain for c in cells), name

    def sync(self, rows: dict[str, Cells], order: list[str]) -> None:
        """Make the table show `rows` in `order` (every key of order is in rows), less the
        rows the filter hides. A selected row gone from `rows` hands the selection to the row
        now at its place (else the last row); one the filter hides clears the cursor until it
        is shown again."""
        in_source = rows.__contains__  # before the filter narrows `rows`
        self._source = (rows, order)
        test = self._row_test
        if test is not None:
            order = [k for k in order if test(*self._row_text(rows[k]))]
            rows = {k: rows[k] for k in order}
        with self.app.batch_update():
            selected = self._anchor if self._anchor is not None else self.cursor_key
            on_row, place = self._anchor is None and selected is not None, self.cursor_row
            old = self._cells
            gone = [k for k in old if k not in rows]
            if len(gone) > max(64, len(old) // 4):
                self.clear()
                old = {}
                self._cells = {}
                gone = []
            for key in gone:
                self.remove_row(key)
                del old[key]
            columns = self.column_keys
            added = False
            for key in order:
                cells = rows[key]
                before = old.get(key)
                if before is None:
                    self.add_row(*cells, key=key)
                    added = True
                    old[key] = cells
                elif before != cells:
                    for column, a, b in zip(columns, before, cells, strict=True):
                        if a != b:
                            # Only let a column grow: asking DataTable to fit a narrower cell
                            # re-measures the whole column (O(rows) per cell).
                            wider = b.cell_len > self.columns[ColumnKey(column)].content_width
                            self.update_cell(key, column, b, update_width=wider)
                    # keep the objects the table holds (the sort below finds rows by identity)
                    old[key] = tuple(a if a == b else b for a, b in zip(before, cells, strict=True))
            self._cells = old
            current = [row.key.value for row in self.ordered_rows] if (added or gone or order != self._order) \
                else order
            if current != order:
                rank = {id(old[k][0]): i for i, k in enumerate(order)}
                self.sort(columns[0], key=lambda cell: rank.get(id(cell), len(rank)))
            self._order = list(order)
            if selected is not None and selected in rows:
                self.move_to_key(selected)
            elif on_row and not in_source(selected) and self.row_count:
                self.move_cursor(row=min(max(place, 0), self.row_count - 1), animate=False, scroll=True)
            elif selected is not None:
                self._clear_cursor(selected)
