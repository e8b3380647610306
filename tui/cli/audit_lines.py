"""`envdeck audit` as text: one line per row, whatever a member wrote into the shared store.

A message longer than MESSAGE_SHOWN is cut and says so (`… (cut: 5000000 characters)`; `--json`
has up to tui/core/audit_rows.MESSAGE_MAX characters with `message_cut`/`message_length`), params
that could not be read show their raw text as data, a time that is not a time or is in the
future is marked, and the row's database role is shown where it differs from the user it names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tui.core.audit_rows import time_flag

MESSAGE_SHOWN = 300


def audit_line(e: dict[str, Any], now: datetime) -> str:
    """The line of one row (not yet sanitised: write_line does that)."""
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
    tail = "".join(" " + m for m in marks)
    return (f"{e['id']:>6} {e['at']} {e['user']:<10} {e['env']:<12} {e['origin']:<10} "
            f"{e['result']:<11} {e['action']} {e['target']} {message}{tail}")
