"""A DataTable kept in step with a mapping of row key → cells, by difference.

`sync()` removes rows that went away, adds new ones, `update_cell`s only the
cells that changed, and re-sorts only when the order changed; all inside one
`App.batch_update()`. The cursor stays on the same row key across updates.
Cells must be `rich.text.Text` (see `cells.safe`): a `str` cell would be parsed
as Rich markup by DataTable.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist

Cells = tuple[Text, ...]


class KeyedTable(DataTable):
    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._column_spec = list(columns)  # (key, label)
        self._cells: dict[str, Cells] = {}
        self._order: list[str] = []

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
    def cursor_key(self) -> str | None:
        if not self._order or self.cursor_row < 0:
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
        self.move_cursor(row=index, animate=False, scroll=True)
        return True

    def sync(self, rows: dict[str, Cells], order: list[str]) -> None:
        """Make the table show `rows` in `order` (every key of order is in rows)."""
        with self.app.batch_update():
            selected = self.cursor_key
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
