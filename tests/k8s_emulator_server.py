"""The Kubernetes API emulator as a fixture, a pytest plugin (registered in tests/conftest.py,
used by the security, reliability and core tests): the project's emulator on its own loop
in a thread, so that the CLI in a subprocess and sync code can use it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from backends.sim.k8s_emulator import Emulator, EmulatorThread


@contextmanager
def running_emulator(token: str, namespace: str | None = None) -> Iterator[EmulatorThread]:
    """The emulator on its own loop in a thread, with bearer-token auth (and `namespace` made),
    stopped on the way out: the body of a test module's own emulator fixture."""
    thread = EmulatorThread(Emulator(token=token))
    thread.start()
    try:
        if namespace is not None:
            thread.emu.add_namespace(namespace)
        yield thread
    finally:
        thread.stop()


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
