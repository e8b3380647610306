"""The worker threads of the AWS calls (backends/aws/daemon_pool.py): a call still waiting on
an endpoint that never answers does not hold up the process's exit, and the pool keeps the
executor contract asyncio relies on (results, exceptions, a bound on threads, cancellation)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time

import pytest

from backends.aws.clients import AwsClients
from backends.aws.daemon_pool import DaemonThreadPool
from tui.core.config import AwsConfig


def test_results_exceptions_and_bounded_threads():
    pool = DaemonThreadPool(2, thread_name_prefix="t-pool")
    gate = threading.Event()
    started = threading.Semaphore(0)

    def held(i: int) -> int:
        started.release()
        gate.wait(10)
        return i * 2

    futures = [pool.submit(held, i) for i in range(5)]
    assert started.acquire(timeout=10) and started.acquire(timeout=10)
    assert not started.acquire(timeout=0.2), "a third call ran beside the two workers"
    assert len([t for t in threading.enumerate() if t.name.startswith("t-pool")]) == 2
    gate.set()
    assert [f.result(10) for f in futures] == [0, 2, 4, 6, 8]
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(10)
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        pool.submit(int)


def test_shutdown_cancels_what_has_not_started():
    pool = DaemonThreadPool(1, thread_name_prefix="t-cancel")
    gate = threading.Event()
    running = pool.submit(gate.wait, 10)
    queued = pool.submit(int)
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    gate.set()
    assert running.result(10) is True


@pytest.fixture
def silent_endpoint():
    """A TCP port that takes connections (the kernel's backlog) and never answers a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


async def test_a_call_in_flight_leaves_no_thread_that_holds_up_exit(silent_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients = AwsClients(AwsConfig(region="us-east-1", endpoint_url=silent_endpoint, tags={"env": "dev"}), timeout_s=30.0)
    call = asyncio.ensure_future(clients.call("sts", "get_caller_identity"))
    deadline = time.monotonic() + 20
    while not [t for t in threading.enumerate() if t.name.startswith("envdeck-aws")]:
        assert time.monotonic() < deadline, "the call never started"
        await asyncio.sleep(0.05)
    call.cancel()
    clients.close()
    in_flight = [t for t in threading.enumerate() if t.name.startswith("envdeck-aws") and t.is_alive()]
    assert in_flight, "the call is still waiting on the silent endpoint"
    assert all(t.daemon for t in in_flight), [t.name for t in in_flight if not t.daemon]


def test_a_process_exits_while_a_call_waits_on_a_silent_endpoint(silent_endpoint):
    """The whole process: it has stopped waiting (a pass timed out) and exits, although the
    read would last 60 s. A bound far below 60 s, not a timing goal."""
    script = f"""
import asyncio, os
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
from backends.aws.clients import AwsClients
from tui.core.config import AwsConfig
async def main():
    clients = AwsClients(AwsConfig(region="us-east-1", endpoint_url={silent_endpoint!r}, tags={{"env": "dev"}}), timeout_s=60.0)
    try:
        await asyncio.wait_for(clients.call("sts", "get_caller_identity"), 1.0)
    except TimeoutError:
        print("gave up")
    clients.close()
asyncio.run(main())
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=45)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "gave up"
