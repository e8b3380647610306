"""A real moto server (threaded, loopback, random port) shared by the AWS tests and
emptied with `POST /moto-api/reset` before each test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

from backends.aws import AwsBackend
from tui.config import AwsConfig, Defaults

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


@pytest.fixture(scope="session")
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_url(moto_server) -> str:
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
    return moto_server


@pytest.fixture(scope="session")
def _arrange_clients(moto_server):
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    cache: dict[str, object] = {}

    def client(name: str):
        if name not in cache:
            cache[name] = session.client(name, endpoint_url=moto_server)
        return cache[name]

    return client


@pytest.fixture
def aws(moto_url, _arrange_clients):
    """boto3 clients against the (freshly reset) moto server, for arranging what tests observe."""
    return _arrange_clients


def aws_config(endpoint_url: str, env: str = "staging", **extra) -> AwsConfig:
    data = {"region": REGION, "endpoint_url": endpoint_url, "tags": {"env": env}}
    data.update(extra)
    return AwsConfig.model_validate(data)


@pytest.fixture
async def make_backend(moto_url):
    made: list[AwsBackend] = []

    def factory(env: str = "staging", *, endpoint_url: str | None = None, timeout: float = 10.0,
                **extra) -> AwsBackend:
        backend = AwsBackend(env, aws_config(endpoint_url or moto_url, env, **extra), Defaults(timeout=timeout))
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        await backend.close()


# moto 5.2.5 evaluates CloudWatch calls as `monitoring:<Action>` (its endpoint prefix) where
# IAM uses `cloudwatch:<Action>`: the policy denies both names so it means the same on either.
NO_METRICS_POLICY = """{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": "*", "Resource": "*"},
  {"Effect": "Deny", "Action": ["cloudwatch:GetMetricData", "monitoring:GetMetricData"], "Resource": "*"}]}"""


@pytest.fixture(scope="session")
def auth_moto():
    """A moto server (subprocess) that checks signatures and IAM policies after its first five
    requests, which create two users: `nobody` (no policy at all) and `no-metrics` (everything
    but cloudwatch:GetMetricData). Yields (url, {user: (key id, secret)})."""
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="5")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        url = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=url, region_name=REGION,
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        users = {}
        for name in ("nobody", "no-metrics"):
            iam.create_user(UserName=name)
            key = iam.create_access_key(UserName=name)["AccessKey"]
            users[name] = (key["AccessKeyId"], key["SecretAccessKey"])
        iam.put_user_policy(UserName="no-metrics", PolicyName="no-metrics", PolicyDocument=NO_METRICS_POLICY)
        yield url, users
    finally:
        proc.terminate()
        proc.wait(timeout=30)
