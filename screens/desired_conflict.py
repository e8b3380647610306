"""Asked before an action that contradicts the desired state in an `auto` environment
(where the reconciler would undo it at its next pass): keep the action's value as the
desired state (an audited overlay), hold the resource's automatic repair for a while,
or cancel. Dismisses with "set-desired", "hold" or None. Cancel has the focus; `d`, `h`
and Enter typed before the dialog was shown are ignored (screens/dialog_guard.py)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from screens.dialog_guard import DialogGuard
from tui.core.overrides import DEFAULT_HOLD_S, Conflict
from tui.core.sanitize import clean

SET_DESIRED = "set-desired"
HOLD = "hold"


def hold_label(seconds: float = DEFAULT_HOLD_S) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes}m"


class DesiredConflictScreen(DialogGuard, ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="conflict-cancel", tooltip="Do nothing"),
        Binding("d", "choose('set-desired')", "Keep as desired", id="conflict-set-desired",
                tooltip="Keep the new value as the desired state (an audited overlay over the config)"),
        Binding("h", "choose('hold')", "Hold repair", id="conflict-hold",
                tooltip="Hold the automatic repair of this resource for a while; it is still observed"),
        Binding("left", "app.focus_previous", "Previous button", id="conflict-focus-previous", show=False),
        Binding("right", "app.focus_next", "Next button", id="conflict-focus-next", show=False),
    ]

    def __init__(self, title: str, env: str, conflicts: list[Conflict], names: dict[str, str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.env = env
        self.conflicts = conflicts
        self.names = dict(names or {})  # resource id -> its name (shown with the id)

    def label(self, resource_id: str) -> str:
        """`web-1 (i-76c8…)`: the resource's name with its id beside, the id alone without a name."""
        native = resource_id.rsplit("/", 1)[-1]
        name = self.names.get(resource_id)
        return f"{name} ({native})" if name and name != native else native

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(clean(f"{self.title_text} contradicts the desired state", max_len=200)),
                        id="dialog-title")
            for c in self.conflicts[:8]:
                yield Static(Text(clean(f"{self.label(c.resource)} {c.field}: desired {c.desired!r}, "
                                        f"this sets {c.value!r}", max_len=300)), classes="detail")
            if len(self.conflicts) > 8:
                yield Static(Text(f"… and {len(self.conflicts) - 8} more"), classes="detail")
            yield Static(Text(clean(f"{self.env} repairs automatically: the reconciler would undo it.",
                                    max_len=200)), classes="detail")
            yield Static(Text("d: keep the new value as the desired state (an overlay; "
                              "envdeck desired --clear drops it)\n"
                              f"h: hold this resource's automatic repair for {hold_label()}\nesc: cancel"),
                         classes="detail")
            ignored = Static(id="dialog-error")  # names a key ignored as typed ahead; shown then
            ignored.display = False
            yield ignored
            with Horizontal(id="dialog-buttons"):
                yield Button("Keep (d)", variant="primary", id=SET_DESIRED)
                yield Button(f"Hold {hold_label()} (h)", id=HOLD)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None if event.button.id == "cancel" else event.button.id)
