"""An AWS call that reached no endpoint is not retried (backends/aws/clients.py
`final_timeouts`): `envdeck status` on an endpoint that accepts and never answers makes
ONE connection and reports the backend unreachable, instead of botocore's three attempts
of a whole timeout each (the pass then ended only at the reconciler's cap, 3 x timeout);
a refused connection is one attempt too (no backoff of up to 3 s). Throttling is still
retried. Attempts are counted on the server side; for the closed port, where there is no
server, by botocore's own `before-send` event."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backends.aws.clients import AwsClients
from tests.helpers import envdeck, envdeck_inproc
from tests.silent_listener import SilentListener, closed_port, status_json, unreachable
from tui.core.config import AwsConfig
from tui.core.errors import BackendError


@pytest.fixture(scope="module")
def silent():
    listener = SilentListener()
    yield listener
    listener.close()


def status(tmp_path, url: str, run=envdeck) -> tuple[int, dict]:
    """`envdeck status --json`; a real process by default (its exit is part of the point: no
    thread left waiting on the endpoint holds it up)."""
    return status_json(run, tmp_path, {"defaults": {"timeout": "1s"}, "environments": {"dead": {"aws": {
        "region": "us-east-1", "endpoint_url": url, "tags": {"env": "dead"}}}}},
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")


def test_status_on_a_silent_endpoint_makes_one_attempt_and_says_unreachable(silent, tmp_path):
    before = silent.accepted
    code, report = status(tmp_path, silent.url)
    assert code == 1
    aws = unreachable(report, "aws")
    assert "endpoint unreachable" in aws["error"] and "Read timeout" in aws["error"], aws["error"]
    assert silent.accepted - before == 1  # botocore's default: 3 connections, one per attempt


async def test_a_refused_connection_is_one_attempt(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    port = closed_port()
    clients = AwsClients(AwsConfig(region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                                   tags={"env": "dead"}), timeout_s=5.0)
    sent = []
    clients.client("sts").meta.events.register("before-send", lambda **kw: sent.append(kw["request"].url))
    try:
        with pytest.raises(BackendError, match="endpoint unreachable"):
            await clients.call("sts", "get_caller_identity")
        assert sent == [f"http://127.0.0.1:{port}/"]  # botocore's default: 3 attempts
    finally:
        clients.close()


def test_status_on_a_closed_port_says_unreachable(tmp_path):
    port = closed_port()
    code, report = status(tmp_path, f"http://127.0.0.1:{port}", run=envdeck_inproc)
    assert code == 1
    error = unreachable(report, "aws")["error"]
    assert "endpoint unreachable" in error
    assert f"127.0.0.1:{port}" in error


class _CountingJsonServer(BaseHTTPRequestHandler):
    """Counts the POSTs (AWS's JSON protocol) and answers each with `answer(n)`: (status, body)."""

    hits = 0
    lock = threading.Lock()

    @classmethod
    def answer(cls, n: int) -> tuple[int, bytes]:
        raise NotImplementedError

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            type(self).hits += 1
            n = type(self).hits
        status, body = self.answer(n)
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _Throttling(_CountingJsonServer):
    """Answers every request with a ThrottlingException (the JSON protocol's error shape)."""

    @classmethod
    def answer(cls, n: int) -> tuple[int, bytes]:
        return 400, b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'


class _AnswersOnceThenStalls(_CountingJsonServer):
    """The first request gets an (empty) GetResources answer; every later one gets no answer
    for 3 s: a live but loaded endpoint."""

    @classmethod
    def answer(cls, n: int) -> tuple[int, bytes]:
        if n > 1:
            threading.Event().wait(3)
        return 200, b'{"ResourceTagMappingList": []}'


@contextlib.contextmanager
def clients_of(handler: type[_CountingJsonServer], monkeypatch, timeout_s: float):
    """AwsClients of an environment whose endpoint is `handler` on a loopback port."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.handle_error = lambda *_: None  # a client that gave up on a stalled answer: a broken pipe
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clients = AwsClients(AwsConfig(region="us-east-1", endpoint_url=f"http://127.0.0.1:{server.server_port}",
                                   tags={"env": "x"}), timeout_s=timeout_s)
    try:
        yield clients
    finally:
        clients.close()
        server.shutdown()
        server.server_close()


async def test_throttling_is_still_retried(monkeypatch):
    with clients_of(_Throttling, monkeypatch, 5.0) as clients:
        with pytest.raises(BackendError, match="Throttling"):
            await clients.call("resourcegroupstaggingapi", "get_resources")
    assert _Throttling.hits == 3  # total_max_attempts: the timeouts' rule leaves throttling alone


async def test_a_read_timeout_of_an_endpoint_that_answered_is_retried(monkeypatch):
    """Once the endpoint answered a call of these clients, a read timeout is a slow answer of a
    live endpoint: botocore retries it (3 attempts seen by the server), where a silent endpoint
    gets one (above)."""
    with clients_of(_AnswersOnceThenStalls, monkeypatch, 1.0) as clients:
        assert await clients.call("resourcegroupstaggingapi", "get_resources") is not None
        with pytest.raises(BackendError, match="[Rr]ead timeout"):
            await clients.call("resourcegroupstaggingapi", "get_resources")
    assert _AnswersOnceThenStalls.hits == 1 + 3
