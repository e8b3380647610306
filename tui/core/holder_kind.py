"""What kind of envdeck process a lease holder (`user@host:pid`) is: a TUI, the agent or a CLI
command, so that "root@vm:649 is carrying it out already" can say it is the TUI.

The store records the holder only as `user@host:pid` (leases, managed_env.holder). A holder
on this host is looked up in /proc (its command line); one on another host, one that is not an
envdeck process, or one /proc does not show (another user's under hidepid) is not described.
The command line is read, never shown: only the verb it names is."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

_HOLDER = re.compile(r"^(?P<user>.*)@(?P<host>[^@:]*):(?P<pid>\d+)$")   # as tui/core/leases.py parses it

# verbs that run a reconciler and carry out lifecycle operations by themselves
_TUI_VERBS = {"tui": "a TUI", "demo": "a TUI (envdeck demo)", "serve": "a TUI (envdeck serve)"}
_VERBS = {"agent", "status", "reconcile", "act", "desired", "audit", "xray", "versions", "promote", "diff",
          "logs", "run", "env", "doctor", "check"}


def _envdeck_words(argv: list[str]) -> list[str] | None:
    """The words after envdeck's own entry point (`envdeck …`, `python -m tui.cli …`), or None
    when `argv` is not an envdeck process."""
    for i, word in enumerate(argv[:4]):
        if os.path.basename(word) == "envdeck" or (word == "tui.cli" and i and argv[i - 1] == "-m"):
            return argv[i + 1:]
    return None


def kind_of_command(argv: list[str]) -> str | None:
    """`a TUI`, `the agent`, `a CLI command (envdeck env destroy)`, or None (not envdeck)."""
    words = _envdeck_words(argv)
    if words is None:
        return None
    for i, word in enumerate(words):
        if word in _TUI_VERBS:
            return _TUI_VERBS[word]
        if word == "agent":
            return "the agent"
        if word in _VERBS:
            sub = words[i + 1] if word == "env" and i + 1 < len(words) and not words[i + 1].startswith("-") else ""
            return f"a CLI command (envdeck {word}{' ' + sub if sub else ''})"
    return "a TUI"   # `envdeck` alone (options only) opens the TUI


def holder_kind(holder: str, proc: Path = Path("/proc")) -> str | None:
    """The kind of the process `holder` names when it runs on this host, else None."""
    match = _HOLDER.match(holder or "")
    if not match or match["host"] != socket.gethostname():
        return None
    try:
        raw = (proc / match["pid"] / "cmdline").read_bytes()
    except OSError:
        return None
    return kind_of_command([w.decode(errors="replace") for w in raw.split(b"\0") if w])


def described(holder: str) -> str:
    """`root@vm:649 (a TUI)`, or the holder alone when its kind is not known."""
    kind = holder_kind(holder)
    return f"{holder} ({kind})" if kind else holder
