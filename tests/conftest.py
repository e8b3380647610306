"""Fixtures shared by the whole suite.

Autouse isolation: no test reads the real home directory, ~/.aws, ~/.kube or
~/.ssh, and no real credentials leak into a test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_CLEARED = [
    "ENVDECK_CONFIG", "ENVDECK_STATE_DIR", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN", "KUBECONFIG", "SSH_AUTH_SOCK", "AWS_ENDPOINT_URL",
]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    # Dummy credentials: moto accepts anything; real AWS would refuse these.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    return home


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def envdeck_env(**extra: str) -> dict[str, str]:
    """Environment for running the `envdeck` CLI in a subprocess from a test."""
    env = dict(os.environ)
    env.update(extra)
    return env
