"""Reading the config file and its YAML, without pydantic: `envdeck run` reads and parses its YAML
before the config models are built (tui/cli/fleet_early.py); tui/core/config.py validates it."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import yaml

from tui.core.config_yaml import _Loader, compose_with_marks
from tui.core.errors import ConfigError

# A config bigger than this is not a config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024

# libyaml (PyYAML's C parser) composes a config ~6x faster than the pure-Python parser (50 edge
# nodes: ~3 vs ~18 ms of CPU, before `envdeck run`'s first connection), but its composer
# recurses in C, outside Python's recursion limit: a document nested some 20,000 deep
# overflows an 8 MiB stack (a crash where the Python parser says RecursionError, which becomes
# a placed error). Every level of nesting needs one of these characters (an indicator or a
# new line), so a text with at most LIBYAML_MAX_NESTING of them in all is at most that deep
# (~0.4 KiB of stack per level); any other text, and any text read off the main thread (a
# smaller stack), goes to the Python parser, as before.
LIBYAML_MAX_NESTING = 2000
_NESTING_CHARS = "[{-?:\n\r\x85\u2028\u2029"


class _LibyamlLoader(getattr(yaml, "CSafeLoader", object)):  # type: ignore[misc]
    """The config's loader on libyaml: the same constructor, resolver and `<<:` merges."""

    flatten_mapping = _Loader.flatten_mapping


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
    data, marks = _compose(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}:1:1: the top level must be a mapping with 'environments:'"])
    return data, marks


def _compose(text: str, source: str) -> tuple[Any, Any]:
    """libyaml when it is there and the text is shallow enough (LIBYAML_MAX_NESTING); a text it
    refuses is read again by the Python parser, so that every problem is worded and placed as
    before (and a text only the Python parser accepts is still accepted)."""
    if libyaml_takes(text):
        try:
            return compose_with_marks(text, source, _LibyamlLoader)
        except ConfigError:
            pass
    return compose_with_marks(text, source)


def libyaml_takes(text: str) -> bool:
    """libyaml is installed, this is the main thread, and the text cannot nest deeper than
    LIBYAML_MAX_NESTING (a count of the characters a level needs)."""
    if not getattr(yaml, "__with_libyaml__", False) or threading.current_thread() is not threading.main_thread():
        return False
    nesting = 1
    for char in _NESTING_CHARS:
        nesting += text.count(char)
        if nesting > LIBYAML_MAX_NESTING:
            return False
    return True


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
