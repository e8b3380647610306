"""Audit rows a team member writes by hand into the store (psql on PostgreSQL as another role,
or a second sqlite3 connection to the file), envdeck's own rows beside them, and the `envdeck
audit` arguments that read that store: the setup the hostile-row and the bounds tests share."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tui.core.store_sqlite import DB_NAME

COLUMNS = 'INSERT INTO audit (at, "user", env, target, action, params, origin, result, message, owner_pid) '


def as_member(any_store, request, sql: str, *, as_role: str | None = None) -> None:
    """Run `sql` on the store from outside envdeck."""
    if any_store.kind == "sqlite":
        with sqlite3.connect(any_store.state_dir / DB_NAME) as db:
            db.execute(sql)
        return
    prefix = f"SET SESSION AUTHORIZATION {as_role}; " if as_role else ""
    request.getfixturevalue("postgres_server").psql(prefix + sql, database=any_store.url.rsplit("/", 1)[1])


def forge(any_store, request, values_sql: str, *, as_role: str | None = None) -> None:
    """INSERT ... VALUES (values_sql) from outside envdeck (psql as another role, or sqlite3)."""
    as_member(any_store, request, COLUMNS + f"VALUES ({values_sql})", as_role=as_role)


def repeated(any_store, char: str, times: int) -> str:
    """SQL for `times` (even) times `char`, on either engine."""
    if any_store.kind == "postgres":
        return f"repeat('{char}', {times})"
    return f"replace(hex(zeroblob({times // 2})), '0', '{char}')"


async def recorded(any_store, action: str) -> None:
    """One row written by envdeck itself: ann's `action` on dev, params {"k": "v"}, message "fine"."""
    store = await any_store.open()
    try:
        await store.audit_record(user="ann", env="dev", target="dev", action=action, params={"k": "v"},
                                 origin="cli", result="succeeded", message="fine")
    finally:
        await store.close()


def audit_args(any_store, tmp_path: Path) -> tuple[str, ...]:
    """`--config` (the dev environment, the store's URL when it is PostgreSQL) and `--state-dir`."""
    config = tmp_path / "envdeck.yaml"
    state_url = f"state:\n  url: {json.dumps(any_store.url)}\n" if any_store.url else ""
    config.write_text(state_url + "environments:\n  dev: {}\n")
    return ("--config", str(config), "--state-dir", str(any_store.state_dir))
