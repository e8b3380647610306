"""What the emulator's conformance tests share besides fixtures: the kubectl to use, the
namespace, the `Cluster` record, a polling helper and kubectl's minor version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

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


def client_minor() -> int:
    """kubectl's minor version (kubectl before 1.27 validates manifests with OpenAPI v2, which
    the emulator does not serve: those need `--validate=false`)."""
    out = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return int("".join(ch for ch in json.loads(out)["clientVersion"]["minor"] if ch.isdigit()))
