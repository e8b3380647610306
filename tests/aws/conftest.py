"""A real moto server (threaded, loopback, random port) shared by the AWS tests and
emptied with `POST /moto-api/reset` before each test."""

from __future__ import annotations

import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

from backends.aws import AwsBackend
from tui.config import AwsConfig, Defaults

REGION = "us-east-1"


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


@pytest.fixture
def aws(moto_url):
    """boto3 clients against the moto server, for arranging what the tests observe."""
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    cache: dict[str, object] = {}

    def client(name: str):
        if name not in cache:
            cache[name] = session.client(name, endpoint_url=moto_url)
        return cache[name]

    return client


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
