"""Fixtures for the emulator's conformance tests.

The emulator runs in-process: `emu_server` on the test's own event loop (for
aiohttp clients), `cluster` on its own loop in a thread (`EmulatorThread`) for
the blocking `kubernetes` client and for kubectl in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from backends.sim.k8s_emulator import Emulator, EmulatorThread

# ENVDECK_KUBECTL: run the conformance tests with another kubectl (e.g. Debian's 1.20 kubernetes-client)
KUBECTL = os.environ.get("ENVDECK_KUBECTL") or shutil.which("kubectl")
NAMESPACE = "staging"


@dataclass
class Cluster:
    emu: Emulator
    thread: EmulatorThread
    url: str
    kubeconfig: Path
    api_client: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api_client)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    emu = Emulator(seed=7)
    emu.add_namespace(NAMESPACE)
    thread = EmulatorThread(emu)
    url = thread.start()
    kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield Cluster(emu, thread, url, kubeconfig, api_client)
    finally:
        api_client.close()
        thread.stop()


@pytest.fixture
async def emu_server() -> Any:
    emu = Emulator(seed=3)
    emu.add_namespace(NAMESPACE)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(interval)


@pytest.fixture
def kubectl(cluster: Cluster, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (Debian package: kubernetes-client)")
    home = tmp_path / "kubectl-home"
    home.mkdir()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "HOME": str(home)}

    def run(*args: str, check: bool = True, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    run.env = env  # type: ignore[attr-defined]
    run.minor = _client_minor()  # type: ignore[attr-defined]
    return run


def _client_minor() -> int:
    """kubectl's minor version (kubectl before 1.27 validates manifests with OpenAPI v2, which
    the emulator does not serve: those need `--validate=false`)."""
    out = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return int("".join(ch for ch in json.loads(out)["clientVersion"]["minor"] if ch.isdigit()))
