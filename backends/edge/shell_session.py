"""An interactive shell over a node's existing asyncssh connection: the fallback
when the system `ssh` is missing (the TUI prefers `shell_command()`, which
honours the user's OpenSSH habits). The caller suspends its own terminal use;
this puts the terminal in raw mode, forwards window-size changes, and restores
the terminal afterwards. With `remote` (the loop the connection lives on) the
channel is opened and waited for there, while the terminal and the SIGWINCH
handler stay on the caller's loop (signal handlers belong to the main thread)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import termios
import tty

import asyncssh

from backends.edge.loop_thread import LoopThread


async def interactive_shell(conn: asyncssh.SSHClientConnection, *, stdin_fd: int = 0, stdout_fd: int = 1,
                            term_type: str | None = None, remote: LoopThread | None = None) -> int:
    """Run the login shell of the node with a pty wired to these descriptors; returns its exit status."""
    term = term_type or os.environ.get("TERM") or "xterm-256color"
    saved = termios.tcgetattr(stdin_fd) if os.isatty(stdin_fd) else None
    loop = asyncio.get_running_loop()
    resized = False
    try:
        if saved is not None:
            tty.setraw(stdin_fd, termios.TCSANOW)  # keep what was typed ahead
        # asyncssh closes what it is given: hand it duplicates, never the terminal itself
        opening = conn.create_process(term_type=term, term_size=_size(stdout_fd), stdin=os.dup(stdin_fd),
                                      stdout=os.dup(stdout_fd), stderr=asyncssh.STDOUT, encoding=None)
        proc = await (remote.call(opening) if remote is not None else opening)

        def resize() -> None:
            if remote is not None:
                remote.call_soon(proc.change_terminal_size, *_size(stdout_fd))
            else:
                proc.change_terminal_size(*_size(stdout_fd))

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGWINCH, resize)
            resized = True
        closing = proc.wait_closed()
        await (remote.call(closing) if remote is not None else closing)
    finally:
        if resized:
            loop.remove_signal_handler(signal.SIGWINCH)
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
    return proc.exit_status if proc.exit_status is not None else 255


def _size(fd: int) -> tuple[int, int]:
    try:
        cols, rows = os.get_terminal_size(fd)
    except OSError:
        return 80, 24
    return cols, rows
