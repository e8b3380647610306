"""`P`: the open port-forwards of this session (all environments): where each listens,
what it reaches, its state (open, reconnecting after a dropped stream, error when the pod
refused the stream: the detail line says why, listening), bytes
and connections refused (another local user's: the detail line names the last one); `c` closes the selected one (its audit row is finished). The counters are read
from the session every second while the panel is shown."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.core.errors import EnvdeckError
from tui.core.port_forward import ForwardState, PortForward
from tui.core.sanitize import clean
from tui.widgets.cells import Palette
from tui.widgets.port_forwards import PortForwardTable

REFRESH_S = 1.0


class PortForwardsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    PortForwardsScreen { align: center middle; }
    #pf-panel { width: 95%; max-width: 100; height: auto; max-height: 90%; border: thick $primary;
                background: $surface; padding: 0 1; }
    #pf-panel-title { text-style: bold; }
    #pf-table { height: auto; max-height: 12; }
    #pf-detail { color: $text-muted; height: auto; max-height: 3; }
    """
    BINDINGS = [
        Binding("escape", "close_panel", "Back", id="port-forwards-back"),
        Binding("P", "close_panel", "Back", show=False, id="port-forwards-back-again"),
        Binding("c", "close_forward", "Close forward", id="port-forward-close",
                tooltip="Stop the selected forward's listener and streams"),
        Binding("delete", "close_forward", "Close forward", show=False, id="port-forward-close-delete"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="pf-panel"):
            yield Static(Text("Port-forwards · c closes · esc back", end=""), id="pf-panel-title")
            yield PortForwardTable(id="pf-table")
            yield Static(id="pf-detail")

    def on_mount(self) -> None:
        # the toasts (the "Forwarding" one of the forward just opened) would cover the panel's
        # rows and border at 80x24: what they said is in the panel now
        self.app.clear_notifications()
        self.refresh_forwards()
        self.set_interval(REFRESH_S, self.refresh_forwards)
        self.query_one(PortForwardTable).focus()

    def _forwards(self) -> list[PortForward]:
        session = getattr(self.app, "session", None)
        return session.port_forwards() if session is not None else []

    def refresh_forwards(self) -> None:
        forwards = self._forwards()
        table = self.query_one(PortForwardTable)
        table.show(forwards, getattr(self.app, "palette", Palette({})))
        table.ensure_cursor()
        self._detail(forwards)

    def _selected(self, forwards: list[PortForward]) -> PortForward | None:
        key = self.query_one(PortForwardTable).cursor_key
        return next((f for f in forwards if str(f.id) == key), None)

    def _detail(self, forwards: list[PortForward]) -> None:
        detail = self.query_one("#pf-detail", Static)
        selected = self._selected(forwards)
        if not forwards:
            detail.update(Text("no port-forward is open (F on a pod or service opens one)", end=""))
        elif selected is not None:
            stats = selected.stats
            text = f"{selected.env}: {selected.resource_id} port {selected.remote_port}"
            if self.query_one(PortForwardTable).narrow:
                text = f"{selected.local_address} → {text}"  # the narrow table shows the port only
            if stats.target:
                text += f" via {stats.target}"
            if selected.state is ForwardState.ERROR:  # first: "error: nothing listens on port …"
                text = f"{stats.state_text()} — {text}"
            elif stats.last_error:
                text += f" — last error: {stats.last_error}"
            if stats.refused:
                text += f" — {stats.refused} refused (only {stats.owner}'s are forwarded), last: {stats.last_refusal}"
            detail.update(Text(clean(text, max_len=300), end=""))

    def on_data_table_row_highlighted(self) -> None:
        self._detail(self._forwards())

    def action_close_forward(self) -> None:
        selected = self._selected(self._forwards())
        if selected is None:
            return

        async def close() -> None:
            try:
                await selected.close()
            except EnvdeckError as exc:
                self.app.notify(clean(exc), title="Port-forward", severity="error", markup=False)
            else:
                self.app.notify(f"closed {selected.local_address}", markup=False, timeout=3)
            if self.is_mounted:
                self.refresh_forwards()

        # on the app: leaving the panel meanwhile must not cancel the closing (its audit row)
        self.app.run_worker(close(), group="port-forward-close", exit_on_error=False)

    def action_close_panel(self) -> None:
        self.dismiss(None)
