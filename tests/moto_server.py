"""A real moto server for the tests: `ThreadedMotoServer` on loopback (never 0.0.0.0),
emptied with `POST /moto-api/reset` before each test that asks for `moto_url`.

The fixtures here are a pytest plugin registered in tests/conftest.py (used by tests/aws,
tests/security, tests/reliability); the helpers serve tests that start servers of
their own (to kill and restart them)."""

from __future__ import annotations

import atexit
import json
import os
import socket
import tempfile
import time
import urllib.request
from collections.abc import Callable


def _stock_amis_only() -> None:
    """moto loads its ~40 stock AMIs plus thousands of "latest" AMIs per region whenever the EC2
    backend starts again (after every reset): about a second of CPU per test that touches EC2.
    The stock list alone (moto's own amis.json, which holds the AMI ids the tests use) is read
    when MOTO_AMIS_PATH names it; set before moto's EC2 models are imported, for this process
    and the processes it starts."""
    if "MOTO_AMIS_PATH" in os.environ:
        return
    from moto.utilities.utils import load_resource

    path = os.path.join(tempfile.gettempdir(), f"envdeck-tests-amis-{os.getuid()}-{os.getpid()}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(load_resource("ec2/resources/amis.json"), f)
    os.environ["MOTO_AMIS_PATH"] = path
    atexit.register(os.unlink, path)


_stock_amis_only()

import boto3  # noqa: E402
import pytest  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def start_threaded(port: int = 0) -> ThreadedMotoServer:
    """A moto server on 127.0.0.1:`port` (0: any free port), listening when this returns."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_listening(server.get_host_and_port()[1])
    return server


def server_url(server: ThreadedMotoServer) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def reset(url: str) -> None:
    """Empty all of the server's state."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200


def arrange_clients(url: str) -> Callable[[str], object]:
    """`client("ec2")` etc.: boto3 clients against `url` (made once per name) with dummy
    credentials, for arranging what the tests observe."""
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    cache: dict[str, object] = {}

    def client(name: str):
        if name not in cache:
            cache[name] = session.client(name, endpoint_url=url)
        return cache[name]

    return client


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
            try:
                server = start_threaded(self.port)
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


@pytest.fixture(scope="session")
def moto_server():
    """The URL of one moto server per test session (per worker)."""
    server = start_threaded()
    yield server_url(server)
    server.stop()


@pytest.fixture
def moto_url(moto_server) -> str:
    """The shared moto server, freshly reset."""
    reset(moto_server)
    return moto_server


@pytest.fixture(scope="session")
def _arrange_clients(moto_server):
    return arrange_clients(moto_server)


@pytest.fixture
def aws(moto_url, _arrange_clients):
    """boto3 clients against the (freshly reset) moto server, for arranging what tests observe."""
    return _arrange_clients


@pytest.fixture
def moto_life():
    """A moto server of the test's own on a fixed loopback port, which it may stop and restart."""
    life = MotoLife()
    life.start()
    try:
        yield life
    finally:
        life.stop()
