"""A real `envdeck serve` in a subprocess for the serve tests: started, its link read
(from its stdout on a pseudo-terminal with tty=True; otherwise, stdout being a pipe,
from the 0600 file whose path it prints), its session processes listed, stopped."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.helpers import envdeck_env, repo_root

LINK = re.compile(r"http://\S+/\?token=[A-Za-z0-9_-]+")
LINK_FILE = re.compile(r"is in (/\S+\.link) \(")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (textual-serve starts one per session)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


class ServeProcess:
    def __init__(self, config: Path, state: Path, port: int | None = None, *, tty: bool = False):
        self.port = port or free_port()
        self.state = state
        self.tty = tty
        self.link_file: Path | None = None
        if tty:
            self._out, slave = pty.openpty()
        else:
            self._out, slave = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tui.cli", "--config", str(config), "--state-dir", str(state), "serve",
                 "--port", str(self.port)],
                cwd=str(repo_root()), env=envdeck_env(PYTHONPATH=str(repo_root())),
                stdout=slave, stderr=subprocess.PIPE, start_new_session=True)
        finally:
            os.close(slave)
        self.stdout = b""
        self.stderr = b""
        self._stopped = False
        try:
            self.link = self._read_link()
        except BaseException:  # never leave a listening serve behind a failed start
            self.stop()
            raise

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self._out], [], [], timeout)
        if not ready:
            return b""
        try:
            chunk = os.read(self._out, 4096)
        except OSError:  # a pty whose other end closed
            chunk = b""
        self.stdout += chunk
        return chunk

    def _read_link(self, deadline_s: float = 90) -> str:
        pattern = LINK if self.tty else LINK_FILE
        deadline = time.monotonic() + deadline_s
        while (found := pattern.search(self.stdout.decode(errors="replace"))) is None:
            left = deadline - time.monotonic()
            assert left > 0 and self.proc.poll() is None, (self.stdout, self.proc.stderr.read() if
                                                           self.proc.poll() is not None else b"")
            if self._read(left) == b"" and self.proc.poll() is not None:
                raise AssertionError((self.stdout, self.proc.stderr.read()))
        if self.tty:
            return found.group(0)
        self.link_file = Path(found.group(1))
        return self.link_file.read_text().strip()

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.link).query)["token"][0]

    def stop(self) -> None:
        """Stop serve and its session processes (even ones that left its process group); twice is harmless."""
        if self._stopped:
            return
        self._stopped = True
        sessions = children(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            _, err = self.proc.communicate(timeout=30)
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.stderr += err or b""
        while self._read(0):
            pass
        os.close(self._out)
