"""A directory envdeck writes private files into (the Logs view's `logs/` in the state
directory) must be the user's own real directory, even when the state directory around it is a
team's shared one (setgid and sticky, `chmod 3770`), where any member may create entries:

- never through a symbolic link (a member's `logs -> /her/dir` would receive the user's logs):
  the directory is created and opened relative to its parent's file descriptor with O_NOFOLLOW,
  and the file written relative to the directory's descriptor (openat), so nothing is resolved
  by name twice;
- owned by the user (euid) and not writable by group or others (a member's own `logs/`, or one
  that is group-writable, is refused).

`OwnDirError` (an OSError) says why, naming the path; `doctor` uses `own_dir_problem`."""

from __future__ import annotations

import errno
import os
import pwd
import stat
from pathlib import Path


class OwnDirError(OSError):
    """The directory cannot be trusted; the text says why and what to do."""


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _problem(path: Path, st: os.stat_result, target: str | None = None) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return (f"{path} is a symbolic link of {_user(st.st_uid)} (to {target}); envdeck writes your logs only "
                "in a directory of yours: remove the link, or choose another path")
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory; remove it, or choose another path"
    if st.st_uid != os.geteuid():
        return (f"{path} belongs to {_user(st.st_uid)}, not to you ({_user(os.geteuid())}); envdeck writes your "
                "logs only in a directory of yours: remove it, or choose another path")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        return (f"{path} is writable by {'everyone' if mode & 0o002 else 'its group'} (mode {mode:04o}); "
                f"others could replace what envdeck writes there: chmod 700 it")
    return None


def own_dir_problem(path: Path) -> str | None:
    """Why `path` (when it exists) is not the user's own real directory; None if it is or is absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return _problem(path, st, target)


def open_own_dir(path: Path) -> int:
    """A descriptor of directory `path`, created 0700 when absent, which is the user's own real
    directory (never followed through a link; the last component's parent is opened as given:
    the state directory, checked when the session opened). OwnDirError says why not."""
    path = Path(path)
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.mkdir(path.name, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
        try:
            fd = os.open(path.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                st = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
                target = os.readlink(path.name, dir_fd=parent) if stat.S_ISLNK(st.st_mode) else None
                raise OwnDirError(_problem(path, st, target) or f"{path}: {exc.strerror}") from None
            raise
    finally:
        os.close(parent)
    problem = _problem(path, os.fstat(fd))  # the very directory opened: no second lookup by name
    if problem:
        os.close(fd)
        raise OwnDirError(problem)
    return fd
