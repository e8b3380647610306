"""`envdeck audit` as text: one line per row, whatever a member wrote into the shared store.

A message longer than MESSAGE_SHOWN is cut and says so (`… (cut: 5000000 characters)`; `--json`
has up to tui/core/audit_rows.MESSAGE_MAX characters with `message_cut`/`message_length`), params
that could not be read show their raw text as data, a time that is not a time or is in the
future is marked, and the row's database role is shown where it differs from the user it names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tui.cli.table_fit import Column, cut_end, fit_table, fold_words
from tui.core.audit_rows import row_time, time_flag
from tui.core.fleet_fold import fold_fleet_runs
from tui.core.sanitize import clean

MESSAGE_SHOWN = 300


def audit_line(e: dict[str, Any], now: datetime) -> str:
    """The line of one row (not yet sanitised: write_line does that)."""
    return (f"{e['id']:>6} {e['at']} {e['user']:<10} {e['env']:<12} {e['origin']:<10} "
            f"{e['result']:<11} {e['action']} {e['target']} {message_text(e, now)}")


def message_text(e: dict[str, Any], now: datetime) -> str:
    """The row's message (cut past MESSAGE_SHOWN) and its marks."""
    message = str(e.get("message") or "")
    if len(message) > MESSAGE_SHOWN or e.get("message_cut"):
        message = f"{message[:MESSAGE_SHOWN]}… (cut: {e.get('message_length') or len(message)} characters)"
    marks = []
    flag = time_flag(e.get("at"), now)
    if flag:
        marks.append(f"[{flag}]")
    if e.get("params_error"):
        marks.append(f"[params unreadable, {e['params_error']}: {e.get('params_raw') or ''}]")
    # the database role that wrote the row (PostgreSQL team mode), where it is not the user it names
    if e.get("db_user") and e["db_user"] != e["user"]:
        marks.append(f"[db role {e['db_user']}]")
    return message + "".join(" " + m for m in marks)


# On a terminal: a header and columns sized to it (on-call finding, session 9: at 80 columns
# ORIGIN was left out, so a reconciler's row read as if its user had acted, and the header after
# RESULT did not sit over its columns). ORIGIN (who acted: cli, tui, reconciler, ttl, agent…) is
# never left out (a name past 12 columns, none of envdeck's, is cut at its end); the others give
# way: TIME compact (`14:46:46` today, `12-06 09:03:12` before; cut only once the names are at
# their minimum), long user and environment names cut in the middle. The columns are padded to one
# width, so ACTION starts at the same place on the header and on every row; the action and target
# follow whole (folded at a space, never cut: the id of a resource is read in full), then the
# message on the row when it fits, else on the lines below it, folded at spaces.
COLUMNS = (Column("ID", right=True), Column("TIME", min_width=8, keep=14), Column("USER", min_width=6),
           Column("ENV", min_width=8), Column("ORIGIN", min_width=12, cut=cut_end), Column("RESULT"))
ACTION_ROOM = 24
MESSAGE_INDENT = " " * 7


def compact_time(at: object, now: datetime) -> str:
    """A row's time in few columns (UTC, as stored): the time of day for today's rows, month-day
    and time before; a time that is none or is in the future is shown as written (its mark says so)."""
    ts = row_time(at)
    if ts is None or time_flag(at, now):
        return str(at)
    return ts.strftime("%H:%M:%S" if ts.date() == now.astimezone(UTC).date() else "%m-%d %H:%M:%S")


FLEET_HINT = "--json or --target NODE shows each"  # how a folded run's rows are read one by one


def audit_lines(entries: list[dict[str, Any]], now: datetime, width: int | None) -> list[str]:
    """The lines of `entries` in the order given. `width` None (piped): audit_line per row, no
    header, as always (scripts read them). On a terminal a fleet run's rows are one line
    (fold_fleet_runs)."""
    if width is None:
        return [audit_line(e, now) for e in entries]
    entries = fold_fleet_runs(entries, FLEET_HINT)
    room = max(20, width - ACTION_ROOM)
    rows = [[str(e["id"]), str(e["at"]), str(e["user"]), str(e["env"]), str(e["origin"]), str(e["result"])]
            for e in entries]
    table = fit_table(COLUMNS, rows, None, gap=" ")
    if max(map(len, table)) > room:
        for row, e in zip(rows, entries, strict=True):
            row[1] = compact_time(e["at"], now)
        table = fit_table(COLUMNS, rows, room, gap=" ")
    # every line padded to the table's width: ACTION starts in one place (fit_table strips the ends)
    prefix = max(map(len, table))
    lines = [f"{table[0].ljust(prefix)} ACTION TARGET MESSAGE"]
    for e, row in zip(entries, table[1:], strict=True):
        head = fold_words(f"{row.ljust(prefix)} {clean(str(e['action']))} {clean(str(e['target']))}", width,
                          indent=MESSAGE_INDENT)
        tail = clean(message_text(e, now)).strip()
        if tail and len(head[-1]) + 1 + len(tail) <= width:
            head[-1] += " " + tail
        elif tail:
            head.extend(fold_words(MESSAGE_INDENT + tail, width, indent=MESSAGE_INDENT))
        lines.extend(head)
    return lines
