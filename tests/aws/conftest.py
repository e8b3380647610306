"""Fixtures of the AWS tests: the shared moto server (tests/moto_server.py, reset before each
test), AWS backends made against it, and a moto server that checks signatures and IAM policies."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from backends.aws import AwsBackend
from tests.aws.arrange import aws_config
from tests.moto_server import REGION, free_port, wait_listening
from tui.core.config import Defaults


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
