"""Dead endpoints for the "unreachable" tests, counted on the server side.

`SilentListener` accepts TCP connections and never sends a byte (a hung API server, a
process stopped with SIGSTOP, a proxy whose backend is gone): a client's connect
succeeds and its read waits for its timeout. It counts the connections it accepted and
keeps the first line each one sent (an HTTP request line, an SSH banner), so a test can
prove how many attempts a client made, and that it sent no request twice. `closed_port()` is a port nobody
listens on (connection refused at once).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


class SilentListener:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._first_lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="silent-listener", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return len(self._held)

    def first_lines(self) -> list[str]:
        """The first line each connection sent so far (read, never answered)."""
        with self._lock:
            return list(self._first_lines)

    def _read_first_line(self, conn: socket.socket) -> None:
        data = b""
        try:
            while b"\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:  # closed by the client or by close()
            pass
        with self._lock:
            self._first_lines.append(data.split(b"\n", 1)[0].decode("latin-1").strip())

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            with self._lock:
                self._held.append(conn)  # held open, never answered
            threading.Thread(target=self._read_first_line, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.sock.close()
        with self._lock:
            for conn in self._held:
                conn.close()


def closed_port() -> int:
    """A loopback port with no listener (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_json(run: Callable[..., Any], tmp_path: Path, config: dict[str, Any], **env: str) -> tuple[int, dict]:
    """`envdeck status --json` (through `run`: a real process or the in-process CLI) of `config`,
    written 0600 to tmp_path: its exit code and report; never a traceback."""
    path = tmp_path / "envdeck.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    proc = run("status", "--json", "--config", str(path), "--state-dir", str(tmp_path / "state"), timeout=120, **env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def unreachable(report: dict, backend: str) -> dict:
    """The one environment's `backend` entry of a status report, said unreachable."""
    [env] = report["environments"]
    entry = env["backends"][backend]
    assert entry["reachable"] is False, entry
    return entry
