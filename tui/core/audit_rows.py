"""Reading audit rows as data a member may have written by hand.

On a shared PostgreSQL store every team member can INSERT into `audit` with psql: any column
may hold anything (`params` that is not JSON, `at` that is not a time, a message of megabytes).
Reading the trail must not fail on such a row, nor grow with its size:

- the database cuts every text column (`substr`) and says how long it was (`length`), so a
  5 MB message costs at most `message_max` + REDACT_MARGIN characters to fetch, redact and show;
- redacted, then cut: envdeck redacts its own rows when it writes them, a hand-written row is
  redacted here, and a secret must be seen whole by the patterns (a 40-character key, a URL's
  `user:pw@`, a JSON `"password": "…"` need their end). So the database hands over
  REDACT_MARGIN characters more than are shown, the piece is redacted, and only then is it cut
  to `message_max` (`params_raw` likewise). A secret up to REDACT_MARGIN characters long that
  straddles the cut is seen whole; a longer one whose pattern needs its end is not (the
  patterns that match a beginning alone — a private-key block, `--password=`, a header — still
  hide it);
- `params` that is not a JSON object (or too long to read whole, or holding `NaN`/`Infinity`/`1e400`,
  which Python reads but JSON has not: `audit --json` stays JSON) becomes `{}` with
  `params_error` saying why and `params_raw` its (redacted, then cut) text, shown as data;
- `message_cut` / `message_length` say when the message was cut and how long it was stored,
  `params_cut` / `params_length` the same of params (read up to PARAMS_MAX characters by
  `--json`, PARAMS_SUMMARY by the text listing, which shows params only when unreadable).

`AuditRow` fields are the keys of the dicts `Store.audit_entries` returns (JSON of
`envdeck audit --json`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.core.redaction import redact_params, redact_text

MESSAGE_MAX = 65_536     # default cut of a row's message (`audit --json`); the TUI and the text CLI ask less
FIELD_MAX = 1_000        # user, env, target, action, origin, result, at, finished_at, db_user
PARAMS_MAX = 16_384      # params read by `audit --json`: longer ones are cut by the database, not parsed
PARAMS_SUMMARY = 2_048   # params read for a text listing (which shows only an unreadable one's start)
PARAMS_RAW_SHOWN = 200   # characters of unreadable params kept as data
REDACT_MARGIN = 1_024    # characters read past a cut so that a secret across it is redacted whole

_FIELDS = ("at", "user", "env", "target", "action", "origin", "result", "finished_at", "db_user")


def select_columns(message_max: int, params_max: int = PARAMS_MAX) -> str:
    """The SELECT list of an audit read: every text column cut by the database (params at
    `params_max` characters: a member's 100 KB params cost at most that to fetch)."""
    cut = [f'substr({_quoted(name)}, 1, {FIELD_MAX}) AS {_quoted(name)}' for name in _FIELDS]
    return ", ".join(["id", *cut,
                      f"substr(params, 1, {int(params_max)}) AS params", "length(params) AS params_length",
                      f"substr(message, 1, {int(message_max) + REDACT_MARGIN}) AS message",
                      "length(message) AS message_length"])


TIMELINE_MESSAGE_MAX = 4_096  # a timeline row's message as read (redacted whole when written)


def timeline_columns() -> str:
    """The SELECT list of a timeline read: its text cut by the database. Only the owner role
    writes the timeline, but its messages carry outside text (an event's, a probe's output)."""
    cut = [f"substr({name}, 1, {FIELD_MAX}) AS {name}" for name in ("at", "env", "resource", "kind", "severity",
                                                                    "reason")]
    return ", ".join(["id", *cut, f"substr(message, 1, {TIMELINE_MESSAGE_MAX}) AS message", "count"])


def _quoted(name: str) -> str:
    return '"user"' if name == "user" else name


def decode_row(r: Mapping[str, Any], message_max: int = MESSAGE_MAX,
               params_max: int = PARAMS_MAX) -> dict[str, Any]:
    """One row as `audit_entries` hands it out (read with `select_columns(message_max,
    params_max)`); never raises on a hand-written row. Params longer than `params_max` are not
    parsed (`params_cut`, `params_length`): in a full read (`params_max` >= PARAMS_MAX) that is
    an error shown with their start; in a shorter (text listing) read they are only left out."""
    params_length = int(r["params_length"] or 0)
    params_cut = params_length > len(r["params"] or "")
    if params_cut and params_max < PARAMS_MAX:
        params, error, raw = {}, None, None
    else:
        params, error, raw = _params(r["params"], params_length)
    piece = r["message"] or ""
    length = int(r["message_length"] or 0)
    message, cut = redacted_prefix(piece, message_max, whole=length <= len(piece))
    out = {"id": r["id"], **{name: r[name] for name in _FIELDS if name not in ("finished_at", "db_user")},
           "params": params, "message": message, "finished_at": r["finished_at"],
           "db_user": r["db_user"], "params_error": error, "params_raw": raw,
           "message_cut": cut, "message_length": length, "params_cut": params_cut,
           "params_length": params_length}
    return out


def redacted_prefix(piece: str, shown: int, *, whole: bool) -> tuple[str, bool]:
    """(the first `shown` characters of `piece` once redacted, whether anything was left out).
    `piece` is the start of a stored text (`whole`: all of it) read REDACT_MARGIN characters
    past `shown`: redacted first, so that a secret across the cut is hidden whole."""
    text = redact_text(piece[:shown + REDACT_MARGIN])
    return text[:shown], len(text) > shown or not whole or len(piece) > shown + REDACT_MARGIN


def _params(text: str | None, length: int) -> tuple[dict[str, Any], str | None, str | None]:
    """(params, why they are unreadable or None, their cut raw text when unreadable)."""
    if not text:
        return {}, None, None
    if length > len(text):
        return {}, f"too long to read ({length} characters)", _raw(text)
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        return {}, "not JSON", _raw(text)
    if not isinstance(value, dict):
        return {}, f"not a JSON object ({type(value).__name__})", _raw(text)
    try:
        return redact_params(value), None, None
    except RecursionError:
        return {}, "nested too deeply", _raw(text)


def _no_constant(name: str) -> float:
    """`NaN`, `Infinity`: Python reads them, JSON has none (`audit --json` must stay JSON)."""
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # `1e400`
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _raw(text: str) -> str:
    shown, cut = redacted_prefix(text, PARAMS_RAW_SHOWN, whole=True)
    return shown + ("…" if cut else "")


def unreadable_note(rows: list[dict[str, Any]]) -> str | None:
    """One warning line for rows whose params could not be read, or None."""
    bad = [str(r["id"]) for r in rows if r.get("params_error")]
    if not bad:
        return None
    shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
    word = "row" if len(bad) == 1 else "rows"
    return f"{len(bad)} audit {word} with unreadable params (id {shown}): shown as written, not as parameters"


FUTURE_SKEW = timedelta(minutes=5)  # a row stamped later than now + this is "in the future"


def row_time(at: object) -> datetime | None:
    """A stored row's `at` as an aware UTC time, or None when it is no time at all (a member's
    hand-written `garbage`, or `0001-01-01T00:00:00+14:00`, before year 1 in UTC); a time without
    an offset is taken as UTC, as envdeck writes them."""
    if not isinstance(at, str) or not at:
        return None
    try:
        ts = datetime.fromisoformat(at.replace("Z", "+00:00"))
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: `0001-01-01T00:00:00+14:00` is before year 1 in UTC
        return None


def time_flag(at: object, now: datetime) -> str | None:
    """Why a row's time cannot be trusted as shown: "time unreadable", "time in the future", or None."""
    ts = row_time(at)
    if ts is None:
        return "time unreadable"
    if ts > now + FUTURE_SKEW:
        return "time in the future"
    return None
