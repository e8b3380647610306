"""The confirmation modal of every mutating action.

Shows what will happen to what; asks for parameters (e.g. replicas); for a
destructive action the user types the resource name (or, for several resources,
the environment name). Dismisses with the parameters, or None when cancelled.

Cancel is the default: without a parameter to fill in, the Cancel button has the
focus, so an Enter that was meant for the screen below (a drill-in pressed once too
often) cancels instead of acting. Confirm with tab/← then Enter, or ctrl+y. A key that
would confirm is ignored when it was typed before the dialog was shown (screens/dialog_guard.py).

The value sent is the one in the field at its Enter: the keys typed after it are held and go to
the screen below once the dialog is gone (`2 Enter 1` scales to 2, then `1` shows Resources). A
count (`ConfirmRequest.counts`: replicas, desired count or capacity…) must be a whole number,
0 or more, and within the request's limits: refused here, with the reason, before any call."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from screens.base import steady_input
from screens.dialog_guard import DialogGuard
from screens.overview_rows import cut_middle
from tui.core.sanitize import clean
from tui.messages import ConfirmRequest  # the request is a message's payload: widgets ask without this screen

MAX_DETAILS = 12
# Rows of the dialog besides its details: border 2, title 2, type-to-confirm label 1 and
# input 4, error 1, buttons 3, a title that wraps 1; each parameter adds a label and an input.
FIXED_ROWS = 14
PARAM_ROWS = 5


def title_room(width: int) -> int:
    """The cells of one title line in the dialog on a terminal `width` columns wide (#dialog: 80%
    of it, at most 90, less its border and padding)."""
    return max(20, min(width * 8 // 10, 90) - 4)


def fit_title(before: str, name: str, after: str, width: int) -> str:
    """`before + name + after` in one line of the dialog: `name` (a long resource id) is cut in
    its middle with `…` so that what follows it (`in staging?`) stays whole; the Label cut the
    end and lost the environment (`… fz8lw in stagin`)."""
    room = title_room(width) - cell_len(clean(before)) - cell_len(clean(after))
    return f"{before}{cut_middle(clean(name), max(room, 8))}{after}"


def detail_limit(height: int, params: int, typed: bool) -> int:
    """How many detail lines fit a terminal `height` rows tall with the input and the
    buttons still shown (the dialog is at most 90% of the screen)."""
    room = height * 9 // 10 - FIXED_ROWS - PARAM_ROWS * params - (0 if typed else 5)
    return max(1, min(MAX_DETAILS, room - 1))  # - 1: the "… and N more" line


class ConfirmScreen(DialogGuard, ModalScreen[dict[str, str] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="confirm-cancel"),
        Binding("ctrl+y", "confirm", "Confirm", id="confirm-ok", show=False),
        Binding("left", "focus_button('ok')", "Confirm button", id="confirm-focus-ok", show=False),
        Binding("right", "focus_button('cancel')", "Cancel button", id="confirm-focus-cancel", show=False),
    ]

    def __init__(self, request: ConfirmRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        req = self.request
        with Vertical(id="dialog", classes="destructive" if req.destructive else ""):
            yield Label(Text(clean(req.title, max_len=200)), id="dialog-title")
            limit = detail_limit(self.app.size.height or 24, len(req.params), req.type_to_confirm is not None)
            if len(req.details) == limit + 1:
                limit += 1  # the line "… and 1 more" would take the same room
            for line in req.details[:limit]:
                yield Static(Text(clean(line, max_len=300)), classes="detail")
            if len(req.details) > limit:
                yield Static(Text(f"… and {len(req.details) - limit} more"), classes="detail")
            for name, default in req.params.items():
                limit = req.limits.get(name)
                yield Label(Text(f"{clean(name)}" + (f" ({limit[0]}–{limit[1]})" if limit else "") + ":"))
                yield steady_input(self.app, value=clean(default), id=f"param-{name}", classes="param")
            if req.type_to_confirm is not None:
                yield Label(Text(f"Type {clean(req.type_to_confirm)} to confirm:"), id="type-hint")
                # no placeholder: a greyed name in the field looked typed (the label above names it)
                yield steady_input(self.app, id="type-to-confirm")
            yield Static(id="dialog-error")
            with Horizontal(id="dialog-buttons"):
                yield Button(req.confirm_label, variant="error" if req.destructive else "primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        inputs = list(self.query(Input))
        if inputs:
            inputs[0].focus()
        else:
            self.query_one("#cancel", Button).focus()

    def action_focus_button(self, which: str) -> None:
        self.query_one(f"#{which}", Button).focus()
        self.focus_moved()

    def _params(self, at_enter: dict[str, str] | None = None) -> dict[str, str] | None:
        """The parameters, or None when one is refused (the dialog says why). `at_enter`: the
        values of fields as they were when their Enter was pressed (field id -> value)."""
        at_enter = at_enter or {}
        params = {}
        for name in self.request.params:
            field_id = f"param-{name}"
            value = at_enter.get(field_id, self.query_one(f"#{field_id}", Input).value).strip()
            if not value:
                self.submit_refused(f"{name} is required")
                return None
            limit = self.request.limits.get(name)
            whole = name in self.request.counts or limit is not None
            if whole and not (value.isascii() and value.isdigit()):
                low = 0 if limit is None else limit[0]
                what = (f"a whole number between {low} and {limit[1]}" if limit is not None
                        else "a whole number, 0 or more")
                self.submit_refused(f"{name} must be {what}; got {clean(value, max_len=20)!r}")
                return None
            if limit is not None:  # refused here, before any call
                low, high = limit
                if not low <= int(value) <= high:
                    self.submit_refused(f"{name} must be a whole number between {low} and {high}; "
                                        f"got {clean(value, max_len=20)}")
                    return None
            params[name] = str(int(value)) if whole else value
        if self.request.type_to_confirm is not None:
            typed = at_enter.get("type-to-confirm", self.query_one("#type-to-confirm", Input).value)
            expected = clean(self.request.type_to_confirm)
            if typed != expected:
                said = f"{clean(typed, max_len=40)!r} is not {expected}: " if typed else "nothing typed: "
                self.submit_refused(f"{said}type {expected} exactly to confirm")
                return None
        return params

    def action_confirm(self, at_enter: dict[str, str] | None = None) -> None:
        params = self._params(at_enter)
        if params is not None:
            self.dismiss(params)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm({event.input.id or "": event.value})  # the value at the Enter

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self.action_confirm()
        else:
            self.dismiss(None)
