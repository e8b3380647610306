"""Dead endpoints for the "unreachable" tests, counted on the server side.

`SilentListener` accepts TCP connections and never sends a byte (a hung API server, a
process stopped with SIGSTOP, a proxy whose backend is gone): a client's connect
succeeds and its read waits for its timeout. It counts the connections it accepted and
keeps the first line each one sent (an HTTP request line, an SSH banner), so a test can
prove how many attempts a client made, and that it sent no request twice. `closed_port()` is a port nobody
listens on (connection refused at once).
"""

from __future__ import annotations

import socket
import threading


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
