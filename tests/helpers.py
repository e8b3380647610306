"""Plain helpers shared by the whole suite (no fixtures here: those are in tests/conftest.py
and the plugins it registers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def envdeck_env(**extra: str) -> dict[str, str]:
    """Environment for running the `envdeck` CLI in a subprocess from a test."""
    env = dict(os.environ)
    env.update(extra)
    return env


def envdeck(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (stdin is not a terminal)."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root()), **env),
                          timeout=timeout, stdin=subprocess.DEVNULL)
