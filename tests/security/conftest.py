"""Fixtures of the security suites: real servers — a moto server (threaded, loopback,
random port, reset per test), the sshd lab of the edge tests, and the project's
Kubernetes API emulator — and a way to run the `envdeck` CLI."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from backends.kubernetes.emulator import Emulator, EmulatorThread
from tests.conftest import envdeck_env, repo_root
from tests.edge.conftest import edge_lab, ssh_login  # noqa: F401 - fixtures reused as they are


def envdeck(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (stdin is not a terminal)."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root()), **env),
                          timeout=timeout, stdin=subprocess.DEVNULL)


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
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200
    return moto_server


@pytest.fixture
def aws(moto_url):
    """boto3 clients against the moto server, for arranging what the tests observe."""
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    cache: dict[str, object] = {}

    def client(name: str):
        if name not in cache:
            cache[name] = session.client(name, endpoint_url=moto_url)
        return cache[name]

    return client


@pytest.fixture
def k8s_emulator(tmp_path):
    """The Kubernetes API emulator on its own loop in a thread (so the CLI in a subprocess
    and sync code can use it), with bearer-token auth."""
    token = "planted-k8s-bearer-" + uuid.uuid4().hex
    thread = EmulatorThread(Emulator(token=token))
    thread.start()
    thread.emu.add_namespace("staging")
    kubeconfig = thread.emu.write_kubeconfig(tmp_path / "kubeconfig", namespace="staging", context="emulator")
    try:
        yield thread, kubeconfig, token
    finally:
        thread.stop()
