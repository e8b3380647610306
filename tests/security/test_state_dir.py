"""The state directory is not trusted blindly. Another user (`nobody`, via runuser)
prepares the attack: a world-writable state directory, or one of their own, holding
`envdeck.log` as a symlink to a victim file. envdeck refuses with one clear line (exit 1),
never chmods or appends to the victim, and `doctor` says why. A new state directory is
created 0700 and the store 0600 whatever the umask; symlinked state files are refused."""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import envdeck_env, envdeck_inproc, repo_root

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                                reason="needs root to act as another user (runuser -u nobody)")


def envdeck(*args: str, umask: int | None = None) -> subprocess.CompletedProcess:
    """The CLI run by `tui.cli.main` in this process (tests/helpers.py envdeck_inproc: same exit code,
    stdout and stderr, ~0.5 s of interpreter start-up less a call); in a subprocess of its own when
    the call needs another umask than this process's."""
    if umask is None:
        return envdeck_inproc(*args, timeout=120)
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
    assert stat.S_IMODE(state.parent.stat().st_mode) == 0o700, "a missing parent is made 0700 too, not 0777"
    for name in ("envdeck.db", "envdeck.log"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    proc = envdeck("doctor", "--config", str(config), "--state-dir", str(state))
    assert any(x.startswith("ok") and "not writable by others" in x for x in proc.stdout.splitlines()), proc.stdout


def test_group_writable_only_as_a_setgid_sticky_shared_directory(lab, tmp_path):
    """Group sharing (several users on one host) is allowed only deliberately: a
    group-writable directory must be setgid and sticky (`chmod 3770`); plain 0770 and
    setgid-only 2770 (a member could rename envdeck.db away) are refused."""
    config, _victim, _shared = lab
    state = tmp_path / "team"
    state.mkdir()
    for mode in (0o770, 0o2770):
        state.chmod(mode)
        refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)),
                "writable by its group", "chmod 3770")
    state.chmod(0o3770)
    proc = envdeck("audit", "--json", "--config", str(config), "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr


GROUP = "nogroup"  # nobody's group: nobody is the other member of the team


def doctor_ok(config: Path, state: Path) -> str:
    proc = envdeck("doctor", "--config", str(config), "--state-dir", str(state))
    [line] = [x for x in proc.stdout.splitlines() if x.split()[:2] == ["ok", "state"]]
    return line


@needs_root
def test_a_group_member_cannot_swap_the_store_of_a_shared_state_dir(lab):
    """In a setgid 2770 team directory a member (nobody) renamed envdeck.db away and
    envdeck silently began a new, empty store, while doctor said "not writable by
    others". Now 2770 is refused (and doctor says why); with 3770 the sticky bit stops
    the member, and doctor names the group and the sharing mode."""
    config, _victim, _shared = lab
    state = config.parent / "team"
    state.mkdir()
    os.chown(state, 0, grp.getgrnam(GROUP).gr_gid)
    state.chmod(0o3770)
    proc = envdeck("audit", "--json", "--config", str(config), "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr
    line = doctor_ok(config, state)
    assert f"shared with group {GROUP}" in line and "3770" in line and "not writable by others" not in line, line
    moved = subprocess.run(["runuser", "-u", "nobody", "--", "mv", str(state / "envdeck.db"), str(state / "gone")],
                           capture_output=True, text=True, timeout=30)
    assert moved.returncode != 0 and (state / "envdeck.db").is_file(), moved.stderr
    state.chmod(0o2770)  # without the sticky bit the member can do it: refused
    as_nobody("mv", str(state / "envdeck.db"), str(state / "gone"))
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)),
            f"writable by its group {GROUP}", "2770", "chmod 3770")
    doctor_says(config, state, f"writable by its group {GROUP}", "sticky")
    assert not (state / "envdeck.db").exists(), "no new, empty store was begun"


