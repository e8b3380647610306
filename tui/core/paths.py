"""Where envdeck finds its config and keeps its state (XDG base directories)."""

from __future__ import annotations

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
    group-writable directory is accepted only when it is setgid (the deliberate shared
    layout `chmod 2770` of a team directory); otherwise it is refused too. Then every file
    envdeck keeps there (envdeck.db*, envdeck.log*) must be a regular file of the user,
    never a symlink."""
    from tui.core.errors import StateError

    state = Path(path).expanduser()
    if state.exists() and not state.is_dir():
        raise StateError(f"{state}: the state directory is a file, not a directory (use --state-dir)")
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StateError(f"{state}: cannot create the state directory: {exc.strerror or exc}") from None
    check_state_dir(state)
    return state


def check_state_dir(state: Path) -> None:
    """The checks of `ensure_state_dir` on an existing directory, creating nothing
    (`doctor` without a config uses them as they are)."""
    from tui.core.errors import StateError

    st = state.stat()
    uid = os.geteuid()
    if st.st_uid != uid:
        raise StateError(f"{state}: the state directory belongs to {_user(st.st_uid)}, not to you "
                         f"({_user(uid)}); envdeck keeps its audit trail only in a directory of yours "
                         "(use --state-dir)")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o002 or (mode & 0o020 and not mode & stat.S_ISGID):
        who = "everyone" if mode & 0o002 else "its group"
        raise StateError(f"{state}: the state directory is writable by {who} (mode {mode:04o}); "
                         f"run `chmod 700 {shlex.quote(str(state))}` or use --state-dir")
    if not os.access(state, os.W_OK | os.X_OK):
        raise StateError(f"{state}: the state directory is not writable (use --state-dir)")
    for entry in os.scandir(state):
        if entry.name.startswith(STATE_FILE_PREFIXES):
            check_state_file(Path(entry.path))


def check_state_file(path: Path) -> None:
    """A file envdeck writes in its state directory: absent, or a regular file of the user
    (never a symlink, whose target envdeck would otherwise chmod and write)."""
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


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
