"""The state directory is not trusted blindly. Another user (`nobody`, via runuser)
prepares the attack: a world-writable state directory, or one of their own, holding
`envdeck.log` as a symlink to a victim file. envdeck refuses with one clear line (exit 1),
never chmods or appends to the victim, and `doctor` says why. A new state directory is
created 0700 and the store 0600 whatever the umask; symlinked state files are refused."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import envdeck_env, repo_root

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                                reason="needs root to act as another user (runuser -u nobody)")


def envdeck(*args: str, umask: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())), timeout=120,
                          stdin=subprocess.DEVNULL,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def as_nobody(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "nobody", "--", *argv], check=True, capture_output=True, timeout=30)


@pytest.fixture
def lab():
    """A config, a victim file of root's (0644, with content), and a directory `nobody`
    may write in (where the attacker prepares the state directory). Outside pytest's
    tmp_path, which other users cannot enter."""
    tmp_path = Path(tempfile.mkdtemp(prefix="envdeck-statedir-"))
    tmp_path.chmod(0o755)
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments:\n  dev: {}\n")
    config.chmod(0o600)
    victim = tmp_path / "victim.conf"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)
    yield config, victim, shared
    shutil.rmtree(tmp_path, ignore_errors=True)


def victim_untouched(victim: Path) -> None:
    assert victim.read_text() == "precious\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644


def refused(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("envdeck: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def doctor_says(config: Path, state: Path, *fragments: str) -> None:
    proc = envdeck("doctor", "--config", str(config), "--state-dir", str(state))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("FAIL") and "state" in x]
    for fragment in fragments:
        assert fragment in line, line


@needs_root
def test_world_writable_state_dir_with_a_planted_log_symlink(lab):
    config, victim, shared = lab
    state = shared / "state"
    as_nobody("mkdir", "-m", "0777", str(state))
    as_nobody("chmod", "0777", str(state))
    as_nobody("ln", "-s", str(victim), str(state / "envdeck.log"))
    os.chown(state, 0, 0)  # even when it is root's own directory: world-writable is refused
    for command in (["audit", "--json"], ["status"]):
        refused(envdeck(*command, "--config", str(config), "--state-dir", str(state)),
                str(state), "writable by everyone", "chmod 700")
    victim_untouched(victim)
    doctor_says(config, state, "writable by everyone")
    # doctor without a config checks the state directory too (and creates nothing)
    proc = envdeck("doctor", "--config", str(config.parent / "missing.yaml"), "--state-dir", str(state))
    assert "Traceback" not in proc.stderr
    assert any(x.startswith("FAIL") and "writable by everyone" in x for x in proc.stdout.splitlines()), proc.stdout
    assert sorted(p.name for p in state.iterdir()) == ["envdeck.log"]
    victim_untouched(victim)


@needs_root
def test_a_state_dir_of_another_user_is_refused(lab):
    config, victim, shared = lab
    state = shared / "theirs"
    as_nobody("mkdir", "-m", "0700", str(state))
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)), "belongs to nobody")
    doctor_says(config, state, "belongs to nobody")
    assert list(state.iterdir()) == [], "nothing was created in their directory"


def test_a_symlinked_log_in_a_private_state_dir_is_refused(lab, tmp_path):
    config, victim, _shared = lab
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "envdeck.log").symlink_to(victim)
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)),
            "envdeck.log", "symbolic link")
    victim_untouched(victim)
    doctor_says(config, state, "envdeck.log", "symbolic link")
    victim_untouched(victim)


def test_a_symlinked_store_is_refused(lab, tmp_path):
    config, victim, _shared = lab
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "envdeck.db").symlink_to(victim)
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)), "envdeck.db", "symbolic link")
    victim_untouched(victim)


def test_a_new_state_dir_is_private_whatever_the_umask(lab, tmp_path):
    config, _victim, _shared = lab
    state = tmp_path / "fresh" / "state"
    proc = envdeck("audit", "--json", "--config", str(config), "--state-dir", str(state), umask=0)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("envdeck.db", "envdeck.log"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    proc = envdeck("doctor", "--config", str(config), "--state-dir", str(state))
    assert any(x.startswith("ok") and "not writable by others" in x for x in proc.stdout.splitlines()), proc.stdout


def test_group_writable_only_as_a_setgid_shared_directory(lab, tmp_path):
    """Group sharing (several users on one host) is allowed only deliberately: a
    group-writable directory must be setgid (`chmod 2770`); plain 0770 is refused."""
    config, _victim, _shared = lab
    state = tmp_path / "team"
    state.mkdir()
    state.chmod(0o770)
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)), "writable by its group")
    state.chmod(0o2770)
    proc = envdeck("audit", "--json", "--config", str(config), "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr
