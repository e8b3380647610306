"""Handing the terminal to a shell program (`ssh`, `kubectl exec -it`) and getting it
back, however the program ends.

While the program has the terminal, envdeck itself can be told to stop: its terminal
hangs up (the SSH connection to the jump host dropped: SIGHUP), or it is sent SIGTERM.
Left to their default action those signals would end envdeck at once and leave the
shell's audit row `pending` forever. Here they are caught for the length of the
hand-over: the program gets the signal too (a hang-up already reached it through the
terminal), and `HandOverInterrupted` tells the caller to record how it ended, then quit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable

# Passed to the program, envdeck stays: ctrl+c and ctrl+\ are the program's alone.
PASSED_ON = (signal.SIGINT, signal.SIGQUIT)
# They end envdeck: the hand-over ends first, so that it is recorded.
ENDING = (signal.SIGHUP, signal.SIGTERM)
GRACE_S = 5.0  # how long the program has to end after being passed an ending signal


class HandOverInterrupted(Exception):
    """envdeck received `signum` while `program` had the terminal."""

    def __init__(self, signum: int, program: str, code: int | None):
        self.signum = signum
        self.program = program
        self.code = code
        super().__init__(f"{signal_name(signum)} to envdeck ({_why(signum)}) while {program} ran; "
                         + (how_it_ended(program, code) if code is not None else f"{program} was killed"))

    @property
    def hung_up(self) -> bool:
        """The terminal is gone: nothing can be drawn on it again (Textual cannot even
        restore it: its writer blocks), so envdeck ends as the signal would have ended it."""
        return self.signum == signal.SIGHUP


def end_by_signal(signum: int) -> None:
    """Die of `signum` as its default action would have (once what had to be recorded is)."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _why(signum: int) -> str:
    return "its terminal hung up" if signum == signal.SIGHUP else "asked to stop"


def how_it_ended(program: str, code: int) -> str:
    if code >= 0:
        return f"{program} exited with {code}"
    return f"{program} was ended by {signal_name(-code)}"


Interrupted = Callable[[HandOverInterrupted], Awaitable[None]]


async def call_in_foreground(argv: list[str], on_interrupted: Interrupted | None = None) -> int:
    """Run argv on the inherited terminal and wait, like system(3). When envdeck gets
    SIGHUP or SIGTERM meanwhile (also while it waits for Enter after a failure): once the
    program has ended, awaits `on_interrupted` (still suspended: the terminal may be
    gone) and raises the `HandOverInterrupted`."""
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[int] = loop.create_future()
    process: asyncio.subprocess.Process | None = None

    def stop(signum: int) -> None:  # on the loop
        if not stopped.done():
            stopped.set_result(signum)
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    def on_signal(signum: int, frame: object) -> None:  # Python's handler, between two bytecodes
        loop.call_soon_threadsafe(stop, signum)

    saved: dict[int, Callable | int | None] = {}
    waiting: asyncio.Future[int] | None = None
    if threading.current_thread() is threading.main_thread():
        for sig in PASSED_ON:
            saved[sig] = signal.signal(sig, _ignore)
        for sig in ENDING:
            saved[sig] = signal.signal(sig, on_signal)
    try:
        # stdin/stdout/stderr inherited: the terminal
        process = await asyncio.create_subprocess_exec(*argv)  # argv from the backend, never a shell string
        program = os.path.basename(argv[0])
        if stopped.done():  # the signal came while the program was being started
            stop(stopped.result())
        waiting = asyncio.ensure_future(process.wait())
        await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stopped.done():
            code = await _ended(process, waiting)
        else:
            code = waiting.result()
            await asyncio.sleep(0)  # a signal that ended the program may still be on its way to us
            if code > 0 and not stopped.done():  # its own error (e.g. ssh's "Host key verification
                # failed."): let it be read
                await wait_for_enter(f"{how_it_ended(program, code)}; press Enter to return to envdeck", stopped)
        if not stopped.done():
            return code
        interrupted = HandOverInterrupted(stopped.result(), program, code)
        if on_interrupted is not None:
            await on_interrupted(interrupted)
        raise interrupted
    except BaseException:
        # cancelled (the app is closing) or a bug: the program must not keep the terminal
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        raise
    finally:
        if waiting is not None and not waiting.done():
            waiting.cancel()
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


async def _ended(process: asyncio.subprocess.Process, waiting: asyncio.Future[int]) -> int | None:
    """The program's exit status after it was passed an ending signal; killed after GRACE_S."""
    done, _ = await asyncio.wait({waiting}, timeout=GRACE_S)
    if done:
        return waiting.result()
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await waiting
    return None


async def wait_for_enter(prompt: str, stopped: asyncio.Future[int] | None = None) -> None:
    """On the terminal the program left (cooked mode, the app still suspended). Read
    without a thread, so that a hang-up or SIGTERM ends the wait (and a terminal that
    is gone reads as end of file)."""
    out, stdin = sys.__stdout__, sys.__stdin__
    if out is None or stdin is None or not stdin.isatty():
        return
    try:
        out.write(f"\r\n[envdeck] {prompt} ")
        out.flush()
    except OSError:  # the terminal is gone
        return
    loop = asyncio.get_running_loop()
    line: asyncio.Future[None] = loop.create_future()
    fd = stdin.fileno()

    def readable() -> None:
        with contextlib.suppress(OSError):
            os.read(fd, 4096)  # the line (cooked mode), or b"" / EIO when the terminal hung up
        if not line.done():
            line.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait({line} | ({stopped} if stopped is not None else set()),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_reader(fd)


def _ignore(signum: int, frame: object) -> None:
    """A handler that does nothing, not SIG_IGN: an ignored signal would stay ignored in
    the program."""
    return None
