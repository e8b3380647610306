"""Fixtures shared by the whole suite.

Autouse isolation: no test reads the real home directory, ~/.aws, ~/.kube or
~/.ssh, and no real credentials leak into a test.

Fixtures used by more than one area are plugins registered here (`pytest_plugins`);
plain helpers are in tests/helpers.py. No conftest imports another conftest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.moto_server",  # moto_server, moto_url, aws, moto_life
    "tests.k8s_emulator_server",  # k8s_emulator
    "tests.edge.lab",  # ssh_login, edge_lab
    "tests.postgres_server",  # postgres_server, pg_database, pgpass, pg_url, any_store
    "tests.xdist_workers",  # heavy tests first in each worker's share; how a worker ends
]

_CLEARED = [
    "ENVDECK_CONFIG", "ENVDECK_STATE_DIR", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN", "KUBECONFIG", "SSH_AUTH_SOCK", "AWS_ENDPOINT_URL",
    "ENVDECK_STATE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE",
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
