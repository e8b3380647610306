"""Fixtures: the project's Kubernetes API emulator, in-process on 127.0.0.1, and a
KubernetesBackend configured through a kubeconfig file that the official
client's loader reads (as kubectl would)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.sim.k8s_emulator import Emulator
from tests.kubernetes.support import NS, WatchConsumer
from tui.core.config import Defaults, KubernetesConfig


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


@pytest.fixture
async def watching():
    consumers: list[WatchConsumer] = []

    def start(backend) -> WatchConsumer:
        consumer = WatchConsumer(backend)
        consumers.append(consumer)
        return consumer

    try:
        yield start
    finally:
        for consumer in consumers:
            await consumer.close()
