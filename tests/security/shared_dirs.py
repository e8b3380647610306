"""Files and directories as a shared jump host has them, for the trust tests: a team's directory
that a second local user (tests/other_user.py) may write into, and files written with a mode."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.other_user import other_user


@dataclass(frozen=True, slots=True)
class TeamDirs:
    shared: Path  # root:GROUP (the other user's group), the mode asked for
    hers: Path    # the other user's own directory


@contextmanager
def team_dirs(prefix: str, shared_mode: int, *, hers_mode: int | None = None) -> Iterator[TeamDirs]:
    """Under a fresh directory in /tmp (0711, removed afterwards): `shared` owned by root and the
    other user's group with `shared_mode` (e.g. 0o2770, 0o3770), and `m`, the other user's
    (`hers_mode` when given). Under /tmp, not tmp_path: the other user must be able to reach it."""
    peer = other_user()
    top = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        top.chmod(0o711)
        shared = top / "shared"
        shared.mkdir()
        os.chown(shared, 0, peer.pw_gid)
        shared.chmod(shared_mode)
        hers = top / "m"
        hers.mkdir()
        os.chown(hers, peer.pw_uid, peer.pw_gid)
        if hers_mode is not None:
            hers.chmod(hers_mode)
        yield TeamDirs(shared, hers)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    """`text` in `path` (its directory made), then `mode` (whatever the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path
