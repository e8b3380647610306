"""Ctrl-C for every async verb of the CLI: the first one stops the work, the command ends 130
with one line on stderr, never a traceback.

asyncio.run's own SIGINT handler cancels the main task once, and Python 3.11 can lose that one
cancellation (an `asyncio.wait_for` whose inner call completes at the same moment returns its
result instead): an interrupted `promote --apply` or `env ... --wait` then carried on to its end.
`until_interrupted` cancels the work again every half second until it has ended.

A verb may catch the cancellation itself and say more (`env ... --wait`, `promote`: how to carry
on); it returns EXIT_INTERRUPTED then and nothing more is printed. Verbs that install their own
SIGINT handler (`reconcile` without --once, `agent`, `serve`) replace this one while they run and
keep their own behaviour (a graceful stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Iterator
from typing import Any

from tui.cli import sigint
from tui.cli.output import say

EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it
INTERRUPTED_LINE = "envdeck: interrupted (Ctrl-C)"  # what an action did is in its audit row (`interrupted`)


async def until_interrupted(work: Coroutine[Any, Any, Any]) -> Any:
    """Run `work` to its end; on SIGINT cancel it (again every 0.5 s until it has ended) and
    return EXIT_INTERRUPTED, or what the work returned if it caught the cancellation itself.

    The SIGINT comes through the process's handler (tui/cli/sigint.py, installed by `main`):
    only the first one wakes this loop, every later one is ignored, so that a double Ctrl-C
    cannot raise KeyboardInterrupt into the cancellation or asyncio's teardown."""
    task = asyncio.ensure_future(_prompt_interrupt_kept(work))
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    if sigint.installed():
        listening: contextlib.AbstractContextManager[None] = sigint.calling(
            lambda: loop.call_soon_threadsafe(interrupted.set))
    else:  # an in-process caller without the envdeck handler: the loop's own
        try:
            loop.add_signal_handler(signal.SIGINT, interrupted.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            return await task
        listening = _loop_handler(loop)
    with listening:
        stop = asyncio.ensure_future(interrupted.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        if sigint.installed():
            _take_back(loop)
        if interrupted.is_set() and task.cancelled():
            say(INTERRUPTED_LINE)
            return EXIT_INTERRUPTED
        result = task.result()
        if result is _AT_A_PROMPT:
            say(INTERRUPTED_LINE)
            return EXIT_INTERRUPTED
        return result


_AT_A_PROMPT = object()  # what the work ends with when a Ctrl-C at one of its prompts raised


async def _prompt_interrupt_kept(work: Coroutine[Any, Any, Any]) -> Any:
    """`work`, with the KeyboardInterrupt a Ctrl-C at its prompt raises (tui/cli/output.py ask)
    kept inside its task: escaping a task, it stops the loop with the task's exception never
    retrieved, and asyncio printed "Task exception was never retrieved" with a traceback after
    the interrupt line whenever that task was collected before the process ended."""
    try:
        return await work
    except KeyboardInterrupt:
        return _AT_A_PROMPT


def _take_back(loop: asyncio.AbstractEventLoop) -> None:
    """The verb's own SIGINT handler (loop.add_signal_handler), now that it has ended, gives way
    to the process's (a Ctrl-C now is harmless). asyncio's removal puts Python's handler in
    for a moment: a Ctrl-C of a storm landing there is caught here."""
    try:
        if not loop.remove_signal_handler(signal.SIGINT):
            return
    except KeyboardInterrupt:
        pass
    finally:
        sigint.reinstate()
    if not getattr(loop, "_signal_handlers", True):  # none left: the loop's wakeup fd goes too
        signal.set_wakeup_fd(-1)


@contextlib.contextmanager
def _loop_handler(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
