"""The files an OpenSSH client config pulls in with `Include`, found as ssh and asyncssh find them,
so that envdeck can refuse an ssh_config whose included files another user controls (their
ProxyCommand runs as you).

- a line `Include PATTERN...` (or `Include=PATTERN`), anywhere in the file: inside a `Host` or
  `Match` block too (which block matches is decided per host: every Include counts);
- `~` is expanded; a relative pattern is taken from ~/.ssh, as ssh and asyncssh do for a user's
  config (not from the including file's directory);
- a pattern is a glob: every file it matches is read (and its own Includes followed), and the
  directory it names before its first wildcard is where another user could add a match later.

Nothing here raises: a line that cannot be split (an open quote) is skipped, as the rest of the
file is still read by the client."""

from __future__ import annotations

import glob
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


def includes(text: str) -> list[Include]:
    """The `Include` patterns of an ssh_config's text, in order."""
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or not line[:7].lower() == "include":
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        key, _, rest = words[0].partition("=")
        if key.lower() != "include":
            continue
        args = ([rest] if rest else []) + words[1:]
        if args and args[0].startswith("="):
            args[0] = args[0][1:]
        found += [Include(number, arg, target(arg)) for arg in args if arg]
    return found


def target(pattern: str) -> str:
    """Where an Include pattern points: ~ expanded, a relative one taken from ~/.ssh."""
    path = os.path.expanduser(pattern)
    return path if os.path.isabs(path) else os.path.join(os.path.expanduser("~/.ssh"), path)


def fixed_directory(pattern: str) -> Path:
    """The directory a glob names before its first wildcard (`/a/b/*.conf` → /a/b, `/a/*/x` → /a)."""
    parts = Path(pattern).parts
    fixed = Path(parts[0])
    for part in parts[1:-1]:
        if glob.has_magic(part):
            break
        fixed = fixed / part
    return fixed
