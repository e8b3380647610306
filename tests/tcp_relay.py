"""One direction of a TCP relay in tests (the counting relays in front of sshd or moto): copy
what `src` sends to `dst` until either side ends, then shut both down."""

from __future__ import annotations

import socket


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
