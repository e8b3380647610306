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

from tui.cli.table_fit import Column, cut_end, cut_id, fit_table, fold_words, terminal_width
from tui.core.model import now_utc, parse_iso
from tui.core.sanitize import BIDI, INVISIBLE, clean
from tui.core.shown_value import shown_value

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


def report_folded(text: str, indent: str | None = None) -> None:
    """report_line, but on a terminal a line wider than it is folded at spaces (never inside a
    word: a path or a URL longer than a line is left whole for the terminal to wrap); the lines
    after the first are indented by `indent` (default: the line's own indent and 4 more).
    Piped: the one line, as always."""
    text = clean(text)
    if indent is None:
        indent = " " * (len(text) - len(text.lstrip(" ")) + 4)
    for line in fold_words(text, terminal_width(), indent=indent):
        sys.stdout.write(line + "\n")


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


def nodes_down_words(b: dict[str, Any]) -> str:
    """`86 of 90 nodes unreachable` for a backend (JSON) that answers without all its hosts, else ''."""
    if not b["reachable"] or not b.get("nodes_unreachable"):
        return ""
    return f"{b['nodes_unreachable']} of {b.get('nodes_total')} nodes unreachable"


def _backend_cell(name: str, b: dict[str, Any], leader: str | None) -> str:
    if b.get("pending"):
        return f"{name} pending (first pass by {leader or 'its leader'} running)"
    why = b["error"] or nodes_down_words(b)  # an edge backend that answers without all its hosts
    return f"{name} {'ok' if b['reachable'] else 'UNREACHABLE'} ({age(b['observed_at'])})" + (f": {why}" if why else "")


# `status`: on a narrow terminal BACKEND and KIND go first (the ID holds both), then the NAME
# (AWS ids and Names differ; a Kubernetes id ends with its name); long cells are cut in the middle
STATUS_COLUMNS = (Column("BACKEND", drop=1), Column("KIND", drop=2), Column("NAME", min_width=10, drop=3),
                  Column("ID", min_width=30, cut=cut_id), Column("STATUS", min_width=10, cut=cut_end, give=1), Column("HEALTH"),
                  Column("DRIFT"), Column("FINDINGS", right=True))


def _lines(text: str, width: int | None) -> None:
    """A line of free text, folded at spaces on a terminal (continuation lines indented)."""
    for line in fold_words(clean(text), width, indent="      "):
        write_line(line)


def _backend_cells(env: dict[str, Any]) -> list[str]:
    return [_backend_cell(name, b, env.get("leader")) for name, b in env["backends"].items()]


def _fold_list(items: list[str], width: int) -> list[str]:
    """`  [a, b, c]` on as many lines as needed, broken between items (an item longer than a
    line, e.g. a backend's error, is folded at its spaces)."""
    if not items:
        return ["  []"]
    lines, line = [], "  ["
    for n, item in enumerate(clean(i) for i in items):
        piece = item + ("]" if n == len(items) - 1 else ",")
        if len(line) > 3 and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = "   " + piece
        else:
            line += ("" if len(line) <= 3 else " ") + piece
    return [folded for one in (*lines, line) for folded in fold_words(one, width, indent="   ")]


def paused_words(env: dict[str, Any]) -> str:
    """`  PAUSED by USER since AT (REASON)` for an environment whose repairs are paused (the store's
    pause, every process honours it), else ''."""
    if not env.get("paused"):
        return ""
    pause = env.get("pause") or {}
    by = f" by {pause['user']}" if pause.get("user") else ""
    since = f" since {pause['at']}" if pause.get("at") else ""
    why = f" ({pause['reason']})" if pause.get("reason") else ""
    return f"  PAUSED{by}{since}{why}"


def status_table(envs: list[dict[str, Any]], width: int | None = None) -> None:
    """`width`: the terminal's (None when piped: every column whole, today's lines)."""
    for env in envs:
        backends = ", ".join(_backend_cells(env))
        head = (f"{env['name']}  health={env['health']}  drift={env['drift'] or '-'}  repair={env['repair']}"
                f"  faults={len(env['faults'])}{paused_words(env)}")
        if width is None or len(clean(head)) + len(clean(backends)) + 4 <= width:
            write_line(f"{head}  [{backends}]")
        else:  # a narrow terminal: the backends on the line(s) below, folded between them
            write_line(head)
            for line in _fold_list(_backend_cells(env), width):
                write_line(line)
        rows = [[r["backend"], r["kind"], r["name"][:60], r["id"], (r["status"] or "")[:30], r["health"],
                 r["drift"] or "-", str(len(r["findings"]))] for r in env["resources"]]
        if width is None:  # piped: exactly as before (FINDINGS left-aligned)
            _table([[c.header for c in STATUS_COLUMNS], *rows])
        else:
            for line in fit_table(STATUS_COLUMNS, rows, width):
                write_line(line)
        for f in env["faults"]:
            _lines(f"  fault {f['severity']:<8} {f['resource']} {f['reason']}: {f['message']}", width)
        for d in env["drifts"]:
            _lines(f"  drift {d['resource']} {d['field']}: desired {shown_value(d['desired'])}, "
                   f"actual {shown_value(d['actual'])}", width)
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
