"""Fixtures for the emulator's conformance tests.

The emulator runs in-process: `emu_server` on the test's own event loop (for
aiohttp clients), `cluster` on its own loop in a thread (`EmulatorThread`) for
the blocking `kubernetes` client and for kubectl in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config

from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tests.kubernetes_emulator.support import KUBECTL, NAMESPACE, Cluster, client_minor


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
    run.minor = client_minor()  # type: ignore[attr-defined]
    return run
