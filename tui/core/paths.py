"""Where envdeck finds its config and keeps its state (XDG base directories)."""

from __future__ import annotations

import errno
import grp
import os
import pwd
import shlex
import stat
from pathlib import Path


def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "envdeck"


def state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "envdeck"


def config_path(cli_value: str | None = None) -> Path:
    """`--config PATH`, else `$ENVDECK_CONFIG`, else `$XDG_CONFIG_HOME/envdeck/envdeck.yaml`."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("ENVDECK_CONFIG")
    if env:
        return Path(env).expanduser()
    return config_home() / "envdeck.yaml"


def state_dir(cli_value: str | None = None) -> Path:
    """`--state-dir`, else `$ENVDECK_STATE_DIR`, else `$XDG_STATE_HOME/envdeck/`."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("ENVDECK_STATE_DIR")
    if env:
        return Path(env).expanduser()
    return state_home()


def themes_dir() -> Path:
    return config_home() / "themes"


# --- the state directory is trusted only when it is the user's ------------------------

STATE_FILE_PREFIXES = ("envdeck.db", "envdeck.log")


def ensure_state_dir(path: Path | str) -> Path:
    """Create the state directory (0700) or check an existing one; the StateError says why
    it cannot be used. Refused: a directory owned by another user, or writable by others
    (anyone could plant a symlink `envdeck.log -> /etc/shadow` or swap the store). A
    group-writable directory is accepted only as the deliberate shared layout of a team
    directory, setgid *and* sticky (`chmod 3770`): without the sticky bit any member could
    rename `envdeck.db` away and envdeck would start a new, empty store. The path to it
    must be safe too (like OpenSSH's StrictModes): no symbolic link on the way owned by
    another user, and no directory above it that another user owns or that others may
    write without the sticky bit (they could rename the state directory away and put a
    link to elsewhere in its place). Then every file envdeck keeps there (envdeck.db*,
    envdeck.log*) must be a regular file of the user, never a symlink."""
    from tui.core.errors import StateError

    state = Path(path).expanduser()
    check_state_path(state)  # before anything is created on an unsafe path
    if state.exists() and not state.is_dir():
        raise StateError(f"{state}: the state directory is a file, not a directory (use --state-dir)")
    try:  # the missing directories above it too are 0700 (XDG), never 0777 & ~umask
        for directory in [*reversed(state.parents), state]:
            if not directory.exists():
                directory.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StateError(f"{state}: cannot create the state directory: {exc.strerror or exc}") from None
    check_state_dir(state)
    return state


def check_state_dir(state: Path) -> None:
    """The checks of `ensure_state_dir` on an existing directory, creating nothing
    (`doctor` without a config uses them as they are)."""
    from tui.core.errors import StateError

    check_state_path(state)
    st = state.stat()
    uid = os.geteuid()
    if st.st_uid != uid:
        raise StateError(f"{state}: the state directory belongs to {_user(st.st_uid)}, not to you "
                         f"({_user(uid)}); envdeck keeps its audit trail only in a directory of yours "
                         "(use --state-dir)")
    mode = stat.S_IMODE(st.st_mode)
    quoted = shlex.quote(str(state))
    if mode & 0o002:
        raise StateError(f"{state}: the state directory is writable by everyone (mode {mode:04o}); "
                         f"run `chmod 700 {quoted}` or use --state-dir")
    if mode & 0o020 and not (mode & stat.S_ISGID and mode & stat.S_ISVTX):
        group = _group(st.st_gid)
        raise StateError(f"{state}: the state directory is writable by its group {group} (mode {mode:04o}) "
                         "without the setgid and sticky bits: a member could rename envdeck.db away; "
                         f"run `chmod 700 {quoted}`, or `chmod 3770 {quoted}` to share it with {group}")
    if not os.access(state, os.W_OK | os.X_OK):
        raise StateError(f"{state}: the state directory is not writable (use --state-dir)")
    for entry in os.scandir(state):
        if entry.name.startswith(STATE_FILE_PREFIXES):
            check_state_file(Path(entry.path))


def describe_state_dir(state: Path) -> str:
    """Who may write a state directory that passed `check_state_dir`, for `doctor`."""
    st = state.stat()
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o020:
        return (f"yours, shared with group {_group(st.st_gid)} (mode {mode:04o}: its members may write here, "
                "setgid and sticky, so they cannot rename or remove your files)")
    return f"yours, not writable by others (mode {mode:04o})"


