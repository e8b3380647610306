"""The config file's own trust warnings (`envdeck check` and `doctor`), under the rule the edge
files follow: a config in a directory its group may write without the sticky bit (a member can
replace the file), and a config path that is a symlink another user owns (she can point it at
another config at any time) are said as such. The group is that of a second local user."""

from __future__ import annotations

import os
from pathlib import Path

from tests.other_user import needs_other_user, other_user
from tests.security.shared_dirs import write
from tests.security.test_config_files import CONFIG, reported


def _in_team_directory(tmp_path: Path, mode: int) -> Path:
    """A 0600 config of root's in a directory root:GROUP (the other user's group) of `mode`."""
    folder = tmp_path / "team"
    folder.mkdir()
    os.chown(folder, 0, other_user().pw_gid)
    folder.chmod(mode)
    return write(folder / "envdeck.yaml", CONFIG)


@needs_other_user
def test_config_in_a_group_writable_directory_without_the_sticky_bit(tmp_path):
    path = _in_team_directory(tmp_path, 0o2770)
    reported(path, f"{path.parent}: the config's directory is group-writable without the sticky bit")


@needs_other_user
def test_a_sticky_group_directory_is_not_reported(tmp_path):
    from tests.helpers import envdeck_inproc

    path = _in_team_directory(tmp_path, 0o3770)
    check = envdeck_inproc("check", "--config", str(path))
    assert check.returncode == 0 and "group-writable" not in check.stderr, check.stderr


@needs_other_user
def test_a_config_symlink_of_another_user_says_whose_it_is(tmp_path):
    target = write(tmp_path / "real.yaml", CONFIG)
    link = tmp_path / "envdeck.yaml"
    link.symlink_to(target)
    peer = other_user()
    os.lchown(link, peer.pw_uid, peer.pw_gid)
    reported(link, f"is a symlink owned by another user (uid {peer.pw_uid}), who can point it elsewhere "
                   f"(now {target})")
