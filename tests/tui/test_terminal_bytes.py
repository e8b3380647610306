"""What the app writes to a real terminal: no escape sequence from outside text
reaches it. The TUI runs in a subprocess on a pty (Textual's own Linux driver);
we read every byte it writes while it shows hostile resource names, statuses and
log lines (Rich markup, ANSI CSI, OSC 52, OSC 0, C1 CSI, BEL, bidi overrides)."""

from __future__ import annotations

import os
import sys

from tests.helpers import repo_root
from tests.terminal import LEAVE_ALT_SCREEN, TerminalSession

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


def test_no_outside_escape_sequence_reaches_the_terminal(tmp_path):
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(repo_root()),
               TEXTUAL_ANIMATIONS="none")
    env.pop("TEXTUAL", None)
    with TerminalSession([sys.executable, "-m", "tests.tui.pty_app"], env=env, cwd=tmp_path, rows=40,
                         cols=200) as term:
        term.expect(*VISIBLE.values(), timeout=90)
        term.send(b"q")
        term.expect(LEAVE_ALT_SCREEN, timeout=30)  # leaves the alternate screen
        assert term.wait_exit(timeout=30) == 0
        out = term.out
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