def check_state_path(state: Path) -> None:
    """The way to the state directory cannot be bent by another user (OpenSSH's
    StrictModes): every symbolic link on it belongs to the user or root, and every
    directory above it (as written and as resolved) belongs to the user or root and is
    not writable by others unless sticky (`/tmp` is fine; the write bit of the user's
    private group lets no one else in, unless a POSIX ACL makes the group bits its
    mask). Parts that do not exist yet
    are not checked; `ensure_state_dir` checks again once it has created them."""
    from tui.core.errors import StateError

    uid = os.geteuid()
    trusted = (0, uid)
    path = Path(os.path.abspath(state))
    above: list[Path] = []
    walked = Path(path.anchor)
    for part in path.parts[1:]:
        above.append(walked)
        walked = walked / part
        try:
            st = os.lstat(walked)
        except OSError:
            break
        if stat.S_ISLNK(st.st_mode) and st.st_uid not in trusted:
            raise StateError(f"{state}: {walked} is a symbolic link of {_user(st.st_uid)}, who could point it "
                             "elsewhere; envdeck keeps its state only on a path of yours (use --state-dir)")
    above.extend(Path(os.path.realpath(path)).parents)
    seen: set[Path] = set()
    for directory in above:
        real = Path(os.path.realpath(directory))
        if real in seen:
            continue
        seen.add(real)
        try:
            st = os.stat(real)
        except OSError:
            continue
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid not in trusted:
            raise StateError(f"{state}: {real} above the state directory belongs to {_user(st.st_uid)}, who "
                             "could rename it away and put another in its place (use --state-dir)")
        if mode & 0o020 and not mode & stat.S_ISVTX and has_access_acl(real):
            raise StateError(f"{state}: {real} above the state directory has an access ACL whose mask lets "
                             f"users or groups other than its owner write there (mode {mode:04o} shows the "
                             "mask): they could rename the state directory away; remove the ACL "
                             f"(`setfacl -b {shlex.quote(str(real))}`) or use --state-dir")
        if (mode & 0o002 or (mode & 0o020 and not _private_group(st.st_gid))) and not mode & stat.S_ISVTX:
            who = "everyone" if mode & 0o002 else f"group {_group(st.st_gid)}"
            raise StateError(f"{state}: {real} above the state directory is writable by {who} without the "
                             f"sticky bit (mode {mode:04o}): they could rename the state directory away and "
                             "put a link to elsewhere in its place (use --state-dir)")


def check_state_file(path: Path) -> None:
    """A file envdeck writes in its state directory: absent, or a regular file of the user
    with a single link (never a symlink, whose target envdeck would otherwise chmod and
    write, nor a hard link another user made to a file of the user's elsewhere)."""
    from tui.core.errors import StateError

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise StateError(f"{path}: is a symbolic link; envdeck does not follow links in its state directory "
                         "(remove it)")
    if not stat.S_ISREG(st.st_mode):
        raise StateError(f"{path}: is not a regular file (remove it)")
    if st.st_uid != os.geteuid():
        raise StateError(f"{path}: belongs to {_user(st.st_uid)}, not to you ({_user(os.geteuid())}) (remove it)")
    if st.st_nlink > 1:
        raise StateError(f"{path}: has {st.st_nlink} hard links; another name may be a file envdeck must not "
                         "write (remove it)")


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def has_access_acl(path: Path) -> bool:
    """A POSIX access ACL on the directory: its group bits are then the ACL mask, the most
    any named user or group may do, not the owning group's rights."""
    if not hasattr(os, "getxattr"):  # not Linux
        return False
    try:
        os.getxattr(path, "system.posix_acl_access")
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        return True  # cannot tell: do not grant the private-group exemption
    return True


def private_group(gid: int, owner: int | None = None) -> bool:
    """Whether group `gid` lets no one but `owner` (default: you) in: the owner's own group (user
    private groups, Ubuntu's and Fedora's umask 002: `alice:alice`) with no other member, neither
    listed in the group nor an account whose primary group it is. Its write bit then lets no one
    else write, so a 0775 home or ~/.kube and a 0664 file are no risk. The rule of Debian's
    OpenSSH StrictModes (`secure_permissions`: a group-writable file is accepted when its group's
    only member is the owner); one rule for every file and directory envdeck checks. Every group
    entry with that gid counts (a second name for it with members makes it shared)."""
    uid = os.geteuid() if owner is None else owner
    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        return False
    # every entry with that gid: `getgrgid` reads only the first, and `groupadd -o -g GID team`
    # adds a second whose members are in the group just the same
    entries = [group for group in grp.getgrall() if group.gr_gid == gid]
    if gid != user.pw_gid or not entries or not {m for g in entries for m in g.gr_mem} <= {user.pw_name}:
        return False
    return all(account.pw_uid == uid for account in pwd.getpwall() if account.pw_gid == gid)


def writable_by_owner_alone(st: os.stat_result, path: Path | str) -> bool:
    """A group-writable file or directory whose group is its owner's private group
    (`private_group`) and whose group bits are that group's own (no access ACL: its mask would
    show as the group bits and let named users or groups write)."""
    return private_group(st.st_gid, st.st_uid) and not has_access_acl(Path(path))


def _private_group(gid: int) -> bool:
    """`private_group` of the user running envdeck."""
    return private_group(gid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"
