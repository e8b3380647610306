"""The `envdeck` process's one SIGINT handler: the first Ctrl-C stops the command (exit 130,
one line on stderr), every later one is harmless.

Python's own handler raises KeyboardInterrupt wherever the main thread happens to be: a
quick double Ctrl-C then landed in asyncio's teardown, in an import's weakref callback
("Exception ignored in ... _get_module_lock") or after `main` had returned, and the process
died by the signal instead of exiting 130. asyncio.run also installs its own handler when it
finds Python's, which turns a second Ctrl-C into an uncaught KeyboardInterrupt.

This handler acts on the first SIGINT only, in one of three ways (`mode`):
- record: only note it; `raise_if_interrupted` acts on it at a safe point (while a verb's
  module is imported: an interrupt in the middle of an import is never raised);
- raise: KeyboardInterrupt at once (a synchronous verb, a prompt);
- a callback: an async verb's loop is woken to cancel its work (tui/cli/interrupt.py).
From the first SIGINT on, the signal is ignored by the process (SIG_IGN): nothing later can
raise, not even while the interpreter shuts down (a Python handler is reset to the default
there, an ignored signal stays ignored).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

RECORD, RAISE = "record", "raise"


@dataclass
class _Sigint:
    installed: bool = False
    received: int = 0
    mode: str = RECORD
    callback: Callable[[], None] | None = None
    previous: Any = field(default=None)

    def handle(self, signum: int, frame: object) -> None:
        self.received += 1
        if self.received > 1:
            return
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # every later Ctrl-C: harmless
        if self.mode == RAISE:
            raise KeyboardInterrupt
        if self.callback is not None:
            self.callback()


_state = _Sigint()


def install() -> bool:
    """Make this module's handler the process's (main thread only); False if it already was
    or cannot be (another thread: an in-process caller keeps its own handling)."""
    if _state.installed or threading.current_thread() is not threading.main_thread():
        return False
    _state.previous = signal.signal(signal.SIGINT, _state.handle)
    _state.installed, _state.received, _state.mode, _state.callback = True, 0, RECORD, None
    return True


def uninstall() -> None:
    """Give the previous handler back (an in-process `main`, e.g. a test, returns)."""
    if _state.installed:
        signal.signal(signal.SIGINT, _state.previous)
        _state.installed, _state.callback, _state.mode = False, None, RECORD


def installed() -> bool:
    return _state.installed


def interrupted() -> bool:
    return _state.received > 0


def raise_if_interrupted() -> None:
    if _state.received:
        raise KeyboardInterrupt


def reinstate() -> None:
    """Once a verb that installed its own SIGINT handler (loop.add_signal_handler: `reconcile`,
    `agent`, `serve`) has ended; asyncio puts Python's handler back when it removes its own:
    this handler again, or the ignoring one if a Ctrl-C came already."""
    if _state.installed and signal.getsignal(signal.SIGINT) not in (_state.handle, signal.SIG_IGN):
        signal.signal(signal.SIGINT, signal.SIG_IGN if _state.received else _state.handle)


def ignore() -> None:
    """From now on SIGINT is ignored (the process is ending: Python's shutdown would put the
    default action back for a handler of its own, and a late Ctrl-C would kill it by the signal)."""
    if _state.installed:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def raising() -> Iterator[None]:
    """While inside: the first Ctrl-C raises KeyboardInterrupt at once (a synchronous verb, a
    prompt); one that came before raises on entry."""
    if not _state.installed:
        yield
        return
    before = _state.mode
    _state.mode = RAISE
    try:
        raise_if_interrupted()
        yield
    finally:
        _state.mode = before


@contextlib.contextmanager
def calling(callback: Callable[[], None]) -> Iterator[None]:
    """While inside: the first Ctrl-C calls `callback` (from the signal handler: it must only
    wake a loop, e.g. loop.call_soon_threadsafe); one that came before calls it on entry."""
    before = _state.callback
    _state.callback = callback
    try:
        if _state.received:
            callback()
        yield
    finally:
        _state.callback = before
