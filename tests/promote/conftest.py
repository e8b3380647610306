"""Two environments on the Kubernetes API emulator (one namespace each) for the promotion
tests: `staging` runs the new versions, `prod` the old ones. The emulator is shared by the
module (each test takes namespaces of its own); the CLI runs in this process (envdeck_inproc) or, for crash
trials, in a subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tests.helpers import envdeck_inproc, repo_root

DEPLOYMENTS = "deployments"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    token = "promote-k8s-bearer-" + uuid.uuid4().hex
    thread = EmulatorThread(Emulator(token=token))
    thread.start()
    kubeconfig = thread.emu.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig", context="emulator")
    try:
        yield thread, kubeconfig
    finally:
        thread.stop()


@dataclass
class Pair:
    """staging (namespace `s`) and prod (namespace `p`) of one test, with its config and state."""

    emu: Any
    kubeconfig: Path
    s: str
    p: str
    tmp: Path

    def config(self, *, prod_access: str = "", prod_desired: str = "") -> Path:
        path = self.tmp / "envdeck.yaml"
        path.write_text(f"""
environments:
  staging:
    repair: observe
    kubernetes: {{kubeconfig: "{self.kubeconfig}", context: emulator, namespace: {self.s}}}
  prod:
    repair: auto
{prod_access}
    kubernetes:
      kubeconfig: "{self.kubeconfig}"
      context: emulator
      namespace: {self.p}
{prod_desired}
""")
        return path

    def cli_env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(repo_root()), "ENVDECK_CONFIG": str(self.tmp / "envdeck.yaml"),
                "ENVDECK_STATE_DIR": str(self.tmp / "state")}

    def envdeck(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The CLI's main() in this process (tests/helpers.py envdeck_inproc: the same exit code,
        stdout and stderr as a subprocess)."""
        return envdeck_inproc(*args, timeout=timeout, ENVDECK_CONFIG=str(self.tmp / "envdeck.yaml"),
                              ENVDECK_STATE_DIR=str(self.tmp / "state"))

    def envdeck_process(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The real CLI in a subprocess: after a SIGKILL, the process that resumes is another one."""
        return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                              cwd=repo_root(), env=self.cli_env(), timeout=timeout, stdin=subprocess.DEVNULL)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "tui.cli", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=repo_root(), env=self.cli_env(),
                                stdin=subprocess.DEVNULL)

    def images(self, namespace: str) -> dict[str, str]:
        """name → image of each Deployment, read on the emulator (the server side)."""
        out = {}
        for d in self.emu.list(DEPLOYMENTS, namespace):
            containers = d["spec"]["template"]["spec"]["containers"]
            out[d["metadata"]["name"]] = containers[0]["image"]
        return out

    def requests(self, method: str, namespace: str) -> list[str]:
        """The emulator's requests of `method` on paths in `namespace`."""
        marker = f"/namespaces/{namespace}/"
        return [path for m, path in list(self.emu.request_log) if m == method and marker in path]

    def audit_rows(self) -> list[dict[str, Any]]:
        """Every audit row, read from the SQLite store itself (`envdeck audit` shows only the
        environments the user can see)."""
        with sqlite3.connect(self.tmp / "state" / "envdeck.db") as con:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT * FROM audit ORDER BY id")]

    def audit(self) -> list[dict[str, Any]]:
        out = self.envdeck("audit", "--json", "--limit", "200")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        return data["entries"] if isinstance(data, dict) else data


@pytest.fixture
def pair(emulator, tmp_path) -> Pair:
    thread, kubeconfig = emulator
    tag = uuid.uuid4().hex[:6]
    made = Pair(thread.emu, kubeconfig, f"s-{tag}", f"p-{tag}", tmp_path)
    made.config()
    return made
