"""A config that others could change is reported by `envdeck check` and `envdeck doctor`:
a symlink, a world-writable file, a file owned by another user, a world-writable
directory (without the sticky bit) holding it."""

from __future__ import annotations

import os
import pwd

import pytest

from tests.security.conftest import envdeck

CONFIG = "environments:\n  dev: {description: Dev}\n"


def reported(path, fragment: str) -> None:
    check = envdeck("check", "--config", str(path))
    assert check.returncode == 0, check.stderr
    assert any(line.startswith("envdeck: warning: ") and fragment in line for line in check.stderr.splitlines()), \
        check.stderr
    doctor = envdeck("doctor", "--config", str(path), "--state-dir", str(path.parent / "state"))
    assert "Traceback" not in doctor.stderr
    assert doctor.returncode == 1, "doctor counts it as a problem"
    assert any(line.startswith("WARN") and fragment in line for line in doctor.stdout.splitlines()), doctor.stdout


def test_a_safe_config_is_not_reported(tmp_path):
    path = tmp_path / "envdeck.yaml"
    path.write_text(CONFIG)
    path.chmod(0o600)
    check = envdeck("check", "--config", str(path))
    assert check.returncode == 0 and check.stderr == ""
    doctor = envdeck("doctor", "--config", str(path), "--state-dir", str(tmp_path / "state"))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "WARN" not in doctor.stdout


def test_symlinked_config(tmp_path):
    target = tmp_path / "real.yaml"
    target.write_text(CONFIG)
    target.chmod(0o600)
    link = tmp_path / "envdeck.yaml"
    link.symlink_to(target)
    reported(link, f"is a symlink to {target}")


def test_world_writable_config(tmp_path):
    path = tmp_path / "envdeck.yaml"
    path.write_text(CONFIG)
    path.chmod(0o666)
    reported(path, "is world-writable")


def test_config_in_a_world_writable_directory(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    path = folder / "envdeck.yaml"
    path.write_text(CONFIG)
    path.chmod(0o600)
    reported(path, "directory is world-writable")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_config_owned_by_another_user(tmp_path):
    path = tmp_path / "envdeck.yaml"
    path.write_text(CONFIG)
    path.chmod(0o644)
    nobody = pwd.getpwnam("nobody")
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    reported(path, "owned by another user")
