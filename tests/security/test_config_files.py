"""A config that others could change is reported by `envdeck check` and `envdeck doctor`:
a symlink, a world-writable file, a file owned by another user, a world-writable
directory (without the sticky bit) holding it."""

from __future__ import annotations

import os
import pwd

import pytest

from tests.helpers import envdeck, envdeck_inproc

CONFIG = "environments:\n  dev: {description: Dev}\n"


def reported(path, fragment: str) -> None:
    """check and doctor (in the test process: their exit code and output are the point) report it."""
    check = envdeck_inproc("check", "--config", str(path))
    assert check.returncode == 0, check.stderr
    assert any(line.startswith("envdeck: warning: ") and fragment in line for line in check.stderr.splitlines()), \
        check.stderr
    doctor = envdeck_inproc("doctor", "--config", str(path), "--state-dir", str(path.parent / "state"))
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


# --- outside text in the warnings (14.9) ------------------------------------------------------------------

HOSTILE_NAME = "evil\x1b]0;PWNED-TITLE\x07\x1b[2J\u202e\x9b.yaml"


def _hostile_symlink(tmp_path):
    target = tmp_path / HOSTILE_NAME
    target.write_text(CONFIG)
    target.chmod(0o600)
    link = tmp_path / "envdeck.yaml"
    link.symlink_to(target)
    return link


def test_symlink_warning_to_a_hostile_name_is_sanitised_on_a_terminal(tmp_path):
    """The symlink warning names the target: on a real pty neither `check` (stderr) nor
    `doctor` (stdout) writes its OSC 0 / CSI 2J / bidi / C1 characters; both show them escaped."""
    from tests.terminal import envdeck_on_pty, outside_controls

    link = _hostile_symlink(tmp_path)
    for args in (("check", "--config", str(link)),
                 ("doctor", "--config", str(link), "--state-dir", str(tmp_path / "state"))):
        shown = envdeck_on_pty(*args)
        assert "is a symlink to" in shown.text, shown.text
        assert outside_controls(shown.text) == [], (args[0], shown.text)
        assert "evil␛]0;PWNED-TITLE^G␛[2J\\u202e\\u009b.yaml" in shown.text, shown.text


def test_symlink_warning_to_a_hostile_name_is_sanitised_when_piped(tmp_path):
    """Warnings and the doctor's report are for people: sanitised even when not on a terminal."""
    link = _hostile_symlink(tmp_path)
    check = envdeck_inproc("check", "--config", str(link))
    assert check.returncode == 0, check.stderr
    assert "\x1b" not in check.stderr and "\x07" not in check.stderr and "\u202e" not in check.stderr
    assert "evil␛]0;PWNED-TITLE^G␛[2J\\u202e\\u009b.yaml" in check.stderr, check.stderr
    doctor = envdeck_inproc("doctor", "--config", str(link), "--state-dir", str(tmp_path / "state"))
    assert "\x1b" not in doctor.stdout and "\x9b" not in doctor.stdout, doctor.stdout
    assert any(line.startswith("WARN") and "is a symlink to" in line for line in doctor.stdout.splitlines())


def test_config_error_naming_a_hostile_path_is_sanitised_when_piped(tmp_path):
    missing = tmp_path / "no\x1b]0;PWNED\x07.yaml"
    check = envdeck_inproc("check", "--config", str(missing))
    assert check.returncode == 2
    assert "\x1b" not in check.stderr and "no␛]0;PWNED^G.yaml: no such file" in check.stderr, check.stderr


# --- files that are not files (14.10) -------------------------------------------------------------------

def test_a_fifo_as_config_is_refused_not_waited_on(tmp_path):
    """Before: `check` opened the FIFO and waited for a writer forever (the subprocess timeout hit)."""
    fifo = tmp_path / "envdeck.yaml"
    os.mkfifo(fifo)
    for command in ("check", "doctor"):
        done = envdeck(command, "--config", str(fifo), "--state-dir", str(tmp_path / "state"), timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"{fifo}: is a FIFO (named pipe), not a regular file" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_a_device_as_config_is_refused(tmp_path):
    done = envdeck_inproc("check", "--config", "/dev/null", timeout=60)  # before: read as an empty, valid config
    assert done.returncode == 2 and "/dev/null: is a device, not a regular file" in done.stderr, done.stderr
