"""`?`: every key binding of the screen it was opened from (after `ui.keymap`
remapping), with the binding id to use in `ui.keymap` and what it does."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.widgets.cells import Palette, muted
from tui.widgets.keyed_table import Cells, KeyedTable

COLUMNS = (("key", "KEY"), ("id", "ID (ui.keymap)"), ("what", "WHAT"), ("where", "WHERE"))


def binding_rows(screen: Screen, palette: Palette) -> dict[str, Cells]:
    """One row per binding active on `screen` (focused widget, its ancestors, screen, app)."""
    app = screen.app
    seen_ids: set[str] = set()
    rows: dict[str, Cells] = {}
    active = screen.active_bindings
    # envdeck's own bindings (they have ids) first, then widget navigation, app last.
    ordered = sorted(active.items(), key=lambda kv: (kv[1].node is app, kv[1].binding.id is None))
    for key, ab in ordered:
        b = ab.binding
        ident = b.id or f"{type(ab.node).__name__}.{b.action}"
        row_key = f"{ident}:{key}"
        if b.id and b.id in seen_ids and row_key in rows:
            continue
        if b.id:
            seen_ids.add(b.id)
        where = "app" if ab.node is app else type(ab.node).__name__
        description = b.description or b.action
        if b.tooltip:
            description += f" — {b.tooltip}"
        rows[row_key] = (Text(app.get_key_display(b), style=palette.style("accent", bold=True), end=""),
                         Text(b.id or "", end=""),
                         Text(description, end="") if ab.enabled else muted(description + " (not now)", palette),
                         muted(where, palette))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help-close"),
        Binding("question_mark", "close", "Close", show=False, id="help-close-again"),
        Binding("q", "close", "Close", show=False, id="help-close-q"),
    ]

    def __init__(self, source: Screen) -> None:
        super().__init__()
        self.source = source
        self._rows = binding_rows(source, getattr(source.app, "palette", Palette({})))

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(Text(f"Keys of {type(self.source).__name__.removesuffix('Screen')} — "
                              f"remap with ui.keymap: {{ID: KEYS}} · esc closes", end=""), id="help-title")
            yield KeyedTable(COLUMNS, id="help-table")

    def on_mount(self) -> None:
        table = self.query_one(KeyedTable)
        table.sync(self._rows, list(self._rows))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
