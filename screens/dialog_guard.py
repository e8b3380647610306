"""Type-ahead never confirms: a dialog ignores a key that would act (Enter on a button or in
a field, space, ctrl+y, its letter shortcuts) when the key was pressed before the dialog was
on screen, or less than `GUARD_S` after.

Over a laggy SSH link keys arrive in bursts: `p` and the Enter typed after it (meant for the
screen below, or typed ahead by habit) reach envdeck in the same read, and the Enter used to
confirm the pause dialog the `p` had just opened — before its user ever saw it. Textual
stamps every key event with the monotonic time it was read from the terminal (`Event.time`),
so a dialog compares that stamp, not the time it gets round to handling the key (later on a
loaded machine), with the moment it was first painted.

Why 250 ms after the paint: the dialog reaches the user's eyes only after the link's latency,
and a key pressed in answer to it needs a human reaction on top (about 200-250 ms even for an
expected signal), then the latency back. A key arriving sooner than 250 ms after the paint was
therefore typed before the dialog could be read — on a local terminal too — while a real
answer (over any link of 25 ms or more each way) always arrives later. It is also about the
gap of a burst split across packets by a slow link. Terminal dialog programs use similar
grace periods against type-ahead.

Keys that only move the focus, edit a field or cancel (Esc, Tab, arrows) always work: a burst
`p ← ⏎` moves to the action button and stops there. Text typed ahead into a parameter field
stays in it (typing is not acting; the field's Enter is still guarded); typed ahead into a
type-the-name field (destroy, delete) it is dropped: the name is typed once what it destroys
has been read. Keys of the burst that opened the dialog were given to the screen below before
the dialog was pushed and come back up unused: they are lost (Esc and the focus keys still run
the dialog's binding). Every swallowed key is named in the dialog's message line (`GUARD_HINT`,
the theme's warning colour): `enter ignored: it was typed before this dialog was shown`, or for
several `"pr-3", enter ignored: typed before this dialog was shown`, so the user knows to type
them again rather than wonder where they went.

A key refused within the window although the dialog had painted is said as such: `enter
ignored: too soon after it opened — press again` (not blamed on typing before it was shown).
After a refused Enter, text typed into the field within the window is dropped and named too
(`2 Enter 1` typed as the scale dialog appears leaves 2, not 21).

Once an Enter (or ctrl+y) in a field submits, the dialog takes no more keys: those that follow
in the burst (`2 Enter 1`: confirm, then `1` for the Resources view) are held
(screens/key_hold.py, `holds_keys_after`) and go, in order, to the screen below once the dialog
is dismissed. When the dialog refuses the value instead (`submit_refused`: a count that is no
whole number), the keys typed before its error was shown are dropped and named under it. The
value sent is the one in the field at the Enter, never one with the next keys appended.

Mouse clicks are guarded the same way: a press or release on a button that acts (not Cancel)
or an option of a list, sooner than `GUARD_S` after the paint, is refused before Textual makes a
Click of it (the second click of a double-click that lands on the button just appearing under
the pointer); the line says `click ignored`. A click after the window acts.

Use: `class MyDialog(DialogGuard, ModalScreen[...])` — guarded from its mount. A screen that
becomes a confirmation later (the new-environment form showing its plan) sets
`GUARD_FROM_MOUNT = False` and calls `guard_until_shown()` when it turns into one.

Where: the app asks `typed_ahead(app.screen, key)` for every key before handling it (tui/app.py
`on_event`), both as it arrives and when it comes back up from the widget it was given to. Not
in the dialog's own key handler: the Enter of a burst is given to the focused widget of the
screen below (the dialog is not pushed yet when the app takes it), and when it bubbles back up
to the app, the app runs the bindings of the screen on top by then — the dialog's — so the
dialog never saw that key before its button was pressed."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual._time import get_time  # the clock that stamps `Event.time` (monotonic; perf_counter on Windows)
from textual.css.query import NoMatches
from textual.errors import NoWidget
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList, Static

from screens.key_hold import KeyHold, release_keys

GUARD_S = 0.25
# Keys that never act in a dialog: they move the focus, edit a field or cancel.
PASS_KEYS = frozenset({
    "escape", "tab", "shift+tab", "left", "right", "up", "down", "home", "end", "pageup", "pagedown",
    "backspace", "delete", "ctrl+c",
})
CANCEL_ACTIONS = frozenset({"cancel", "back"})  # a remapped Esc (ui.keymap) still cancels
CANCEL_BUTTONS = frozenset({"cancel"})  # a click on these never acts: it is never refused
ACTING_WIDGETS = (Button, OptionList)  # a click on one acts (a button pressed, an option chosen)
TYPE_THE_NAME_FIELDS = frozenset({"type-to-confirm"})  # characters typed ahead are dropped here, not typed
IGNORED_KEYS_WIDTH = 24  # the keys named in the line, at most (the line fits an 80-column dialog)
SUBMIT_HOLD = "dialog-submit"  # the key hold from a field's submitting Enter until the dialog is gone
FOCUS_HOLD = "dialog-focus"  # the key hold from `left`/`right` between the buttons until the focus moved
# Why a key was refused, as the line says it (one key / several keys).
BEFORE, TOO_SOON, AFTER_SUBMIT = "before", "too soon", "after submit"


class DialogGuard:
    """Mixin for a Screen (put it first: `class X(DialogGuard, ModalScreen)`)."""

    GUARD_S: ClassVar[float] = GUARD_S
    GUARD_FROM_MOUNT: ClassVar[bool] = True
    GUARD_HINT: ClassVar[str] = "#dialog-error"  # the Static that names a swallowed key
    GUARD_WHAT: ClassVar[str] = "this dialog"

    _guard_active: bool | None = None  # None: as GUARD_FROM_MOUNT says (a key may come before the mount)
    _guard_shown_at: float | None = None  # when first painted; None: not yet (every key too early)
    _guard_ignored: str | None = None  # what the line says about the keys or clicks refused
    _guard_dropped: list[str] | None = None  # the keys and clicks refused, in order (None: none yet)
    _guard_press_refused: bool = False  # the last mouse press was refused: so is its release (no click)
    _guard_why: str | None = None  # why the keys named in the line were refused (BEFORE, TOO_SOON…)
    _guard_acting_refused: bool = False  # an Enter (or another acting key) was refused as typed ahead
    _guard_holding: bool = False  # a submitting key holds the keys after it (SUBMIT_HOLD)
    _focus_holding: bool = False  # `left`/`right` on a button holds the keys after it (FOCUS_HOLD)
    _guard_refused_before: float | None = None  # keys stamped before this (the value refused) are dropped
    _guard_error: str | None = None  # the dialog's own error (the value refused), kept above the keys named

    def on_mount(self) -> None:
        if self.GUARD_FROM_MOUNT:
            self.guard_until_shown()

    def guard_until_shown(self) -> None:
        """From now on, keys that act wait until this screen has been painted and `GUARD_S` more."""
        if self._guard_active is not None:  # armed again: what was refused before is old news
            self._guard_ignored = None
            self._guard_dropped = None
            self._guard_why = None
            self._guard_acting_refused = False
        self._guard_active = True
        self._guard_shown_at = None
        self.call_after_refresh(self._guard_painted)  # type: ignore[attr-defined]

    def end_guard(self) -> None:
        """The screen is no confirmation any more (the plan gave way to the form)."""
        self._guard_active = False

    def _guard_painted(self) -> None:
        if self._guard_active and self._guard_shown_at is None:
            self._guard_shown_at = get_time()
            if self._guard_ignored is not None:
                self._show_ignored(self._guard_ignored)

    def takes_keys(self, at: float | None = None) -> bool:
        """Whether a key pressed at `at` (default: now) may act."""
        if not (self.GUARD_FROM_MOUNT if self._guard_active is None else self._guard_active):
            return True
        shown = self._guard_shown_at
        return shown is not None and (get_time() if at is None else at) >= shown + self.GUARD_S

    def _passes(self, event: events.Key) -> bool:
        if event.key in PASS_KEYS:
            return True
        field = self.focused  # type: ignore[attr-defined]
        if isinstance(field, Input) and (event.is_printable or (
                event.key != "enter" and event.key in field._bindings.key_to_bindings)):
            return True  # typed or edited in a field (ctrl+u, ctrl+w…): not acting; its Enter is guarded
        bindings = self._bindings.key_to_bindings.get(event.key, ())  # type: ignore[attr-defined]
        return any(b.action in CANCEL_ACTIONS for b in bindings)

    def _drops_typing(self, event: events.Key) -> bool:
        """A character typed ahead into a type-the-name field: dropped, not typed. The name is
        typed once the dialog has been read (what it destroys), never by type-ahead."""
        field = self.focused  # type: ignore[attr-defined]
        return isinstance(field, Input) and field.id in TYPE_THE_NAME_FIELDS and event.is_printable

    def refuses(self, event: events.Key, from_below: bool = False) -> bool:
        """True (and the dialog says so) when `event` would act but was typed ahead.
        `from_below`: the key was given to the screen below before this dialog was on top (the
        same burst as the key that opened it) and comes back up unused: it is lost, so it is
        said too (Esc, Tab and the arrows still work: the dialog's binding of them runs)."""
        if self._guard_refused_before is not None and event.time < self._guard_refused_before:
            self._say_ignored(key_name(event), why=AFTER_SUBMIT)  # typed after an Enter whose value was refused
            return True
        if self.takes_keys(event.time):
            return False
        if from_below:
            if event.key in PASS_KEYS or self._cancels(event):
                return False
        elif not self._drops_typing(event) and not self._types_after_refusal(event) and self._passes(event):
            return False
        if not from_below and not self._passes(event):
            self._guard_acting_refused = True
        shown = self._guard_shown_at
        self._say_ignored(key_name(event), why=BEFORE if from_below or shown is None or event.time < shown
                          else TOO_SOON)
        return True

    def _types_after_refusal(self, event: events.Key) -> bool:
        """Text typed into a field after its Enter was refused (within the window): meant for what
        the Enter would have led to, not for the value (`2 Enter 1` must not leave 21)."""
        return self._guard_acting_refused and event.key not in PASS_KEYS and isinstance(self.focused, Input)  # type: ignore[attr-defined]

    # -- a field's submitting key: the keys after it wait for the dialog to be gone ------------------
    def holds_keys_after(self, key: str) -> str | None:
        """Asked by the app's key hold for every key it takes while this dialog is on top (after the
        guard let it through): an Enter or ctrl+y that submits a field's value holds the keys typed
        after it, so that none of them is typed into the value being sent. `left`/`right` on a
        button (to Confirm, back to Cancel) holds them until the focus moved: `left⏎` in one burst
        confirms, where its Enter pressed the button still focused, Cancel."""
        bindings = self._bindings.key_to_bindings.get(key, ())  # type: ignore[attr-defined]
        if isinstance(self.focused, Button) and any(b.action.startswith("focus_button") for b in bindings):  # type: ignore[attr-defined]
            self._focus_holding = True
            return FOCUS_HOLD
        if not (self.GUARD_FROM_MOUNT if self._guard_active is None else self._guard_active):
            return None
        if not isinstance(self.focused, Input):  # type: ignore[attr-defined]
            return None
        if key != "enter" and not any(b.action == "confirm" for b in bindings):
            return None
        self._guard_holding = True
        return SUBMIT_HOLD

    def focus_moved(self) -> None:
        """A `focus_button` action focused its button: the keys held after its key go on to it."""
        if self._focus_holding:
            self._focus_holding = False
            release_keys(self.app, FOCUS_HOLD)  # type: ignore[attr-defined]

    def submit_refused(self, error: str) -> None:
        """The dialog refuses the value submitted and says `error`: the keys typed after the submit,
        before the error could be read, are dropped and named under it (not typed into the field)."""
        self._guard_refused_before = get_time()
        self._guard_error = error
        self._guard_dropped = None
        self._guard_why = None
        self._guard_ignored = None
        self._show(None)
        if self._guard_holding:
            self._guard_holding = False
            release_keys(self.app, SUBMIT_HOLD)  # type: ignore[attr-defined]

    def dismiss(self, result=None):  # type: ignore[no-untyped-def]
        """Gone: the keys held since the submitting Enter go, in order, to the screen below."""
        done = super().dismiss(result)  # type: ignore[misc]
        if self._guard_holding:
            self._guard_holding = False
            release_keys(self.app, SUBMIT_HOLD, when_settled=True)  # type: ignore[attr-defined]
        return done

    def _cancels(self, event: events.Key) -> bool:
        bindings = self._bindings.key_to_bindings.get(event.key, ())  # type: ignore[attr-defined]
        return any(b.action in CANCEL_ACTIONS for b in bindings)

    def refuses_click(self, event: events.MouseDown | events.MouseUp) -> bool:
        """True (and the dialog says so) when the press or release of a click that would act
        (on a button other than Cancel, an option of a list) came before the dialog could be
        seen: the second click of a double-click landing on the button that has just appeared.
        The release of a refused press is refused too, so that no Click is made of the pair."""
        if isinstance(event, events.MouseUp) and self._guard_press_refused:
            self._guard_press_refused = False
            return True
        if self.takes_keys(event.time) or self._acting_widget_at(event) is None:
            return False
        self._guard_press_refused = isinstance(event, events.MouseDown)
        shown = self._guard_shown_at
        self._say_ignored("click", why=BEFORE if shown is None or event.time < shown else TOO_SOON)
        return True

    def _acting_widget_at(self, event: events.MouseEvent) -> Widget | None:
        try:
            widget, _ = self.app.get_widget_at(event.x, event.y)  # type: ignore[attr-defined]
        except NoWidget:
            return None
        node: Widget | None = widget
        while node is not None and node is not self:
            if isinstance(node, ACTING_WIDGETS) and node.id not in CANCEL_BUTTONS:
                return node
            node = node.parent if isinstance(node.parent, Widget) else None
        return None

    def _say_ignored(self, key: str, why: str = BEFORE) -> None:
        """Say what was refused and why: one key as `enter ignored: it was typed before this dialog
        was shown` (or `enter ignored: too soon after it opened — press again` when the dialog had
        painted), several as `"pr-3", enter ignored: typed before this dialog was shown` (the
        characters typed run together, the last ones kept), so the user types them again."""
        dropped = self._guard_dropped = [*(self._guard_dropped or ()), key]
        if self._guard_why != BEFORE:  # a key typed before the dialog was shown says so for the rest
            self._guard_why = why
        why = self._guard_why
        clicks = "click" in dropped
        if why == AFTER_SUBMIT:
            self._show(f"{ignored_keys(dropped)} ignored: typed after the enter")
        elif why == TOO_SOON:
            again = "click" if clicks and len(dropped) == 1 else "type" if len(dropped) > 1 else "press"
            self._show(f"{ignored_keys(dropped)} ignored: too soon after it opened — {again} again")
        elif len(dropped) == 1:
            made = "made" if clicks else "typed"
            self._show(f"{key} ignored: it was {made} before {self.GUARD_WHAT} was shown")
        else:
            verb = "made" if clicks else "typed"
            self._show(f"{ignored_keys(dropped)} ignored: {verb} before {self.GUARD_WHAT} was shown")

    def _show(self, ignored: str | None) -> None:
        """The line: the dialog's own error (a value refused), then the keys refused."""
        if ignored is not None:
            self._guard_ignored = ignored
        self._show_ignored(self._guard_ignored)

    def _show_ignored(self, text: str | None) -> None:
        if text is not None:
            self._guard_ignored = text
        try:
            line = self.query_one(self.GUARD_HINT, Static)  # type: ignore[attr-defined]
        except NoMatches:
            return  # refused before the dialog was composed: said once it is painted
        palette = getattr(self.app, "palette", None)  # type: ignore[attr-defined]
        shown = Text()
        if self._guard_error is not None:
            shown.append(self._guard_error)  # the line's own colour (the theme's error)
            if text is not None:
                shown.append("\n")
        if text is not None:
            shown.append(text, style=palette.style("warning") if palette is not None else "")
        line.update(shown)
        line.display = True  # a dialog may keep the line hidden until there is something to say


def key_name(event: events.Key) -> str:
    """A character as typed (`-`, not `minus`); other keys by name (`enter`, `space`, `ctrl+y`)."""
    char = event.character
    return char if event.is_printable and char is not None and len(char) == 1 and not char.isspace() else event.key


def ignored_keys(keys: list[str], width: int = IGNORED_KEYS_WIDTH) -> str:
    """`["p", "r", "-", "3", "enter"]` → `"pr-3", enter`; cut at its start beyond `width`."""
    parts: list[str] = []
    run = ""
    for key in keys:
        if len(key) == 1:
            run += key
            continue
        if run:
            parts.append(f'"{run}"')
            run = ""
        parts.append(key)
    if run:
        parts.append(f'"{run}"')
    text = ", ".join(parts)
    return text if len(text) <= width else "…" + text[-(width - 1):]


@dataclass(frozen=True, slots=True)
class GivenTo:
    """Where the app gave a key when it took it, and the key holds (screens/key_hold.py) on then."""

    screen: object
    holds: frozenset[str]


# Each key as the app took it (a key comes back up to the app unused).
_GIVEN_TO: weakref.WeakKeyDictionary[events.Key, GivenTo] = weakref.WeakKeyDictionary()


def _holds(screen: object) -> frozenset[str]:
    keys = getattr(getattr(screen, "app", None), "keys", None)
    return frozenset(keys.reasons) if isinstance(keys, KeyHold) else frozenset()


def typed_ahead(screen: object, event: events.Key) -> bool:
    """The app's check of every key, as it arrives and as it comes back up: True when `screen`
    is a guarded dialog that refuses it."""
    if not event.is_forwarded:
        _GIVEN_TO[event] = GivenTo(screen, _holds(screen))
        from_below = False
    else:
        given = _GIVEN_TO.get(event)
        from_below = given is not None and given.screen is not screen
    if not (isinstance(screen, DialogGuard) and screen.refuses(event, from_below)):
        return False
    if from_below and given is not None:
        # A hold the screen below started for this key (an Enter on the overview's row holds the
        # keys after it until the environment opens) waits for what the key would have done; the
        # dialog swallowed it, so nothing will: the keys held go on (to this dialog, which names
        # them) instead of waiting seconds and being dropped, an Esc among them.
        for reason in _holds(screen) - given.holds:
            release_keys(screen.app, reason)  # type: ignore[attr-defined]
    return True


def clicked_ahead(screen: object, event: events.MouseDown | events.MouseUp) -> bool:
    """The app's check of every mouse press and release, before Textual makes a Click of them."""
    return isinstance(screen, DialogGuard) and screen.refuses_click(event)
