"""Fixtures: the project's Kubernetes API emulator, in-process on 127.0.0.1, and a
KubernetesBackend configured through a kubeconfig file that the official
client's loader reads (as kubectl would)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from backends.kubernetes.emulator import Emulator
from tui.config import Defaults, KubernetesConfig

NS = "staging"
WAIT_S = 60.0  # generous: other suites share the 2 cores


@pytest.fixture
async def emulator():
    emu = Emulator()
    await emu.start(host="127.0.0.1", port=0)
    emu.add_namespace(NS)
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def kubeconfig(emulator, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    emulator.write_kubeconfig(str(path), namespace=NS, context="emulator")
    return path


@pytest.fixture
async def make_backend(kubeconfig):
    from backends.kubernetes import KubernetesBackend

    made = []

    def make(desired=(), **defaults) -> KubernetesBackend:
        cfg = KubernetesConfig(kubeconfig=str(kubeconfig), context="emulator", namespace=NS,
                               desired=list(desired))
        backend = KubernetesBackend("staging", cfg, Defaults(**defaults))
        backend.coalesce_s = 0.05
        made.append(backend)
        return backend

    try:
        yield make
    finally:
        for backend in made:
            await backend.close()


@pytest.fixture
async def backend(make_backend):
    return make_backend()


async def eventually(check: Callable[[], Awaitable[object]], what: str, timeout: float = WAIT_S):
    """Poll an async check until it returns something truthy (or fail after `timeout`)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def by_id(obs):
    return {r.id: r for r in obs.resources}