@needs_root
@pytest.mark.parametrize("parent_mode, parent_owner, says", [
    (0o777, "root", "writable by everyone without the sticky bit"),
    (0o775, "group", f"writable by group {GROUP} without the sticky bit"),
    (0o755, "nobody", "belongs to nobody"),
], ids=["world-writable", "group-writable", "another-users"])
def test_a_state_dir_under_a_directory_others_can_write_is_refused(lab, parent_mode, parent_owner, says):
    """Whoever can write the directory above the state directory (without the sticky
    bit), or owns it, can rename the state directory away and put a link to elsewhere
    in its place: refused like OpenSSH's StrictModes, by every command and by doctor."""
    config, _victim, _shared = lab
    parent = config.parent / "open"
    parent.mkdir()
    if parent_owner == "nobody":
        os.chown(parent, 65534, 65534)
    elif parent_owner == "group":
        os.chown(parent, 0, grp.getgrnam(GROUP).gr_gid)
    parent.chmod(parent_mode)
    state = parent / "state"
    state.mkdir(mode=0o700)
    for command in (["audit", "--json"], ["status"]):
        refused(envdeck(*command, "--config", str(config), "--state-dir", str(state)), str(parent), says)
    doctor_says(config, state, str(parent), says)
    assert list(state.iterdir()) == []
    # the attack it prevents: nobody swaps the directory for a link to one of root's own
    elsewhere = config.parent / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    as_nobody("mv", str(state), str(parent / "old"))
    as_nobody("ln", "-s", str(elsewhere), str(state))
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)), str(state))
    assert list(elsewhere.iterdir()) == []
    # and a state directory not created yet is refused before anything is made there
    fresh = parent / "fresh" / "state"
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(fresh)), says)
    doctor_says(config, fresh, says)
    assert not (parent / "fresh").exists()


@needs_root
def test_a_state_dir_path_through_another_users_symlink_is_refused(lab):
    """In a sticky shared directory (/tmp) nobody cannot rename the user's entries, but
    can plant a link where the state directory is expected, pointing to a directory of
    the user's (accepted before: the target is theirs and 0700), and repoint it later."""
    config, _victim, shared = lab
    elsewhere = config.parent / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    state = shared / "state"
    as_nobody("ln", "-s", str(elsewhere), str(state))
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)),
            str(state), "symbolic link of nobody")
    doctor_says(config, state, "symbolic link of nobody")
    assert list(elsewhere.iterdir()) == []
    mine = shared / "mine"  # the user's own link is the user's choice
    mine.symlink_to(elsewhere)
    proc = envdeck("audit", "--json", "--config", str(config), "--state-dir", str(mine))
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / "envdeck.db").is_file()


def shared_team_dir(config: Path) -> Path:
    state = config.parent / "team"
    state.mkdir()
    os.chown(state, 0, grp.getgrnam(GROUP).gr_gid)
    state.chmod(0o3770)
    return state


@needs_root
@pytest.mark.parametrize("name", ["envdeck.log", "envdeck.db"])
def test_a_hard_link_planted_in_a_shared_state_dir_is_refused(lab, name):
    """A member (nobody) hard-linked a file they may not chmod (root:nogroup 0660) as
    envdeck.log or envdeck.db in the shared 3770 directory: envdeck chmodded it 0600 and
    wrote its log lines (or a SQLite database) into it. A state file with more than one
    link is now refused, before anything is opened or chmodded."""
    config, _victim, _shared = lab
    state = shared_team_dir(config)
    target = config.parent / "team-notes"
    target.write_text("precious\n")
    os.chown(target, 0, grp.getgrnam(GROUP).gr_gid)
    target.chmod(0o660)
    as_nobody("ln", str(target), str(state / name))
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)), name, "hard links")
    doctor_says(config, state, "hard links")
    assert target.read_text() == "precious\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o660


