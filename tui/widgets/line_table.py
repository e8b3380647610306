"""A row-cursor table drawn with Textual's line API: only the visible rows are
rendered (`render_line`), so 20,000 rows cost nothing until they scroll into view.

The table holds an ordered list of row keys and asks `cells_for(key)` for a
row's cells when it draws it; column widths grow from the rows drawn so far and
from a sample of the rows, never from measuring every cell. The header row is
fixed. Cells are `rich.text.Text` (see `cells.safe`): never markup.

The cursor follows its row's key, not its row number: when the rows change (a
filter, a sort, an update) it stays on the same key. When that key goes away in an
update (the resource deleted, or no longer matching the filter) the row now at its
place is selected, else the last row (as k9s does); when the user's own filter hides
it the cursor clears (no row is selected, so no action can hit a neighbour) and comes
back when the key does. k9s movement: j/k, G, gg.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cells = tuple[Text, ...]
RowIndex = dict[str, int] | Callable[[], dict[str, int]]  # key → row number, or what makes it when asked
PADDING = 1
SAMPLE_ROWS = 1000

# Row movement of every table (this one and KeyedTable), with ids for `ui.keymap`.
MOVE_BINDINGS = [
    Binding("up,k", "cursor_up", "Up", id="cursor-up", show=False),
    Binding("down,j", "cursor_down", "Down", id="cursor-down", show=False),
    Binding("pageup,ctrl+b", "page_up", "Page up", id="page-up", show=False),
    Binding("pagedown,ctrl+f", "page_down", "Page down", id="page-down", show=False),
    Binding("home,ctrl+home", "scroll_top", "Top", id="cursor-top", show=False),
    Binding("g", "top_chord", "Top (gg)", id="cursor-top-gg", show=False, tooltip="press twice"),
    Binding("end,ctrl+end,G", "scroll_bottom", "Bottom", id="cursor-bottom", show=False),
]


class KeyChord:
    """`gg`: the action of a key that must be pressed twice in a row. `on_key` sees every
    key before its binding runs, so any other key in between disarms it."""

    _chord_key: str | None = None
    _last_key: str | None = None

    def _note_key(self, key: str) -> None:
        if key != self._last_key:
            self._chord_key = None
        self._last_key = key

    def _chord(self) -> bool:
        """True on the second press of the same key in a row (then disarmed)."""
        if self._chord_key is not None and self._chord_key == self._last_key:
            self._chord_key = None
            return True
        self._chord_key = self._last_key
        return False


class LineTable(KeyChord, ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LineTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .line-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .line-table--header { background-tint: $foreground 5%; }
        }
        & > .line-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .line-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    COMPONENT_CLASSES = {"line-table--header", "line-table--cursor"}
    BINDINGS = [
        *MOVE_BINDINGS,
        Binding("enter", "select_cursor", "Open", id="table-select", show=False),
    ]

    class RowSelected(Message):
        """Enter (or a click on the cursor row) on a row."""

        def __init__(self, table: LineTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LineTable:
            return self.table

    class HeaderSelected(Message):
        """A click on a column label."""

        def __init__(self, table: LineTable, column_key: str) -> None:
            super().__init__()
            self.table = table
            self.column_key = column_key

        @property
        def control(self) -> LineTable:
            return self.table

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._order: list[str] = []
        self._index_map: dict[str, int] | None = {}  # see _index
        self._index_source: Callable[[], dict[str, int]] | None = None
        self.cursor_row = 0  # -1: cleared (the key it followed is not shown)
        self._anchor: str | None = None  # the key a cleared cursor waits for
        self._drawn: dict[str | None, tuple[Sequence[Text] | None, tuple, Strip]] = {}  # see render_line
        self._set_columns(columns)

    # -- data ------------------------------------------------------------------
    def cells_for(self, key: str) -> Cells:
        raise NotImplementedError

    def row_stamp(self, key: str) -> object:
        """What a row's cells depend on, if the subclass can tell cheaply (None: unknown).
        A sampled row whose stamp is the one it was measured with is not measured again."""
        return None

    def _set_columns(self, columns: Sequence[tuple[str, str]]) -> None:
        self._column_spec = list(columns)
        self._widths = [len(label) for _, label in self._column_spec]
        self._measured: dict[str, object] = {}

    @property
    def column_keys(self) -> list[str]:
        return [key for key, _ in self._column_spec]

    @property
    def row_keys(self) -> list[str]:
        """Row keys in display order."""
        return list(self._order)

    @property
    def row_count(self) -> int:
        return len(self._order)

    # Row key → row number, made the first time it is asked for: the first fill of a table (a
    # screen built on the switch: 20k keys, ~4 ms) needs none before its first frame, no cursor
    # key to find yet.
    @property
    def _index(self) -> dict[str, int]:
        index = self._index_map
        if index is None:
            source, order = self._index_source, self._order
            index = source() if source is not None else {key: i for i, key in enumerate(order)}
            self._index_map, self._index_source = index, None
        return index

    @_index.setter
    def _index(self, index: dict[str, int]) -> None:
        self._index_map, self._index_source = index, None

    def cells_of(self, key: str) -> Cells | None:
        return self.cells_for(key) if key in self._index else None

    def set_rows(self, order: list[str], index: RowIndex | None = None, *, hidden_waits: bool = False) -> None:
        """Show the rows `order` (keys, not changed afterwards; `index`: key → row number, or what
        makes it, when the caller has it); the cursor stays on the same key when it is still
        there. When it is not: with `hidden_waits` (the user changed what is shown: a filter typed)
        the cursor clears and returns when the key is shown again; otherwise (an update took the
        row away) the row now at the cursor's place is selected, else the last row."""
        on_row = self.cursor_row >= 0 and self._anchor is None
        selected = self.cursor_key if on_row else self._anchor
        place = self.cursor_row
        self._order = order
        if isinstance(index, dict):
            self._index = index
        else:
            self._index_map, self._index_source = None, index
        step = max(1, len(order) // SAMPLE_ROWS)
        measured = self._measured
        sample = []
        kept: dict[str, object] = {}  # this sample's stamps only: a gone row's stamp (its object) is not kept
        for key in order[::step]:
            stamp = self.row_stamp(key)
            if stamp is None or measured.get(key) is not stamp:
                sample.append(key)
            kept[key] = stamp
        self._measured = kept
        self._drop_gone_drawn()
        self._grow_widths(sample)
        if selected is not None and selected in self._index:
            self.cursor_row = self._index[selected]
            self._anchor = None
        elif selected is not None and on_row and not hidden_waits:
            self.cursor_row = self._place_after_loss(min(place, len(order) - 1)) if order else 0
        elif selected is not None:
            self.cursor_row, self._anchor = -1, selected
        else:
            self.cursor_row = max(0, min(self.cursor_row, len(order) - 1))
        self._update_virtual_size()
        self._scroll_to_cursor()
        self.refresh()

    def _drop_gone_drawn(self) -> None:
        """Forget the drawn lines (cells and strips) of rows no longer shown, once they are more than
        a screenful or two: deleted pods' rows stayed until `DRAWN_KEPT` lines."""
        drawn = self._drawn
        if len(drawn) > 2 * max(self.size.height, 24) + 64:
            index = self._index
            self._drawn = {key: line for key, line in drawn.items() if key is None or key in index}

    def _place_after_loss(self, row: int) -> int:
        """The row that takes the selection of a row gone from `row` (a subclass skips rows that
        cannot be selected)."""
        return row

    def cell_widths(self, key: str) -> Sequence[int]:
        """The width of each cell of row `key` (a subclass may tell without building the cells)."""
        return [cell.cell_len for cell in self.cells_for(key)]

    def _grow_widths(self, keys: Sequence[str]) -> bool:
        if not keys:
            return False
        widths = self._widths
        # each column's widest, at C speed (a new inventory's sample: 1,000 rows of ~9 cells)
        grown = list(map(max, widths, *map(self.cell_widths, keys)))
        grown += widths[len(grown):]  # a row of fewer cells (none here) leaves the other columns as they are
        if grown == widths:
            return False
        widths[:] = grown
        return True

    def _update_virtual_size(self) -> None:
        width = sum(w + 2 * PADDING for w in self._widths)
        self.virtual_size = Size(width, len(self._order) + 1)
        if not self._size:
            self._scrollbar_before_layout()

    def _scrollbar_before_layout(self) -> None:
        """Not laid out yet, a table of more rows than the terminal has lines will have its vertical
        scrollbar: shown now, the first layout arranges the table with it. Textual decides it only
        after that layout has sized the table, and then lays the whole screen out again for it
        (on a screen built on a switch: see screens/settled_layout.py)."""
        if self.styles.overflow_y in ("auto", "scroll") and self.virtual_size.height > self.app.size.height:
            self.set_reactive(ScrollView.show_vertical_scrollbar, True)

    # -- cursor ----------------------------------------------------------------
    @property
    def cursor_key(self) -> str | None:
        if not self._order or self.cursor_row < 0:
            return None
        return self._order[self.cursor_row]

    def move_to_key(self, key: str) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        self.move_cursor(row=index)
        return True

    def forget_rows(self) -> None:
        """Back to an empty table's cursor (row 0, top, no key waited for): the next set_rows
        places it as on a new table. Column widths stay measured."""
        self._order, self._index = [], {}
        self.cursor_row, self._anchor = 0, None
        self.scroll_to(x=0, y=0, animate=False, immediate=True)

    def ensure_cursor(self) -> None:
        """A cleared cursor goes to the first row (after the user confirms a filter)."""
        if self.cursor_row < 0 and self._order:
            self.move_cursor(row=0)

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        if not self._order:
            return
        self.cursor_row = max(0, min(row, len(self._order) - 1))
        self._anchor = None
        if scroll:
            self._scroll_to_cursor()
        self.refresh()

    def _scroll_to_cursor(self) -> None:
        if self.cursor_row < 0:
            return
        visible = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._page())

    def action_scroll_top(self) -> None:
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self.move_cursor(row=len(self._order) - 1)

    def action_top_chord(self) -> None:
        if self._chord():
            self.action_scroll_top()

    def on_key(self, event: events.Key) -> None:
        self._note_key(event.key)

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x + round(self.scroll_x)
            for (key, _), width in zip(self._column_spec, self._widths, strict=True):
                x -= width + 2 * PADDING
                if x < 0:
                    self.post_message(self.HeaderSelected(self, key))
                    return
            return
        row = round(self.scroll_y) + event.y - 1
        if 0 <= row < len(self._order):
            again = row == self.cursor_row
            self.move_cursor(row=row)
            if again or event.chain > 1:
                self.action_select_cursor()

    # -- drawing ---------------------------------------------------------------
    # A drawn row is kept (`_drawn`: row key → what it was drawn from, and the strip) and
    # reused while its cells object, the column widths, the styles and the horizontal
    # window are the same: a filter keystroke moves rows up and down the screen, and
    # backspace brings back rows drawn a moment ago. The widget's style is worked out
    # once per frame (`render_lines`), not once per line.
    _frame_style: Style | None = None
    DRAWN_KEPT = 1000

    def render_lines(self, crop):
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._frame_style or self.rich_style
        post: Style | None = None
        if y == 0:
            key: str | None = None
            style = self.get_component_rich_style("line-table--header")
            cells: Sequence[Text] | None = None
        else:
            row = round(self.scroll_y) + y - 1
            if row >= len(self._order):
                return Strip.blank(width, base)
            key = self._order[row]
            cells = self.cells_for(key)
            if self._grow_widths([key]):
                self._update_virtual_size()
                self.refresh()
            if row == self.cursor_row:
                # like DataTable: the cursor's colours win over the cells' own
                post = self.get_component_rich_style("line-table--cursor")
            style = base
        x = round(self.scroll_x)
        drawn = self._drawn
        stamp = (tuple(self._widths), style, post, x, width, tuple(self._column_spec) if cells is None else None)
        kept = drawn.get(key)
        if kept is not None and kept[0] is cells and kept[1] == stamp:
            return kept[2]
        strip = self._strip(
            cells if cells is not None else [Text(label, end="") for _, label in self._column_spec], style, width, post)
        if len(drawn) >= self.DRAWN_KEPT:
            drawn.clear()
        drawn[key] = (cells, stamp, strip)
        return strip

    def _strip(self, cells: Sequence[Text], style: Style, width: int, post: Style | None = None) -> Strip:
        console = self.app.console
        pad = Segment(" " * PADDING)
        segments: list[Segment] = []
        for cell, cell_width in zip(cells, self._widths, strict=True):
            text = cell.copy()
            text.truncate(cell_width, overflow="ellipsis", pad=True)
            base = console.get_style(text.style) if text.style else None
            segments.append(pad)
            rendered = text.render(console, end="")
            segments.extend(Segment.apply_style(rendered, base) if base else rendered)
            segments.append(pad)
        line = Segment.apply_style(segments, style, post)
        if post is not None:
            style = style + post
        x = round(self.scroll_x)
        return Strip(line).crop(x, x + width).extend_cell_length(width, style)
