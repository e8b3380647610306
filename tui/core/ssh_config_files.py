"""The files an OpenSSH client config pulls in with `Include`, found exactly as asyncssh (the
client envdeck runs) finds them, so that envdeck can refuse an ssh_config whose included files
another user controls (their ProxyCommand runs as you). Mirrors asyncssh/config.py:

- a line is split as `SSHConfig.parse` splits it (shlex: a quoted keyword, `"Include" PATH`,
  counts; `Include=PATTERN`), anywhere in the file: inside a `Host` or `Match` block too (which
  block matches is decided per host: every Include counts);
- `~` is expanded (pathlib); a relative pattern is taken from ~/.ssh (`_include`);
- a pattern is a `pathlib.Path.glob` (`**` any depth, `*` matching dotfiles too): every regular
  file it matches is read (and its own Includes followed), and every directory the glob lists
  (each one below a `**`) is where another user could add a match later.

Nothing here raises: a line that cannot be split (an open quote) is skipped (asyncssh refuses
the whole file)."""

from __future__ import annotations

import fnmatch
import io
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

#: OpenSSH's own limit on nested Includes (READCONF_MAX_DEPTH)
MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Include:
    line: int      # where in the including file
    pattern: str   # as written
    target: str    # ~ expanded, relative ones from ~/.ssh: a path or a glob


def _words(line: str) -> list[str]:
    """A stripped line's option and arguments as asyncssh's `SSHConfig.parse` splits them
    (shlex, `key=value`, a first argument `=value`; quotes allowed around the keyword too)."""
    split_args = shlex.split(line)
    args: list[str] = []
    allow_equal = True
    for i, arg in enumerate(split_args, 1):
        if arg.startswith("="):
            if len(arg) > 1:
                args.append(arg[1:])
        elif not allow_equal:
            args.extend(split_args[i - 1:])
            break
        elif arg.endswith("="):
            args.append(arg[:-1])
        elif "=" in arg:
            key, val = arg.split("=", 1)
            args += [key, val]
        else:
            args.append(arg)
        if i == 1:
            if not args:
                return []
            allow_equal = args[0].lower() in ("host", "match")
    return args


def includes(text: str) -> list[Include]:
    """The `Include` patterns of an ssh_config's text, in order, found as asyncssh reads them:
    the lines a text file yields (universal newlines), stripped, split by `_words`."""
    found = []
    for number, raw in enumerate(io.StringIO(text, newline=None), 1):
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        try:
            words = _words(line)
        except ValueError:  # asyncssh refuses the whole file
            continue
        if not words or words[0].lower() != "include":
            continue
        found += [Include(number, arg, target(arg)) for arg in words[1:]]
    return found


def _anchored(pattern: str) -> tuple[Path, str]:
    """asyncssh's `_include`: ~ expanded (pathlib), an absolute pattern globbed from its anchor,
    a relative one from ~/.ssh."""
    try:
        path = Path(pattern).expanduser()
        if path.anchor:
            return Path(path.anchor), str(Path(*path.parts[1:]))
        return Path("~", ".ssh").expanduser(), pattern
    except RuntimeError:  # no home directory: asyncssh fails too
        return Path(pattern), ""


def target(pattern: str) -> str:
    """Where an Include pattern points: ~ expanded, a relative one taken from ~/.ssh."""
    anchor, rest = _anchored(pattern)
    return str(anchor / rest) if rest else str(anchor)


def matches(target: str) -> list[str]:
    """The files an Include `target` reads, as asyncssh finds them: `pathlib.Path.glob` (`**`
    any depth, `*` matching dotfiles too), regular files only (symlinks followed), sorted."""
    anchor, rest = _anchored(target)
    try:
        return sorted(str(p) for p in anchor.glob(rest) if p.is_file())
    except (ValueError, OSError):  # an empty or unacceptable pattern
        return []


def _is_magic(part: str) -> bool:
    return any(c in part for c in "*?[")


def walked_directories(target: str) -> list[Path]:
    """Every directory whose listing the glob `target` reads (where another user could add a
    name it would match): the fixed directory before the first wildcard, each directory a
    wildcard part is matched in, and every directory below one a `**` stands for."""
    anchor, rest = _anchored(target)
    current = [anchor]
    walked: list[Path] = []
    parts = Path(rest).parts if rest else ()
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            below: list[Path] = []
            for folder in current:
                for top, dirs, _files in os.walk(folder):
                    below.append(Path(top))
                    dirs.sort()
            current = list(dict.fromkeys(below))
            walked += current
            if last:
                break
        elif _is_magic(part):
            walked += current
            if last:
                break
            current = [folder / entry.name for folder in current for entry in _entries(folder)
                       if fnmatch.fnmatchcase(entry.name, part) and _is_dir(entry)]
        else:
            if last:
                break
            current = [folder / part for folder in current]
    return list(dict.fromkeys(walked))


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as listing:
            return sorted(listing, key=lambda e: e.name)
    except OSError:
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
