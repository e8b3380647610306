"""Ways another local user got a command run as you past envdeck's file checks, each closed:
an ssh_config Include expanded as asyncssh expands it (`pathlib.Path.glob`: `**` at any depth,
`*` matching dotfiles; a quoted `"Include"` keyword), ... The other user is `nobody`: files
given to it by root (these tests run as root)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

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


def test_an_include_double_star_reaching_a_directory_of_another_user_is_refused(tmp_path):
    nested = tmp_path / "inc" / "team" / "shared"
    nested.mkdir(parents=True)
    (tmp_path / "inc" / "own.conf").write_text("")
    config = _ssh_config(tmp_path, f"Include {tmp_path}/inc/**/*.conf\n")
    assert refused_phrases(config, "ssh_config") == ()  # the control: all ours
    _theirs(nested)  # empty yet: she can add a match any time
    empty = refused_phrases(config, "ssh_config")
    assert any(str(nested) in phrase for phrase in empty), empty
    evil = nested / "evil.conf"
    evil.write_text(PROXY)
    _theirs(evil)
    found = refused_phrases(config, "ssh_config")
    assert any(str(evil) in phrase for phrase in found), found


def test_an_include_star_matching_a_dotfile_of_another_user_is_refused(tmp_path):
    folder = tmp_path / "conf.d"
    folder.mkdir(mode=0o755)
    config = _ssh_config(tmp_path, f"Include {folder}/*\n")
    assert refused_phrases(config, "ssh_config") == ()
    dotfile = folder / ".evil.conf"
    dotfile.write_text(PROXY)
    _theirs(dotfile)
    found = refused_phrases(config, "ssh_config")
    assert any(str(dotfile) in phrase for phrase in found), found


def test_a_quoted_include_keyword_is_followed(tmp_path):
    evil = tmp_path / "evil.conf"
    evil.write_text(PROXY)
    _theirs(evil)
    for line in (f'"Include" {evil}', f"'include'={evil}", f"Include = {evil}"):
        found = refused_phrases(_ssh_config(tmp_path, f"Host x\n  {line}\n"), "ssh_config")
        assert any(str(evil) in phrase for phrase in found), (line, found)
