"""A real `envdeck serve` in a subprocess for the serve tests: started, its printed link
read from its stdout, its session processes listed, stopped."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.conftest import envdeck_env, repo_root

LINK = re.compile(r"http://\S+/\?token=\S+")


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
    def __init__(self, config: Path, state: Path, port: int | None = None):
        self.port = port or free_port()
        self.state = state
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "--config", str(config), "--state-dir", str(state), "serve",
             "--port", str(self.port)],
            cwd=str(repo_root()), env=envdeck_env(PYTHONPATH=str(repo_root())),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.stdout = b""
        self.stderr = b""
        self.link = self._read_link()

    def _read_link(self, deadline_s: float = 90) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + deadline_s
        while (found := LINK.search(self.stdout.decode(errors="replace"))) is None:
            left = deadline - time.monotonic()
            assert left > 0 and self.proc.poll() is None, (self.stdout, self.proc.stderr.read() if
                                                           self.proc.poll() is not None else b"")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                assert chunk, (self.stdout, self.proc.stderr.read())
                self.stdout += chunk
        return found.group(0)

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.link).query)["token"][0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate(timeout=30)
        self.stdout += out or b""
        self.stderr += err or b""
