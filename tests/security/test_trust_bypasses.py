"""Ways another local user got a command run as you past envdeck's file checks, each closed:
an ssh_config Include expanded as asyncssh expands it (`pathlib.Path.glob`: `**` at any depth,
`*` matching dotfiles; a quoted `"Include"` keyword), gcp's `cmd-path` named without a `/`, a relative path
through a symlink (`team/../plugin`: the kernel resolves `..` from the link's target). The other user is `nobody`: files
given to it by root (these tests run as root)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
import yaml

from tui.core.config_files import refused_phrases

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another uid needs root")
NOBODY = pwd.getpwnam("nobody")
PROXY = "Host *\n  ProxyCommand touch /tmp/pwned\n"


def _theirs(path: Path) -> Path:
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    return path


def _ssh_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def _proxy(path: Path) -> Path:
    """An ssh_config snippet that runs a command on every connection, written at `path`."""
    path.write_text(PROXY)
    return path


def _named_once_theirs(config: str, path: Path) -> None:
    """Once `path`, which an Include of `config` reaches, is another user's, `config` is refused
    naming it."""
    _theirs(path)
    found = refused_phrases(config, "ssh_config")
    assert any(str(path) in phrase for phrase in found), found


def test_an_include_double_star_reaching_a_directory_of_another_user_is_refused(tmp_path):
    nested = tmp_path / "inc" / "team" / "shared"
    nested.mkdir(parents=True)
    (tmp_path / "inc" / "own.conf").write_text("")
    config = _ssh_config(tmp_path, f"Include {tmp_path}/inc/**/*.conf\n")
    assert refused_phrases(config, "ssh_config") == ()  # the control: all ours
    _named_once_theirs(config, nested)  # empty yet: she can add a match any time
    _named_once_theirs(config, _proxy(nested / "evil.conf"))


def test_an_include_star_matching_a_dotfile_of_another_user_is_refused(tmp_path):
    folder = tmp_path / "conf.d"
    folder.mkdir(mode=0o755)
    config = _ssh_config(tmp_path, f"Include {folder}/*\n")
    assert refused_phrases(config, "ssh_config") == ()  # the control: all ours
    _named_once_theirs(config, _proxy(folder / ".evil.conf"))


def test_a_quoted_include_keyword_is_followed(tmp_path):
    evil = _theirs(_proxy(tmp_path / "evil.conf"))
    for line in (f'"Include" {evil}', f"'include'={evil}", f"Include = {evil}"):
        found = refused_phrases(_ssh_config(tmp_path, f"Host x\n  {line}\n"), "ssh_config")
        assert any(str(evil) in phrase for phrase in found), (line, found)


def _kubeconfig(path: Path, user: dict) -> str:
    path.write_text(yaml.safe_dump({
        "current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": user}]}))
    path.chmod(0o600)
    return str(path)


def _program(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_gcp_cmd_path_named_without_a_slash_is_checked_where_path_finds_it(tmp_path, monkeypatch):
    hers, ours = tmp_path / "hers", _program(tmp_path / "ours" / "gcloud-x").parent
    hers.mkdir()
    monkeypatch.setenv("PATH", f"{hers}{os.pathsep}{ours}")
    for command in ("gcloud-x config config-helper --format=json", "gcloud-x\tconfig"):
        config = _kubeconfig(tmp_path / "config", {"auth-provider": {"name": "gcp", "config": {"cmd-path": command}}})
        assert refused_phrases(config, "kubeconfig") == (), command  # the control: every PATH dir ours
        _theirs(hers)  # searched first: she can put a gcloud-x there
        found = refused_phrases(config, "kubeconfig")
        assert any(str(hers) in phrase and "cmd-path" in phrase for phrase in found), (command, found)
        os.chown(hers, 0, 0)
    _theirs(ours / "gcloud-x")  # the program found, hers
    found = refused_phrases(config, "kubeconfig")
    assert any(str(ours / "gcloud-x") in phrase for phrase in found), found


def test_a_relative_path_through_a_symlink_is_checked_where_the_kernel_opens_it(tmp_path):
    k2, real = tmp_path / "k2", tmp_path / "m" / "dir"
    (real / "sub").mkdir(parents=True)
    _program(k2 / "plugin")  # benign, beside the kubeconfig: what normpath would check
    _program(real / "plugin")  # what runs: `team/..` is the parent of the link's target
    (real / "k.pem").write_text("key")
    (real / "k.pem").chmod(0o600)
    (k2 / "team").symlink_to(real / "sub")
    config = _kubeconfig(k2 / "config", {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": "team/../plugin"}, "client-key": "team/../k.pem"})
    assert refused_phrases(config, "kubeconfig") == ()  # the control: all of it root's
    _theirs(real)
    found = refused_phrases(config, "kubeconfig")
    for field in ("exec.command", "client-key"):  # her directory holds what the kernel opens
        assert any(field in phrase and f" {real}: a directory" in phrase for phrase in found), (field, found)


def test_a_second_group_entry_with_the_same_gid_makes_a_private_group_shared():
    import grp
    import subprocess

    from tui.core.paths import private_group
    name, alias = f"edsec{os.getpid()}", f"edsec{os.getpid()}t"
    subprocess.run(["useradd", "-U", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        user = pwd.getpwnam(name)
        assert private_group(user.pw_gid, user.pw_uid)  # the control: its own group, alone
        subprocess.run(["groupadd", "-o", "-g", str(user.pw_gid), alias], check=True)
        subprocess.run(["gpasswd", "-a", "nobody", alias], check=True, capture_output=True)
        assert grp.getgrgid(user.pw_gid).gr_name == name  # the first entry still says "alone"
        assert not private_group(user.pw_gid, user.pw_uid)  # nobody is in it through the alias
    finally:
        subprocess.run(["userdel", name], capture_output=True)  # first: its primary gid is the alias's too
        subprocess.run(["groupdel", alias], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


def test_a_long_label_key_is_cut_even_when_every_value_is_short():
    from backends.kubernetes.convert import deployment
    from tui.core.redaction import NAME_MAX
    long_key = "k" * 300
    obj = {"metadata": {"name": "d", "namespace": "n", "labels": {long_key: "v", "app": "web"}},
           "spec": {"replicas": 1}, "status": {}}
    labels = deployment(obj).resource.attributes["labels"]
    assert all(len(key) <= NAME_MAX for key in labels), [len(key) for key in labels]
    assert labels["app"] == "web" and labels[long_key[:NAME_MAX]] == "v"
