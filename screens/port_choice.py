"""The port dialog of `F`: the pod's container ports (or the service's ports) to choose
from, another remote port to type, and the local port (empty: a free one). An Enter typed
before the dialog was shown forwards nothing (screens/dialog_guard.py)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from screens.base import steady_input
from screens.dialog_guard import DialogGuard
from tui.core.port_forward import ForwardPort
from tui.core.sanitize import clean


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    remote_port: int
    local_port: int | None = None  # None: a free port


def parse_port(text: str, what: str, *, optional: bool = False) -> int | None:
    """A port number 1-65535; raises ValueError with the words to show."""
    text = text.strip()
    if not text and optional:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{what}: a port number 1-65535, not {clean(text, max_len=20)!r}")
    return int(text)


class PortChoiceScreen(DialogGuard, ModalScreen[ForwardRequest | None]):
    DEFAULT_CSS = """
    PortChoiceScreen { align: center middle; }
    #pf-dialog { width: 80%; max-width: 70; height: auto; max-height: 90%; border: thick $primary;
                 background: $surface; padding: 0 1; }
    #pf-title { text-style: bold; margin-bottom: 1; }
    #pf-ports { height: auto; max-height: 8; }
    #pf-dialog Input { border: tall $primary; }
    #pf-error { color: $error; height: auto; }
    #pf-hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="port-choice-cancel")]
    GUARD_HINT = "#pf-error"

    def __init__(self, target: str, ports: list[ForwardPort]) -> None:
        super().__init__()
        self.target = target
        self.ports = ports

    def compose(self) -> ComposeResult:
        with Vertical(id="pf-dialog"):
            yield Label(Text(f"Port-forward {clean(self.target, max_len=60)}"), id="pf-title")
            if self.ports:
                yield OptionList(*(Option(Text(clean(p.label, max_len=60))) for p in self.ports), id="pf-ports")
            yield Label(Text("remote port:" if not self.ports else "or another remote port:"))
            yield steady_input(self.app, placeholder="e.g. 8080", id="pf-remote")  # not a bare number: looks typed
            yield Label(Text("local port on 127.0.0.1 (empty: a free one):"))
            yield steady_input(self.app, placeholder="any", id="pf-local")
            yield Static(id="pf-error")
            yield Static(Text("enter forwards · tab moves · esc cancels"), id="pf-hint")

    def on_mount(self) -> None:
        if self.ports:
            options = self.query_one(OptionList)
            options.highlighted = 0
            options.focus()
        else:
            self.query_one("#pf-remote", Input).focus()

    def _submit(self, remote: str) -> None:
        try:
            remote_port = parse_port(remote, "remote port")
            local_port = parse_port(self.query_one("#pf-local", Input).value, "local port", optional=True)
        except ValueError as exc:
            self.submit_refused(str(exc))  # said in #pf-error; keys typed after the Enter are named there
            return
        assert remote_port is not None
        self.dismiss(ForwardRequest(remote_port, local_port))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._submit(str(self.ports[event.option_index].port))  # by position: two containers may share a port

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        remote = self.query_one("#pf-remote", Input).value
        if not remote.strip() and self.ports:
            remote = str(self.ports[self.query_one(OptionList).highlighted or 0].port)
        self._submit(remote)

    def action_cancel(self) -> None:
        self.dismiss(None)
