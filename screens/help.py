"""`?`: envdeck's keys on the screen it was opened from (after `ui.keymap`
remapping), grouped (Move, Views, Actions, …), each with the binding id to use in
`ui.keymap` and what it does. Bindings without an id are Textual's own (copy,
scroll by page with modifiers, …) and are not listed."""

from __future__ import annotations

from rich.text import Text
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from screens.environment_actions import lifecycle_keys_for
from screens.lifecycle_flow import LIFECYCLE_ACTIONS
from tui.widgets.cells import Palette, muted
from tui.widgets.keyed_table import Cells, KeyedTable
from tui.widgets.steady_footer import SteadyFooter

COLUMNS = (("key", "KEY"), ("id", "ID (ui.keymap)"), ("what", "WHAT"))
SECTION_PREFIX = "section:"
SECTIONS = ("Move", "Views", "Actions", "Table", "Logs", "Metrics", "Dialog", "App")
_SECTION_OF = {
    "cursor-up": "Move", "cursor-down": "Move", "page-up": "Move", "page-down": "Move", "cursor-top": "Move",
    "cursor-top-gg": "Move", "cursor-bottom": "Move", "table-select": "Move", "drill": "Move", "back": "Move",
    "detail-back": "Move",
    "filter": "Views", "describe": "Views", "yaml": "Views", "drift-diff": "Views", "command-line": "Views",
    "xray": "Views", "xray-back": "Move",
    "command-palette": "Views", "help": "Views",
    "logs": "Actions", "shell": "Actions", "restart": "Actions", "scale": "Actions", "stop": "Actions",
    "start": "Actions", "delete": "Actions", "open-console": "Actions", "repair": "Actions", "pause": "Actions",
    "port-forward": "Actions", "port-forwards": "Actions", "port-forward-close": "Actions",
    "env-new": "Actions", "env-destroy": "Actions", "env-sleep": "Actions", "env-wake": "Actions",
    "new-env-back": "Dialog", "new-env-confirm": "Dialog",
    "mark": "Table", "mark-all": "Table", "group": "Table", "sort-next": "Table", "sort-reverse": "Table",
    "quit": "App", "quit-ctrl-c": "App",
}


def section_of(binding_id: str) -> str:
    if binding_id in _SECTION_OF:
        return _SECTION_OF[binding_id]
    for prefix, section in (("view-", "Views"), ("logs-", "Logs"), ("metrics-", "Metrics"),
                            ("confirm-", "Dialog"), ("help-", "Dialog")):
        if binding_id.startswith(prefix):
            return section
    return "App"


def checked(screen: Screen, action: str) -> bool | None:
    """`screen.check_action` of a binding's action string (`show_view('steps')`: its name and
    parameters, as Textual asks it when the key is pressed)."""
    _, name, parameters = parse_action(action)
    return screen.check_action(name, parameters)


def lifecycle_managed(screen: Screen):
    """The created environment `screen`'s D/Z/W act on: the environment's or Steps screen's own
    (`managed`), the overview's selected row; None for a config environment or nothing selected."""
    if hasattr(type(screen), "managed"):
        return screen.managed  # type: ignore[attr-defined]
    from screens.overview_rows import EnvironmentsTable

    tables = screen.query(EnvironmentsTable)
    env = tables.first().cursor_key if tables else None
    return screen.app.managed.get(env) if env else None  # type: ignore[attr-defined]


def lifecycle_off_now(screen: Screen) -> set[str]:
    """The lifecycle actions bound and enabled on `screen` that its environment's state leaves out
    of the footer (`lifecycle_keys_for`, the footer's own rule): Z on a destroying or failed
    environment, W on one not sleeping. Pressed, they say why; `?` lists them "(not now)"."""
    managed = lifecycle_managed(screen)
    if managed is None:
        return set()  # a config environment: check_action has turned them off already
    return set(LIFECYCLE_ACTIONS) - set(lifecycle_keys_for(managed))


def binding_rows(screen: Screen, palette: Palette, whole: dict[str, str] | None = None) -> dict[str, Cells]:
    """envdeck's bindings active on `screen` (focused widget, its ancestors, screen, app),
    one row per binding id with all its keys, under a header row per section. `whole`: filled
    with each row's whole text (a key off now: its tooltip too), for the preview line."""
    app = screen.app
    off_now = lifecycle_off_now(screen)
    found: dict[str, tuple[list[str], Binding, bool]] = {}
    for ab in screen.active_bindings.values():
        b = ab.binding
        if not b.id:
            continue  # Textual's own keys
        keys, _, enabled = found.setdefault(b.id, ([], b, ab.enabled and b.action not in off_now))
        shown = app.get_key_display(b)
        if shown not in keys:
            keys.append(shown)
    # The screen's own keys its check_action hides for the selected item (`r` on a Pod)
    # are listed too, as "not now".
    hidden: set[str] = set()
    for bindings in screen._bindings.key_to_bindings.values():
        for b in bindings:
            if b.id and (b.id not in found or b.id in hidden) and checked(screen, b.action) is False:
                keys, _, _ = found.setdefault(b.id, ([], b, False))
                hidden.add(b.id)
                shown = app.get_key_display(b)
                if shown not in keys:
                    keys.append(shown)
    by_section: dict[str, list[str]] = {}
    for ident in found:
        by_section.setdefault(section_of(ident), []).append(ident)
    rows: dict[str, Cells] = {}
    for section in SECTIONS:
        idents = by_section.get(section)
        if not idents:
            continue
        rows[SECTION_PREFIX + section] = (Text(section, style=palette.style("primary", bold=True), end=""),
                                          Text(""), Text(""))
        for ident in idents:
            keys, b, enabled = found[ident]
            description = b.description or b.action
            with_tooltip = f"{description} — {b.tooltip}" if b.tooltip else description
            key = f"{ident}:{' '.join(keys)}"
            if whole is not None:
                whole[key] = with_tooltip if enabled else f"{with_tooltip} (not now)"
            # a key off now: its name and "(not now)" only (the preview line has the tooltip): after
            # the tooltip, the WHAT column cut "(not now)" off at 80 columns (`Destroy — Destroy the…`)
            rows[key] = (
                Text(" ".join(keys), style=palette.style("accent", bold=True), end=""),
                Text(ident, end=""),
                Text(with_tooltip, end="") if enabled else muted(f"{description} (not now)", palette))
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
        self._whole: dict[str, str] = {}
        self._rows = binding_rows(source, getattr(source.app, "palette", Palette({})), self._whole)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(Text(f"Keys of {type(self.source).__name__.removesuffix('Screen')} — "
                              f"remap with ui.keymap: {{ID: KEYS}} · esc closes", end=""), id="help-title")
            yield KeyedTable(COLUMNS, id="help-table")
            yield Static(id="help-preview")  # the selected key's whole text (cut in the table at 80 columns)
        # its own keys at the bottom line, over the footer of the screen it describes (whose `q Quit`
        # only closes the help here: on-call finding, session 12)
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(KeyedTable)
        table.sync(self._rows, list(self._rows))
        table.focus()
        self._preview()

    def on_data_table_row_highlighted(self) -> None:
        self._preview()

    def _preview(self) -> None:
        key = self.query_one(KeyedTable).cursor_key
        cells = self._rows.get(key) if key is not None else None
        text = Text("↑↓ to a key: its whole text shows here", style="dim") if cells is None or not cells[1].plain \
            else Text.assemble(cells[0], "  ", self._whole.get(key, cells[2].plain))
        text.no_wrap, text.end = False, ""
        self.query_one("#help-preview", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)
