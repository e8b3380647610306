"""Reading the config file and its YAML, without pydantic: `envdeck run` reads and parses its YAML
before the config models are built (tui/cli/fleet_early.py); tui/core/config.py validates it."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from tui.core.config_yaml import compose_with_marks
from tui.core.errors import ConfigError

# A config bigger than this is not a config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def read_config_text(path: str | Path) -> tuple[str, str]:
    """The config file's text and the name its problems are placed by (`PATH:LINE:COL`)."""
    p = Path(path).expanduser()
    raw = read_regular_file(p)
    try:
        return raw.decode("utf-8"), str(p)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([f"{p}:{line}:1: the file is not valid UTF-8"]) from None


def compose_config(text: str, source: str) -> tuple[dict[str, Any], Any]:
    """The YAML as plain data (and the marks that place its problems), not validated yet:
    `envdeck run` reads its nodes from it before the models are built (tui/cli/fleet_early.py)."""
    data, marks = compose_with_marks(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}:1:1: the top level must be a mapping with 'environments:'"])
    return data, marks


def read_regular_file(p: Path) -> bytes:
    """The file's bytes, refusing anything but a regular file: a FIFO, a device or a
    socket given as the config would block `check` forever or never end. It is
    opened non-blocking (a FIFO without a writer would block the open itself) and
    checked with fstat on the open descriptor, so a swap after the check cannot
    slip a FIFO in."""
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ConfigError([f"{p}: no such file (pass --config PATH or set ENVDECK_CONFIG)"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{p}: is a directory, not a config file"]) from None
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError([f"{p}: is a directory, not a config file"])
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError([f"{p}: is {_file_kind(info.st_mode)}, not a regular file; "
                               "envdeck reads its config only from a regular file"])
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError([f"{p}: is {info.st_size} bytes; a config is at most "
                               f"{MAX_CONFIG_BYTES // (1024 * 1024)} MiB"])
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{p}: is more than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB; not a config"])
    return raw


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"
