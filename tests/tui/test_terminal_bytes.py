"""What the app writes to a real terminal: no escape sequence from outside text
reaches it. The TUI runs in a subprocess on a pty (Textual's own Linux driver);
we read every byte it writes while it shows hostile resource names, statuses and
log lines (Rich markup, ANSI CSI, OSC 52, OSC 0, C1 CSI, BEL, bidi overrides)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

from tests.helpers import repo_root

FORBIDDEN = {
    "OSC 52 clipboard write": b"\x1b]52;c;ZXZpbA==",
    "OSC 0 window title": b"\x1b]0;pwned",
    "CSI recolour": b"\x1b[31mRED",
    "CSI clear screen from a log line": b"\x1b[2J clear",
    "C1 CSI (UTF-8)": "\x9b31m".encode(),
    "BEL from a log line": b"\x07 clipboard",
    "bidi override": "\u202e".encode(),
    "bidi isolate": "\u2066".encode(),
    "OSC 8 hyperlink from markup": b"\x1b]8;;http://phish.example",
    "raw ESC in a status": b"\x1b]52;c;ZXZpbA==\x07copied",
}
VISIBLE = {
    "escaped OSC 52 in the log": "␛]52;c;ZXZpbA==".encode(),
    "literal markup in the log": b"[bold red]markup must stay literal[/bold red]",
    "escaped bidi override": b"user\\u202eexe.txt",
}


def _read_until(fd: int, wanted: list[bytes], deadline: float, out: bytearray) -> None:
    while time.monotonic() < deadline:
        if all(w in out for w in wanted):
            return
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            out += chunk


def test_no_outside_escape_sequence_reaches_the_terminal(tmp_path):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(repo_root()),
               TEXTUAL_ANIMATIONS="none")
    env.pop("TEXTUAL", None)
    proc = subprocess.Popen([sys.executable, "-m", "tests.tui.pty_app"], stdin=slave, stdout=slave, stderr=slave,
                            cwd=str(tmp_path), env=env, start_new_session=True)
    os.close(slave)
    out = bytearray()
    try:
        _read_until(master, list(VISIBLE.values()), time.monotonic() + 90, out)
        os.write(master, b"q")
        _read_until(master, [b"\x1b[?1049l"], time.monotonic() + 30, out)  # leaves the alternate screen
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = bytes(out)
    leaked = [name for name, marker in FORBIDDEN.items() if marker in text]
    assert not leaked, f"outside escape sequences reached the terminal: {leaked}"
    missing = [name for name, marker in VISIBLE.items() if marker not in text]
    assert not missing, f"the hostile text was not shown: {missing}\n{text[-2000:]!r}"
    # Every ESC the app wrote starts a sequence Textual itself produces (CSI, or the
    # OSC/DCS Textual uses for its own purposes); none carries the hostile payloads.
    for index in range(len(text)):
        if text[index] == 0x1B:
            assert text[index + 1:index + 2] in (b"[", b"]", b"P", b"7", b"8", b"=", b">", b"(", b"\\"), \
                text[index:index + 20]
