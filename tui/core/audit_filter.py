"""Which audit rows a reader asks for: `envdeck audit --user/--action/--target/--since`.

As Teleport's audit search: every filter narrows the rows, all of them combinable, applied in the
store's query (SQLite and PostgreSQL alike), so `--limit` counts rows that match, and a 90-node
run's rows do not push an earlier pod delete out of a 50-row read.

- `user`: the row's user, exactly (`ann`; a reconciler's rows are those of the user it runs as);
- `action`: the row's action, exactly (`delete`, `run`, `restart`, `env.create`);
- `target`: a piece of the row's target, in any case (`gw-07`, `pod/web`);
- `since`: rows written at or after this time (`2h`, `30m`, `1d` before now, or an ISO time,
  `2026-12-07T18:00`, `2026-12-07`; without an offset it is UTC, as the store writes times).
  The store compares its ISO text (`2026-12-07T18:00:00Z`): a hand-written row whose `at` is no
  such time sorts by its text.

A bad value is a `ValueError` whose text names the flag (argparse prints it as the error)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.core.durations import parse_duration
from tui.core.model import iso

VALUE_MAX = 1_000  # characters of a filter's value: the store keeps no longer user, action or target


@dataclass(frozen=True, slots=True)
class AuditFilter:
    user: str | None = None
    action: str | None = None
    target: str | None = None  # a piece of the target, case-insensitive
    since: str | None = None  # ISO UTC, as the store writes `at`

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.user, self.action, self.target, self.since))

    def conditions(self, dialect: str) -> tuple[list[str], list[Any]]:
        """SQL conditions on the audit table (no alias) and their arguments."""
        sql: list[str] = []
        args: list[Any] = []
        if self.user is not None:
            sql.append('"user" = ?')
            args.append(self.user)
        if self.action is not None:
            sql.append("action = ?")
            args.append(self.action)
        if self.target is not None:
            find = "strpos" if dialect == "postgresql" else "instr"
            sql.append(f"{find}(lower(target), lower(?)) > 0")
            args.append(self.target)
        if self.since is not None:
            sql.append("at >= ?")
            args.append(self.since)
        return sql, args

    def described(self) -> str:
        """`user ann, action delete, target web, since 2026-12-07T18:00:00Z` (for a line saying no row matched)."""
        parts = [f"{name} {value}" for name, value in (("user", self.user), ("action", self.action),
                                                       ("target", self.target), ("since", self.since))
                 if value is not None]
        return ", ".join(parts)


def name_value(flag: str, text: str) -> str:
    """A user, action or target to match: not empty, not longer than the store keeps."""
    if not text.strip():
        raise ValueError(f"{flag} needs a value (e.g. {flag} {_EXAMPLES.get(flag, 'NAME')})")
    if len(text) > VALUE_MAX:
        raise ValueError(f"{flag} is {len(text):,} characters long: at most {VALUE_MAX:,}")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(f"{flag} holds a control character")
    return text


_EXAMPLES = {"--user": "ann", "--action": "delete", "--target": "Pod/web"}


def since_value(text: str, now: datetime | None = None) -> str:
    """`2h`, `30m`, `1d`, `90s` before `now`, or an ISO time/date (UTC when it has no offset) → ISO UTC."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if not value:
        raise ValueError("--since needs a value (e.g. --since 2h or --since 2026-12-07T18:00)")
    try:
        seconds = parse_duration(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        start = now - timedelta(seconds=seconds)
    else:
        try:
            start = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"--since {value!r} is neither a duration (2h, 30m, 1d) nor an ISO time "
                             "(2026-12-07T18:00, 2026-12-07)") from None
        start = start.replace(tzinfo=UTC) if start.tzinfo is None else start
        if start > now:
            raise ValueError(f"--since {value!r} is in the future")
    try:
        return iso(start) or ""
    except (OverflowError, ValueError):
        raise ValueError(f"--since {value!r} is before year 1") from None
