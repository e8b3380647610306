"""Fixtures of the fault suites: servers the tests can stop and restart — a moto server
on a fixed loopback port, the Kubernetes API emulator with failure injection, and
sshd nodes (the edge lab)."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest
from moto.server import ThreadedMotoServer

from tests.edge.conftest import edge_lab, ssh_login  # noqa: F401 - fixtures reused as they are
from tests.security.conftest import k8s_emulator  # noqa: F401 - fixture reused as it is


class MotoLife:
    """A moto server that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.server: ThreadedMotoServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        deadline = time.monotonic() + 60
        while True:
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            try:
                server.start()
                break
            except OSError:  # the port may linger for a moment after stop()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.server = server
        self.port = server.get_host_and_port()[1]
        self._wait_up()
        return self.url

    def _wait_up(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=10):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        deadline = time.monotonic() + 60
        while _port_open(self.port):  # wait until connections are refused
            assert time.monotonic() < deadline, "moto did not stop"
            time.sleep(0.1)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def moto_life():
    life = MotoLife()
    life.start()
    try:
        yield life
    finally:
        life.stop()
