"""Fixtures of the security suites: the moto server of the AWS tests and the sshd lab
of the edge tests (real servers), and a way to run the `envdeck` CLI."""

from __future__ import annotations

import subprocess
import sys

from tests.aws.conftest import aws, moto_server, moto_url  # noqa: F401 - fixtures reused as they are
from tests.conftest import envdeck_env, repo_root
from tests.edge.conftest import edge_lab, ssh_login  # noqa: F401 - fixtures reused as they are


def envdeck(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (stdin is not a terminal)."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root()), **env),
                          timeout=timeout, stdin=subprocess.DEVNULL)