_RACER = r"""
import os, sys, time
path, rounds = sys.argv[1], int(sys.argv[2])
written = planted = 0
for _ in range(rounds):
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError:
        time.sleep(0.001)
        continue
    planted += 1
    time.sleep(0.003)
    if os.fstat(fd).st_size:
        written += 1
    try:
        os.unlink(path)
    except OSError:
        pass
    if os.fstat(fd).st_size:
        written += 1
    os.close(fd)
print(planted, written)
"""


@needs_root
def test_a_member_racing_a_planted_shm_never_gets_the_owners_wal_index(lab):
    """A member (nobody) kept creating envdeck.db-shm (0666) in the shared directory,
    holding it 3 ms and removing it: root's SQLite sometimes wrote its WAL index into
    the member's file. envdeck now creates -wal and -shm itself (0600, O_EXCL; the
    sticky bit keeps the member from replacing them) or refuses a file that is not its
    own with one clear line."""
    import asyncio

    from tui.core.errors import StateError
    from tui.core.store import Store

    config, _victim, _shared = lab
    state = shared_team_dir(config)

    async def open_close() -> str:
        try:
            store = await Store.open(state)
        except StateError as exc:
            return str(exc)
        await store.set_setting("racer", "seen")
        await store.close()
        return ""

    asyncio.run(open_close())
    system_python = "/usr/bin/python3"  # the test's own interpreter may live where nobody cannot enter
    if not os.access(system_python, os.X_OK):
        pytest.skip("no /usr/bin/python3 for the member's racing loop")
    racer = subprocess.Popen(["runuser", "-u", "nobody", "--", system_python, "-c", _RACER,
                              str(state / "envdeck.db-shm"), "400"], stdout=subprocess.PIPE, text=True)
    refusals = []
    runs = 0
    while racer.poll() is None and runs < 60:
        runs += 1
        error = asyncio.run(open_close())
        if error:
            refusals.append(error)
        shm = state / "envdeck.db-shm"
        try:
            st = shm.lstat()
        except FileNotFoundError:
            continue
        if st.st_uid != 0:
            assert st.st_size == 0, "the member's -shm holds the owner's WAL index"
    out, _ = racer.communicate(timeout=60)
    planted, written = map(int, out.split())
    assert written == 0, f"{written} of the member's {planted} planted -shm files were written by envdeck"
    for error in refusals:
        assert "envdeck.db-shm" in error and "belongs to nobody" in error, error


def _acl_xattr(*entries: tuple[int, int, int]) -> bytes:
    """The kernel's system.posix_acl_access value (version 2, then tag/perm/id entries),
    written directly: setfacl may not be installed."""
    import struct

    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


@needs_root
def test_a_directory_above_with_an_access_acl_for_another_user_is_refused(lab):
    """A parent root:root 0755 given an ACL `u:nobody:rwx` shows mode 0775 (the group
    bits are the ACL mask); the path check read them as the rights of root's private
    group and passed, while nobody could rename the state directory away. A directory
    with an access ACL whose mask allows writing is now refused, and doctor says why."""
    config, _victim, _shared = lab
    parent = config.parent / "acl-parent"
    parent.mkdir()
    parent.chmod(0o755)
    undefined = 0xFFFFFFFF
    value = _acl_xattr((0x01, 7, undefined), (0x02, 7, 65534), (0x04, 5, undefined), (0x10, 7, undefined),
                       (0x20, 5, undefined))
    try:
        os.setxattr(parent, "system.posix_acl_access", value)
    except OSError as exc:
        pytest.skip(f"this file system takes no POSIX ACL: {exc.strerror}")
    assert stat.S_IMODE(parent.stat().st_mode) == 0o775
    state = parent / "state"
    as_nobody("mkdir", str(parent / "planted"))  # the ACL really lets nobody write there
    refused(envdeck("audit", "--config", str(config), "--state-dir", str(state)), "access ACL", str(parent))
    doctor_says(config, state, "access ACL")
    assert not state.exists()
