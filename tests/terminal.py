"""A program on a real pseudo-terminal (so `isatty()` is true, as for a person): the one pty
harness of the suite (TUI, security, edge and emulator tests). Standard library only (pty,
select, os.read).

`TerminalSession` drives it like a person at a keyboard: type keys, then wait (with a deadline,
never a fixed sleep) until it has written what we expect.

    with TerminalSession([sys.executable, "-m", "tui.cli", ...], env=env, cwd=tmp) as term:
        term.expect(b"\\x1b[?1049h")       # the TUI entered the alternate screen
        term.send(b"q")
        assert term.wait_exit() == 0

`run_on_pty` / `envdeck_on_pty` run a program to its end on one and give back every byte it
wrote, to check them for sequences that came from outside (`outside_controls`).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import envdeck_env, repo_root

ENTER_ALT_SCREEN = b"\x1b[?1049h"
LEAVE_ALT_SCREEN = b"\x1b[?1049l"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# What a terminal could act on, besides plain text (DEL and the C1 range included).
CONTROL_CHARS = {chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"} | {chr(c) for c in range(0x7f, 0xa0)}
# CSI, OSC (BEL or ST terminated), DCS/APC/PM/SOS strings, two-byte escapes
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                      rb"|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_=>78()][0-9A-Za-z]?")


def visible_text(data: bytes) -> str:
    """What a person would read in `data`: escape sequences removed, each cursor
    move (a new place on the screen) turned into a line break."""
    moved = re.sub(rb"\x1b\[\d*(?:;\d*)?[Hf]", b"\n", data)
    return _ESCAPES.sub(b"", moved).decode("utf-8", errors="replace")


class TerminalSession:
    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path | str, rows: int = 40,
                 cols: int = 160):
        self.argv = argv
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        # its own session with the pty as its controlling terminal, like a login: /dev/tty
        # works, and ctrl+c reaches the foreground process group (never the test runner)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=str(cwd), env=env,
                                     start_new_session=True, preexec_fn=_take_terminal)
        os.close(slave)
        self.master = master
        self.out = bytearray()
        self.eof = False

    # -- reading ---------------------------------------------------------------
    def _read(self, wait_s: float) -> None:
        if self.eof:
            time.sleep(min(wait_s, 0.05))
            return
        ready, _, _ = select.select([self.master], [], [], wait_s)
        if not ready:
            return
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every holder of the other side has closed it
            chunk = b""
        if chunk:
            self.out += chunk
        else:
            self.eof = True

    def mark(self) -> int:
        """A position in the output: later expectations can look only past it."""
        return len(self.out)

    def expect(self, *wanted: bytes, since: int = 0, timeout: float = 90.0, what: str = "") -> int:
        """Wait until every one of `wanted` was written after `since`; the position just past
        the last of them."""
        return self.expect_that(lambda data: _all_found(data, wanted), since=since, timeout=timeout,
                                what=what or " and ".join(repr(w) for w in wanted))

    def expect_text(self, *wanted: str, since: int = 0, timeout: float = 90.0) -> int:
        """Like expect, on the visible text (escape sequences removed)."""
        def found(data: bytes) -> int | None:
            text = visible_text(data)
            return len(data) if all(w in text for w in wanted) else None

        return self.expect_that(found, since=since, timeout=timeout, what=f"the text {wanted!r}")

    def expect_regex(self, pattern: bytes, *, since: int = 0, timeout: float = 90.0) -> re.Match[bytes]:
        compiled = re.compile(pattern)
        end = self.expect_that(lambda data: (m.end() if (m := compiled.search(data)) else None), since=since,
                               timeout=timeout, what=f"a match of {pattern!r}")
        match = compiled.search(bytes(self.out[since:end]))
        assert match is not None
        return match

    def expect_that(self, found, *, since: int, timeout: float, what: str) -> int:
        """Wait until `found(output since `since`)` gives a position; the absolute position."""
        deadline = time.monotonic() + timeout
        while True:
            where = found(bytes(self.out[since:]))
            if where is not None:
                return since + where
            if time.monotonic() > deadline or (self.eof and self.proc.poll() is not None):
                state = "still running" if self.proc.poll() is None else f"exited with {self.proc.returncode}"
                raise AssertionError(f"waited {timeout:.0f}s for {what} from {self.argv[:4]} ({state}); "
                                     f"it wrote since then: {visible_text(bytes(self.out[since:]))[-3000:]!r}")
            self._read(0.1)

    # -- typing ----------------------------------------------------------------
    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    # -- the programs it started -------------------------------------------------
    def descendants(self) -> list[tuple[int, list[str]]]:
        """(pid, argv) of every process below the one started, from /proc."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], list(children.get(self.proc.pid, []))
        while todo:
            pid = todo.pop()
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            found.append((pid, [a.decode(errors="replace") for a in argv if a]))
            todo += children.get(pid, [])
        return found

    def wait_for_child(self, program: str, *, timeout: float = 60.0) -> list[str]:
        """argv of a running descendant whose program name is `program` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, argv in self.descendants():
                if argv and os.path.basename(argv[0]) == program:
                    return argv
            self._read(0.05)
        raise AssertionError(f"no {program} process under {self.argv[:4]} within {timeout:.0f}s; "
                             f"running: {self.descendants()}")

    # -- the end ---------------------------------------------------------------
    def wait_exit(self, timeout: float = 60.0) -> int:
        """Its exit status, reading what it writes meanwhile (a full pty would block it)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                stacks = self._stacks()
                raise AssertionError(f"{self.argv[:4]} did not exit within {timeout:.0f}s; it wrote: "
                                     f"{visible_text(bytes(self.out[-3000:]))!r}{stacks}")
            self._read(0.1)
        while not self.eof:
            ready, _, _ = select.select([self.master], [], [], 0)
            if not ready:
                break
            self._read(0)
        return self.proc.returncode

    def _stacks(self) -> str:
        """Where a program that hangs is stuck: with PYTHONFAULTHANDLER set (its environment),
        SIGABRT makes Python write every thread's stack before it dies; what it wrote then."""
        if self.proc.poll() is not None or not (self.proc.args and "PYTHONFAULTHANDLER" in os.environ):
            return ""
        since = len(self.out)
        os.kill(self.proc.pid, signal.SIGABRT)
        deadline = time.monotonic() + 5
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        self._read(0.2)
        return "\nits threads when it was stopped (SIGABRT):\n" + bytes(self.out[since:]).decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the TUI and any ssh it started
            self.proc.wait(timeout=30)
        os.close(self.master)

    def __enter__(self) -> TerminalSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _take_terminal() -> None:
    """In the child, after setsid(): stdin (the pty) becomes the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _all_found(data: bytes, wanted: tuple[bytes, ...]) -> int | None:
    end = 0
    for w in wanted:
        at = data.find(w)
        if at < 0:
            return None
        end = max(end, at + len(w))
    return end


@dataclass
class PtyRun:
    returncode: int
    output: bytes

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")


def run_on_pty(argv: list[str], *, timeout: float = 180, env: dict[str, str] | None = None,
               input_bytes: bytes | None = None, stop_when=None) -> PtyRun:
    """Run argv to its end on a pty (160x48, in the repository); collect everything it writes.
    `stop_when(output)`: once true, `input_bytes` is typed (e.g. b"q" to quit a TUI)."""
    env = env or envdeck_env(PYTHONPATH=str(repo_root()), TERM="xterm-256color", COLUMNS="160", LINES="48")
    deadline = time.monotonic() + timeout
    with TerminalSession(argv, env=env, cwd=repo_root(), rows=48, cols=160) as term:
        if input_bytes is not None and stop_when is not None:
            term.expect_that(lambda data: len(data) if stop_when(data) else None, since=0, timeout=timeout,
                             what="the moment to type")
            term.send(input_bytes)
        returncode = term.wait_exit(timeout=max(deadline - time.monotonic(), 1.0))
        return PtyRun(returncode, bytes(term.out))


def envdeck_on_pty(*args: str, **kw) -> PtyRun:
    return run_on_pty([sys.executable, "-m", "tui.cli", *args], **kw)


def outside_controls(text: str) -> list[str]:
    """Control and bidi characters in plain CLI output (which itself writes none)."""
    return sorted({c for c in text if c in CONTROL_CHARS or c in BIDI})
