"""Fixtures of the security suites: real servers — a moto server (threaded, loopback,
random port, reset per test), the sshd lab of the edge tests, and the project's
Kubernetes API emulator — and a way to run the `envdeck` CLI."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tests.conftest import envdeck_env, repo_root
from tests.edge.conftest import edge_lab, ssh_login  # noqa: F401 - fixtures reused as they are
from tests.moto_server import _arrange_clients, aws, moto_server, moto_url  # noqa: F401 - shared moto fixtures


def envdeck(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (stdin is not a terminal)."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root()), **env),
                          timeout=timeout, stdin=subprocess.DEVNULL)


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
