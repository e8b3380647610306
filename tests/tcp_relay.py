"""TCP relays in tests (the counting relays in front of sshd or moto): `pump` copies what `src`
sends to `dst` until either side ends, then shuts both down; `CountingRelay` relays a port and
counts the connections it accepts."""

from __future__ import annotations

import socket
import threading


def pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class CountingRelay:
    """A TCP port relaying to a server (sshd), counting the connections it accepts; a subclass
    changes what becomes of an accepted connection by overriding `_handle`."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._handle(client)

    def _handle(self, client: socket.socket) -> None:
        """What becomes of an accepted connection: relayed to the target port."""
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.sock.close()
