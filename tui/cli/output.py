"""Printing for the CLI: JSON for scripts, plain tables for people.

Lines for people (tables, reports, warnings and errors on stderr) always pass
through the sanitiser, on a terminal and piped alike (`status | less -R` or a
`tee`d file is read on a terminal later): a resource name or a server's message
is data. JSON escapes what could act on a terminal (json_text); only `envdeck
logs` writes its lines unchanged when piped (for scripts)."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from typing import Any

from tui.core.model import now_utc, parse_iso
from tui.core.sanitize import BIDI, INVISIBLE, clean

# json.dumps escapes C0 controls (ESC, BEL, NUL...) but, with ensure_ascii=False, not DEL,
# the C1 controls (U+0080-U+009F: U+009B is a one-character CSI) nor bidi overrides and
# line separators or zero-width characters (sanitize.INVISIBLE). They can only occur
# inside JSON strings, where \uXXXX means the same.
_JSON_UNSAFE = re.compile("[\x7f-\x9f" + BIDI + INVISIBLE + "]")


def json_text(data: Any) -> str:
    """JSON for scripts and terminals alike: non-ASCII text stays readable, nothing
    from outside can act on a terminal."""
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def write_line(text: str) -> None:
    sys.stdout.write(clean(text) + "\n")


def report_line(text: str) -> None:
    """A line of a report for people on stdout (`doctor`): always sanitised."""
    sys.stdout.write(clean(text) + "\n")


def say(text: str) -> None:
    """A line for people on stderr (a warning, a notice): always sanitised, piped or not."""
    sys.stderr.write(clean(text) + "\n")


def warn(text: str) -> None:
    say(f"envdeck: warning: {text}")


def age(stamp: str | None, now: datetime | None = None) -> str:
    when = parse_iso(stamp)
    if when is None:
        return "-"
    seconds = max(0, int(((now or now_utc()) - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _table(rows: list[list[str]]) -> None:
    if not rows:
        return
    # each cell as it will be shown (a TAB of an AWS Name tag is `^I`): the columns are measured
    # on that, so outside text neither passes raw nor pushes the columns out of line
    rows = [[clean(cell) for cell in row] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        write_line("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def mark_pending(envs: list[dict[str, Any]], pending: dict[str, list[str]]) -> None:
    """`status --json`: every backend gets `pending` (true: its environment's leader, another
    live process, has not published a first observation of it yet, so nobody knows whether it
    is reachable); a pending backend's `reachable` is null, not false. One line on stderr per
    environment with pending backends."""
    for env in envs:
        waiting = pending.get(env["name"], ())
        for name, b in env["backends"].items():
            b["pending"] = name in waiting
            if b["pending"]:
                b["reachable"] = None
        if waiting:
            say(f"envdeck: {env['name']}: {', '.join(waiting)} not observed yet by its leader "
                f"{env.get('leader') or ''} (first pass still running); shown as pending")


def _backend_cell(name: str, b: dict[str, Any], leader: str | None) -> str:
    if b.get("pending"):
        return f"{name} pending (first pass by {leader or 'its leader'} running)"
    return (f"{name} {'ok' if b['reachable'] else 'UNREACHABLE'} ({age(b['observed_at'])})"
            + (f": {b['error']}" if b["error"] else ""))


def status_table(envs: list[dict[str, Any]]) -> None:
    for env in envs:
        backends = ", ".join(_backend_cell(name, b, env.get("leader")) for name, b in env["backends"].items())
        write_line(f"{env['name']}  health={env['health']}  drift={env['drift'] or '-'}  repair={env['repair']}"
                   f"  faults={len(env['faults'])}  [{backends}]")
        rows = [["BACKEND", "KIND", "NAME", "ID", "STATUS", "HEALTH", "DRIFT", "FINDINGS"]]
        for r in env["resources"]:
            rows.append([r["backend"], r["kind"], r["name"][:60], r["id"], (r["status"] or "")[:30], r["health"],
                         r["drift"] or "-", str(len(r["findings"]))])
        _table(rows)
        for f in env["faults"]:
            write_line(f"  fault {f['severity']:<8} {f['resource']} {f['reason']}: {f['message']}")
        for d in env["drifts"]:
            write_line(f"  drift {d['resource']} {d['field']}: desired {d['desired']!r}, actual {d['actual']!r}")
        write_line("")


def ask(prompt: str) -> str:
    """Read one answer from the terminal. A command's prompt runs inside asyncio.run(), whose
    SIGINT handler only cancels the main task, which cannot happen while input() blocks: the
    first Ctrl-C at the prompt was echoed and ignored. While the prompt waits, Ctrl-C raises
    KeyboardInterrupt at once (exit 130, nothing done), as at any other prompt of a shell."""
    import signal
    import threading

    from tui.cli import sigint

    if threading.current_thread() is not threading.main_thread():
        return input(clean(prompt))
    if sigint.installed():  # the envdeck process's handler: raises once, ignores what follows
        with sigint.raising():
            return _answer(clean(prompt))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _answer(clean(prompt))
    finally:
        signal.signal(signal.SIGINT, previous)


ANSWER_POLL_S = 0.2  # the longest a Ctrl-C at a prompt waits for its handler


def _answer(prompt: str) -> str:
    """input(), but a Ctrl-C can never be lost: input() only runs Python's SIGINT handler when
    its read() is interrupted (EINTR). A Ctrl-C that comes after the prompt is written but before
    that read() has begun (a loaded machine: the process is preempted right after writing the
    prompt), or one the kernel hands to another thread of the process (aiosqlite's, the edge
    backend's loop), interrupts nothing: the handler was pending and input() blocked for good.
    Here the terminal is waited for in short select() calls, each followed by Python code, where
    a pending handler runs (and raises KeyboardInterrupt)."""
    import os
    import select

    try:
        fd = sys.stdin.fileno()
        terminal = os.isatty(fd)
    except (AttributeError, ValueError, OSError):  # replaced or closed stdin: input() says so
        terminal = False
    if not terminal:
        return input(prompt)
    sys.stdout.flush()
    shown = sys.stderr if sys.stdout.isatty() else sys.stdout  # where input() writes it
    shown.write(prompt)
    shown.flush()
    line = bytearray()
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], ANSWER_POLL_S)
        if not ready:
            continue
        chunk = os.read(fd, 4096)  # canonical mode: at most the line typed so far
        if not chunk:  # end of file (Ctrl-D)
            if not line:
                raise EOFError
            break
        line += chunk
    return line.decode(sys.stdin.encoding or "utf-8", errors="replace").removesuffix("\n")
