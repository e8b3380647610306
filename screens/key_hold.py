"""Keys of one burst (`tmux send-keys`, fast typing over a laggy SSH link) kept in the order
they were typed while what they are meant for is still opening.

A terminal delivers a burst at once: the app takes every key of it before the command line
(or the `/` filter box) that the first key opens is mounted and focused, and before the screen
that an Enter in the burst submits to is shown. Textual hands each key to the widget focused
when the app takes it, so without holding them the keys after `:` reached a screen that was not
there yet, and the keys after an Enter were typed into the command line being submitted.

While a hold is on (`hold(reason)`), every key the app takes is queued; when the last hold is
released the queue is replayed in order through the app's own key handling (so a `:` in it
opens the next command line, which holds the rest again). Holds:

- `command-line`: from `:` until the command line's box has the focus; from an Enter or Esc in
  it until the submitted command took effect (the screen it opened is current and ready);
- `filter`: from `/` until the filter box has the focus; from an Enter or Esc in the box until
  it is closed and the view has the focus again (the Logs view's search box too);
- `open-env`: from an Enter on the overview's selected row until the environment screen it
  opens is current and ready (`Enter 4` opens it on Faults, `Enter jj` moves its cursor);
- `new-env`: from `n` on the overview until the new environment's form is built and its first
  field focused; `new-env-field`: from an Enter in a field of that form until the next field
  has the focus (the last field's Enter makes the plan), so `n pr-7⏎2h` puts 2h in the TTL.

A hold not released within HOLD_AT_MOST_S is given more time while the screen on top is still
being built (not `ready`: what the keys were typed for), up to BUILDING_AT_MOST_S. Past that,
or when the screen on top is ready and nothing released the hold, the queued keys are dropped
and a notice says how many: replayed seconds later they acted on a screen the user had not
aimed them at (a Pause dialog on the overview ~8 s after `p`).
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import TYPE_CHECKING

from textual import events
from textual.binding import NoBinding
from textual.widgets import Input

if TYPE_CHECKING:
    from textual.app import App

NEW_ENV_HOLD = "new-env"
FORM_FIELD_HOLD = "new-env-field"
HOLD_AT_MOST_S = 3.0
BUILDING_AT_MOST_S = 30.0  # a screen still being built keeps the keys typed for it this long at most
SETTLE_CHECKS_AT_MOST = 500  # after-refresh checks waiting for a screen to be ready, then released anyway


class KeyHold:
    def __init__(self, app: App) -> None:
        self.app = app
        self._queue: deque[events.Key] = deque()
        self._holders: dict[str, int] = {}  # reason -> token of the hold (an old safety timer leaves a new one)
        self._tokens = itertools.count(1)
        self._passing: events.Key | None = None  # the queued key being replayed now

    @property
    def held(self) -> bool:
        """Keys are being held or wait to be replayed."""
        return bool(self._holders or self._queue)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(self._holders)

    def take(self, event: events.Key) -> bool:
        """Called for every key the app takes from the terminal (or replays): True when it is
        queued; else the current screen may start a hold before the key is handled."""
        if event is not self._passing and self.held:
            self._queue.append(event)
            return True
        wants = getattr(self.app.screen, "holds_keys_after", None) if self.app.screen_stack else None
        reason = wants(event.key) if wants is not None else None
        if reason:
            self.hold(reason)
        return self._edit_in_order(event)

    def _edit_in_order(self, event: events.Key) -> bool:
        """A key an input box has a binding for (Backspace, Enter, arrows) is run in the box's
        own queue, after the letters typed before it: Textual runs such a binding only once the
        key has bubbled up to the app, after the letters typed after it were already inserted
        (a burst `/x⌫⌫web` gave `xw`)."""
        box = self.app.focused if self.app.screen_stack else None
        if not isinstance(box, Input) or self._app_priority(event.key):
            return False
        try:
            bindings = box._bindings.get_bindings_for_key(event.key)
        except NoBinding:
            return False
        box.call_later(box.run_action, bindings[0].action)
        return True

    def _app_priority(self, key: str) -> bool:
        try:
            return any(b.priority for b in self.app._bindings.get_bindings_for_key(key))
        except NoBinding:
            return False

    def hold(self, reason: str) -> None:
        token = next(self._tokens)
        self._holders[reason] = token
        self._arm(reason, token, HOLD_AT_MOST_S)

    def _arm(self, reason: str, token: int, waited_s: float) -> None:
        """Look at hold `token` again in HOLD_AT_MOST_S; `waited_s`: how long it will have been on then."""
        self.app.set_timer(HOLD_AT_MOST_S, lambda: self._expire(reason, token, waited_s), name=f"key-hold:{reason}")

    def release(self, reason: str) -> None:
        if self._holders.pop(reason, None) is not None and not self._holders and self._queue:
            self.app.call_later(self._replay)

    def release_when_settled(self, reason: str) -> None:
        """Release `reason` once the screen on top is ready (a new environment screen finished
        its mount) and the focus changes it asked for are done."""
        checks = itertools.count()

        def check() -> None:
            if reason not in self._holders:
                return
            screen = self.app.screen if self.app.screen_stack else None
            if screen is not None and not getattr(screen, "ready", True) and next(checks) < SETTLE_CHECKS_AT_MOST:
                self.app.call_after_refresh(check)
                return
            self.app.call_later(self.release, reason)  # after the focus() calls queued by its mount

        self.app.call_after_refresh(check)

    def drop(self, reason: str, why: str) -> None:
        """End hold `reason` dropping the keys it queued (when no other hold keeps them): what they
        were typed for is not there (`why`), and replayed they would act where they were not aimed."""
        if self._holders.pop(reason, None) is None:
            return
        if self._holders:
            return
        keys = [event.key for event in self._queue]
        self._queue.clear()
        if keys:  # named: at 3 a.m. `r` dropped reads better than "1 key"
            shown = " ".join(keys[:8]) + (" …" if len(keys) > 8 else "")
            self.app.notify(f"{len(keys)} key{'s' if len(keys) != 1 else ''} typed after it dropped ({shown}): {why}",
                            severity="warning", timeout=6, markup=False)

    def _expire(self, reason: str, token: int, waited_s: float) -> None:
        if self._holders.get(reason) != token:
            return
        screen = self.app.screen if self.app.screen_stack else None
        if screen is not None and not getattr(screen, "ready", True) and waited_s < BUILDING_AT_MOST_S:
            self._arm(reason, token, waited_s + HOLD_AT_MOST_S)  # still being built: the keys are for it
            return
        dropped = len(self._queue)
        self._queue.clear()
        self._holders.pop(reason, None)
        self.app.log.warning(f"key hold {reason!r} not released after {waited_s:.0f}s: {dropped} key(s) dropped")
        if dropped:
            self.app.notify(f"{dropped} key{'s' if dropped != 1 else ''} typed while waiting dropped: "
                            f"what they were typed for did not open", severity="warning", timeout=4, markup=False)

    async def _replay(self) -> None:
        while self._queue and not self._holders:
            key = self._queue.popleft()
            self._passing = key
            try:
                await self.app.on_event(key)
            finally:
                self._passing = None


def hold_keys(app: App, reason: str) -> None:
    keys = getattr(app, "keys", None)
    if isinstance(keys, KeyHold):
        keys.hold(reason)


def release_keys(app: App, reason: str, *, when_settled: bool = False) -> None:
    """Release `reason` after the callbacks queued so far (a focus() among them) have run."""
    keys = getattr(app, "keys", None)
    if not isinstance(keys, KeyHold):
        return
    if when_settled:
        keys.release_when_settled(reason)
    else:
        app.call_later(keys.release, reason)


def drop_keys(app: App, reason: str, why: str) -> None:
    keys = getattr(app, "keys", None)
    if isinstance(keys, KeyHold):
        keys.drop(reason, why)


def keys_on_their_way(app: App) -> bool:
    """A key the app handed to the focused widget has not reached its binding yet. Textual takes a
    priority key such as `/` as it arrives, and hands any other to the focused widget, from which
    it bubbles through a queue per widget up to the app, where the screen's bindings are checked:
    it waits in one of those queues (back in the app's, behind the keys typed after it)."""
    from tui.widgets.line_table import LineTable

    focused = app.focused
    chain = focused.ancestors_with_self if focused is not None else [app.screen, app]
    for node in chain:
        queue = node.__dict__.get("_message_queue")  # made when first used
        waiting = [node._pending_message, *getattr(queue, "values", ())]
        if any(isinstance(m, events.Key) and (node is not app or m.is_forwarded) for m in waiting):
            return True
        # a key a table's binding took, on its way as what it chose (Enter: the row to drill into)
        if node is not app and any(isinstance(m, LineTable.RowSelected) for m in waiting):
            return True
    return False
