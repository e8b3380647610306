"""Running a program on a real pseudo-terminal (so `isatty()` is true, as for a person)
and checking the bytes it wrote for sequences that came from outside."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from dataclasses import dataclass

from tests.helpers import envdeck_env, repo_root

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# What a terminal could act on, besides plain text (DEL and the C1 range included).
CONTROL_CHARS = {chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"} | {chr(c) for c in range(0x7f, 0xa0)}


@dataclass
class PtyRun:
    returncode: int
    output: bytes

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")


def run_on_pty(argv: list[str], *, timeout: float = 180, env: dict[str, str] | None = None,
               input_bytes: bytes | None = None, stop_when=None) -> PtyRun:
    """Run argv with stdin/stdout/stderr on a pty; collect everything it writes.
    `stop_when(output)`: once true, `input_bytes` is typed (e.g. b"q" to quit a TUI)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=repo_root(), close_fds=True,
                            env=env or envdeck_env(PYTHONPATH=str(repo_root()), TERM="xterm-256color",
                                                   COLUMNS="160", LINES="48"))
    os.close(slave)
    out = bytearray()
    typed = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"{argv[:4]} did not finish within {timeout}s; output so far: "
                                     f"{bytes(out[-2000:])!r}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the other side is closed
                    chunk = b""
                if not chunk:
                    if proc.poll() is not None:
                        break
                    continue
                out += chunk
            elif proc.poll() is not None:
                break
            if input_bytes is not None and not typed and stop_when is not None and stop_when(bytes(out)):
                os.write(master, input_bytes)
                typed = True
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        os.close(master)
    return PtyRun(proc.returncode, bytes(out))


def envdeck_on_pty(*args: str, **kw) -> PtyRun:
    import sys

    return run_on_pty([sys.executable, "-m", "tui.cli", *args], **kw)


def outside_controls(text: str) -> list[str]:
    """Control and bidi characters in plain CLI output (which itself writes none)."""
    return sorted({c for c in text if c in CONTROL_CHARS or c in BIDI})
