"""Ordinary setups the run-time file trust must accept, as OpenSSH (Debian's StrictModes) and kubectl
do, and their unsafe neighbours it must keep refusing:

- umask 002 (Ubuntu, Fedora: user private groups): a home, ~/.kube, ~/.ssh or a checkout 0775 and
  files 0664, all `you:you` where your group has no other member: its write bit lets no one else in;
  the same modes with a group that has other members stay refused (a directory's fix names the
  sticky bit too);
- a team's read-only deploy key owned by root (`root:team 0640` in a `root:team 2750` directory):
  OpenSSH refuses a key readable by group/others only when the running user owns it (sshkey_perm_ok),
  so a member uses it; a key another user owns and could replace stays refused.

Tests run as root: root's private group is `root` (gid 0, no other member), the group of others is
the second test user's (tests/other_user.py). The team member is that user, taken on with
seteuid/setegid for the few stats of the answer."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import envdeck_inproc
from tests.other_user import needs_other_user, other_user
from tests.security.shared_dirs import team_dirs, write
from tui.core.config_files import refused_phrases, untrusted, who_can_create
from tui.core.kubeconfig_files import named_files
from tui.core.paths import private_group

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners and groups of the files need root")


def _root_alone_in_its_group() -> bool:
    return private_group(0, 0)


def _umask_002_layout(top: Path) -> dict[str, Path]:
    """~/.kube, ~/.ssh and a checkout as umask 002 makes them: directories 0775, files 0664, the
    key 0600, all root:root (root's private group)."""
    home = top / "home"
    for folder in (home, home / ".kube", home / ".ssh", home / "checkout"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o775)
    files = {
        "kubeconfig": write(home / ".kube" / "config", "apiVersion: v1\nkind: Config\n", 0o664),
        "ssh_config": write(home / ".ssh" / "config", f"Include {home / '.ssh' / 'conf.d' / '*'}\n", 0o664),
        "known_hosts": write(home / ".ssh" / "known_hosts", "", 0o664),
        "identity_file": write(home / ".ssh" / "id_ed25519", KEY, 0o600),
        "manifest": write(home / "checkout" / "web.yaml", "kind: ConfigMap\n", 0o664),
    }
    (home / ".ssh" / "conf.d").mkdir(mode=0o775)
    write(home / ".ssh" / "conf.d" / "work", "Host work\n", 0o664)
    return files


def test_a_umask_002_home_of_your_private_group_is_trusted(tmp_path):
    assert _root_alone_in_its_group(), "root's group has another member here: the scenario does not hold"
    files = _umask_002_layout(tmp_path)
    home = tmp_path / "home"
    for kind, path in files.items():
        assert refused_phrases(str(path), kind) == (), (kind, path)
        assert untrusted(path, private=kind == "identity_file") == [], (kind, path)
    assert who_can_create(home / ".kube", "it") == []  # a kubeconfig not written yet
    cfg = write(tmp_path / "envdeck.yaml", json.dumps({"environments": {
        "kx": {"kubernetes": {"kubeconfig": str(files["kubeconfig"]), "namespace": "staging"}},
        "later": {"kubernetes": {"kubeconfig": str(home / ".kube" / "kind.yaml"), "namespace": "staging"}},
        "e": {"edge": {"known_hosts": str(files["known_hosts"]), "ssh_config": str(files["ssh_config"]),
                       "nodes": [{"name": "n1", "host": "127.0.0.1", "port": 22, "user": "root",
                                  "identity_file": str(files["identity_file"]), "services": ["web"]}]}}}},
        indent=2))
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 0, check.stderr
    assert "writable" not in check.stderr and "others can" not in check.stderr, check.stderr
    assert "kind.yaml does not exist yet" in check.stderr, check.stderr


@needs_other_user
def test_the_same_modes_with_a_group_of_others_stay_refused(tmp_path):
    peer = other_user()
    files = _umask_002_layout(tmp_path)
    kube = tmp_path / "home" / ".kube"
    os.chown(kube, 0, peer.pw_gid)
    os.chown(files["kubeconfig"], 0, peer.pw_gid)
    assert refused_phrases(str(files["kubeconfig"]), "kubeconfig") == (
        f"{files['kubeconfig']}: is group-writable; others can change it: chmod go-w {files['kubeconfig']}",
        f"{kube}: a directory on its path is group-writable without the sticky bit; others can replace the file: "
        f"chmod go-w {kube} (or, for a shared directory, chmod +t {kube})")
    [created] = who_can_create(kube, "it")
    assert created.startswith(f"{kube}: it would appear in a group-writable directory"), created
    os.chown(files["known_hosts"], 0, peer.pw_gid)
    [phrase] = refused_phrases(str(files["known_hosts"]), "known_hosts")
    assert phrase.startswith(f"{files['known_hosts']}: is group-writable"), phrase


@contextmanager
def _as(uid: int, gid: int) -> Iterator[None]:
    """This process's effective user and group for a moment (a member of the team)."""
    os.setegid(gid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def _kubeconfig_naming(key: Path) -> str:
    return (f"apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\n"
            f"clusters:\n- name: k\n  cluster: {{server: 'https://127.0.0.1:1'}}\n"
            f"users:\n- name: u\n  user: {{client-certificate-data: eA==, client-key: {key}}}\n")


@needs_other_user
def test_a_teams_deploy_key_owned_by_root_is_used_by_a_member_and_refused_for_its_owner(tmp_path):
    peer = other_user()
    with team_dirs("envdeck-deploy-", 0o2750) as dirs:
        key = write(dirs.shared / "deploy_key", KEY, 0o640)
        os.chown(key, 0, peer.pw_gid)
        kubeconfig = write(dirs.shared / "kubeconfig", _kubeconfig_naming(key), 0o640)
        os.chown(kubeconfig, 0, peer.pw_gid)
        with _as(peer.pw_uid, peer.pw_gid):  # a member: ssh and kubectl use it
            member = (refused_phrases(str(key), "identity_file"), refused_phrases(str(key), "aws_identity_file"),
                      untrusted(key, private=True), refused_phrases(str(kubeconfig), "kubeconfig"))
            read = [named.path for named in named_files(str(kubeconfig))]
        assert read == [key], read  # the member read the kubeconfig: its client key was looked at
        assert member == ((), (), [], ()), member
        # its owner: ssh refuses a key of yours others can read
        [phrase] = refused_phrases(str(key), "identity_file")
        assert phrase == (f"{key}: a private key readable by others (mode 0640); ssh refuses such a key "
                          f"(UNPROTECTED PRIVATE KEY FILE): chmod 600 {key}"), phrase
        # a key the other user owns (she could replace it), or one her group can write: refused for you
        mine = write(dirs.hers.parent / "keys" / "id", KEY, 0o644)
        os.chown(mine, peer.pw_uid, peer.pw_gid)
        [phrase] = refused_phrases(str(mine), "identity_file")
        assert phrase.startswith(f"{mine}: is owned by another user (uid {peer.pw_uid})"), phrase
        key.chmod(0o660)
        with _as(peer.pw_uid, peer.pw_gid):
            refused = refused_phrases(str(key), "identity_file")
        assert refused == (f"{key}: is group-writable; others can change it: chmod go-w {key}",), refused


def test_envdecks_own_config_file_follows_the_same_rule(tmp_path):
    from tui.core.config import file_warnings

    cfg = write(tmp_path / "envdeck.yaml", "environments: {}\n", 0o664)
    assert file_warnings(cfg) == []
    os.chown(cfg, 0, 65534)  # a group of others
    assert file_warnings(cfg) == [f"{cfg}: is group-writable"]


def _plugin_kubeconfig(folder: Path, command: str, search: str) -> Path:
    return write(folder / "kube" / "config", (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
        "clusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        f"users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
        f"      command: {command}\n      env: [{{name: PATH, value: '{search}'}}]\n"))


def test_a_plugin_path_finds_nowhere_is_not_a_path_refusal_and_one_found_names_where(tmp_path):
    """A bare plugin name not found on the plugin's PATH simply fails (check says so, a warning);
    once installed after a directory others can write, the refusal says where it is found, once,
    with the fixes."""
    anyone, mine = tmp_path / "open", tmp_path / "bin"
    anyone.mkdir(mode=0o777)
    anyone.chmod(0o777)
    mine.mkdir(mode=0o755)
    kubeconfig = _plugin_kubeconfig(tmp_path, "get-token", f"{anyone}:{mine}")
    assert refused_phrases(str(kubeconfig), "kubeconfig") == ()
    cfg = write(tmp_path / "envdeck.yaml", json.dumps({"environments": {
        "kx": {"kubernetes": {"kubeconfig": str(kubeconfig), "namespace": "staging"}}}}, indent=2))
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 0, check.stderr
    assert "names the exec credential plugin get-token: not found on $PATH" in check.stderr, check.stderr
    plugin = write(mine / "get-token", "#!/bin/sh\n", 0o755)  # installed: the kept answer is made again
    [phrase] = refused_phrases(str(kubeconfig), "kubeconfig")
    assert (f"names the exec credential plugin get-token, which $PATH finds at {plugin}, but it searches {anyone} "
            f"first: {anyone}: a program named get-token would appear in a world-writable directory") in phrase, phrase
    assert f"(command: {plugin})" in phrase and phrase.count("$PATH") == 2, phrase


@needs_other_user
def test_a_kubeconfig_you_cannot_read_says_the_fix(tmp_path):
    from tui.core.config_files import unreadable_kubeconfigs

    peer = other_user()
    with team_dirs("envdeck-unreadable-", 0o2750) as dirs:
        kubeconfig = write(dirs.shared / "config", "apiVersion: v1\nkind: Config\n", 0o600)  # root's, as sudo kind made it
        with _as(peer.pw_uid, peer.pw_gid):
            said = unreadable_kubeconfigs(f"{tmp_path / 'missing'}:{kubeconfig}")
        assert said == [f"{kubeconfig}: cannot be read (permission denied): sudo chown \"$USER\" {kubeconfig}"], said


def test_a_missing_kubeconfig_entry_where_others_can_create_it_is_refused_by_check(tmp_path):
    """$KUBECONFIG lists a file not there yet in a directory anyone can write (/tmp-like): check
    refuses it as a named missing kubeconfig there; a missing entry in a directory of yours is fine."""
    anyone = tmp_path / "open"
    anyone.mkdir()
    anyone.chmod(0o1777)
    kubeconfig = write(tmp_path / "kube" / "config", "apiVersion: v1\nkind: Config\n")
    cfg = write(tmp_path / "envdeck.yaml", json.dumps({"environments": {
        "kx": {"kubernetes": {"namespace": "staging"}}}}, indent=2))
    safe = envdeck_inproc("check", "--config", str(cfg), KUBECONFIG=f"{tmp_path / 'later'}:{kubeconfig}")
    assert safe.returncode == 0 and safe.stderr == "", safe.stderr
    check = envdeck_inproc("check", "--config", str(cfg), KUBECONFIG=f"{anyone / 'config'}:{kubeconfig}")
    assert check.returncode == 2, check.stderr
    [line] = check.stderr.splitlines()
    assert "environments.kx.kubernetes: kubeconfig ($KUBECONFIG)" in line, line
    assert f"{anyone / 'config'} does not exist yet: {anyone}: it would appear in a world-writable directory" \
        in line and "refused" in line, line
