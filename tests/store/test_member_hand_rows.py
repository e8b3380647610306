"""What a team member with psql can write into the shared PostgreSQL store, checked on a real
server with the roles of docs/deploy/postgres-roles.sql (a login role IN envdeck_member), and
how the rows nobody but the owner can write (the timeline) are read when they are odd anyway.

- The member writes audit rows and nothing else: every other table (the timeline, leases,
  lifecycle rows, settings, snapshots, … — every table the schema has, so a table added by a
  later migration is covered) refuses INSERT, UPDATE, DELETE and TRUNCATE; an audit row's id
  and its identity sequence are the server's (no ids out of order), its other columns are not
  the member's to change afterwards, and no row may be deleted.
- The timeline is the owner's: a row with a time that is no time, before year 1 in UTC, in the
  future, without an offset, or a count that is no count, is shown in a resource's events
  flagged (tui/widgets/describe.py), never a traceback; its message is cut by the database."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import errors as pg_errors

from tui.core.audit_rows import TIMELINE_MESSAGE_MAX
from tui.core.store import MIGRATIONS
from tui.core.store_pg import open_pg
from tui.core.store_sqlite import DB_NAME
from tui.widgets.cells import Palette
from tui.widgets.describe import MESSAGE_LEN, events_text

OWNER_PASSWORD = "0wner-Pa55-envdeck"
MEMBER_PASSWORD = "m3mber-Pa55-mallory"


@pytest.fixture(scope="module")
def member_url(postgres_server, tmp_path_factory):
    """A database migrated by its owner and granted by the SQL file; the URL of a member's login."""
    database = f"m_{uuid.uuid4().hex[:12]}"
    owner = f"owner_{uuid.uuid4().hex[:8]}"
    postgres_server.psql(f"CREATE ROLE {owner} LOGIN PASSWORD '{OWNER_PASSWORD}'")
    postgres_server.psql(f"CREATE DATABASE {database} OWNER {owner} TEMPLATE template0")
    member = postgres_server.member_role("mallory", MEMBER_PASSWORD)
    pgpass = tmp_path_factory.mktemp("pgpass") / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:*:{owner}:{OWNER_PASSWORD}\n"
                      f"127.0.0.1:{postgres_server.port}:*:{member}:{MEMBER_PASSWORD}\n")
    pgpass.chmod(0o600)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PGPASSFILE", str(pgpass))
        mp.delenv("PGPASSWORD", raising=False)

        async def migrate() -> None:
            db = await open_pg(postgres_server.url(database, owner), MIGRATIONS)
            await db.close()

        asyncio.run(migrate())
        postgres_server.grant_team(database, owner)
    try:  # the tests' own environment is cleared for each test: libpq is given the file in the URL
        yield f"{postgres_server.url(database, member)}?passfile={pgpass}"
    finally:
        postgres_server.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def test_a_member_writes_audit_rows_and_nothing_else(member_url):
    with psycopg.connect(member_url, autocommit=True) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")]
        assert {"audit", "timeline", "leases", "managed_env", "lifecycle_steps", "settings"} <= set(tables)
        refused = []
        for table in tables:
            column = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                  "'public' AND table_name = %s ORDER BY ordinal_position LIMIT 1",
                                  (table,)).fetchone()[0]
            statements = [f'DELETE FROM "{table}"', f'TRUNCATE "{table}"']
            if table != "audit":
                statements += [f'INSERT INTO "{table}" DEFAULT VALUES', f'UPDATE "{table}" SET "{column}" = "{column}"']
            for sql in statements:
                with pytest.raises(pg_errors.InsufficientPrivilege):
                    conn.execute(sql)
                refused.append(sql)
        assert len(refused) == 4 * len(tables) - 2
        # an audit row: the server numbers it, and only result/message/finished_at of her own rows change
        for sql in ("INSERT INTO audit (id, at, \"user\", env, target, action, origin, result) OVERRIDING SYSTEM "
                    "VALUE VALUES (1, 'x', 'u', 'dev', 't', 'a', 'cli', 'ok')",
                    "SELECT setval(pg_get_serial_sequence('audit', 'id'), 1000000)",
                    "SELECT setval(pg_get_serial_sequence('timeline', 'id'), 1000000)",
                    "UPDATE audit SET at = 'x'", "UPDATE audit SET env = 'prod'", "UPDATE audit SET id = id + 1"):
            with pytest.raises(pg_errors.InsufficientPrivilege):
                conn.execute(sql)
        first = conn.execute("INSERT INTO audit (at, \"user\", env, target, action, origin, result) "
                             "VALUES ('9999-12-31T23:59:59Z', 'u', 'dev', 't', 'a', 'cli', 'pending') RETURNING id")
        second = conn.execute("INSERT INTO audit (at, \"user\", env, target, action, origin, result) "
                              "VALUES ('0001-01-01T00:00:00Z', 'u', 'dev', 't', 'a', 'cli', 'pending') RETURNING id")
        assert second.fetchone()[0] == first.fetchone()[0] + 1  # ids in the order written, whatever the times
        assert conn.execute("UPDATE audit SET result = 'ok', message = 'm' WHERE action = 'a'").rowcount == 2


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TIMELINE = [  # (at, count, message): the stored text of rows only the owner (or a hand with the file) writes
    ("2026-12-07T11:59:00Z", 1, "fine"),
    ("garbage", 1, "no time"),
    ("0001-01-01T00:00:00+14:00", 1, "before year 1 in UTC"),
    ("9999-12-31T23:59:59Z", 1, "in the future"),
    ("2026-12-07T11:00:00", 1, "no offset"),
    ("2026-12-07T11:58:00Z", "many", "a count that is no count"),
]


async def test_odd_stored_timeline_rows_are_flagged_in_a_resources_events(any_store, request):
    """Written by hand (on PostgreSQL as its superuser: a member cannot, above; on SQLite into the
    file), read through the store as the resource detail screen reads them; a message of 5 MB
    (outside text: an event's, a probe's output) is cut by the database."""
    store = await any_store.open()
    await store.close()
    rows = [*TIMELINE, ("2026-12-07T11:57:00Z", 1, "H" * 5_000_000)]
    sql = ("INSERT INTO timeline (at, env, resource, kind, severity, reason, message, count) "
           "VALUES ({}, 'dev', 'k/Pod/web', 'event', 'warning', 'Seen', {}, {})")
    if any_store.kind == "sqlite":
        with sqlite3.connect(any_store.state_dir / DB_NAME) as db:
            db.executemany(sql.format("?", "?", "?"), [(at, message, count) for at, count, message in rows])
    else:  # a count that is no count cannot be stored there (INTEGER)
        values = ";".join(sql.format(f"'{at}'", "repeat('H', 5000000)" if message.startswith("H") else f"'{message}'",
                                     count if isinstance(count, int) else 1) for at, count, message in rows)
        request.getfixturevalue("postgres_server").psql(values, database=any_store.url.rsplit("/", 1)[1])
    store = await any_store.open()
    try:
        entries = await store.timeline("dev")
    finally:
        await store.close()
    assert [len(e["message"]) for e in entries if e["message"].startswith("H")] == [TIMELINE_MESSAGE_MAX]
    groups: list[list[str]] = []  # one event: its head line, then its indented lines (flag, message)
    for line in events_text(entries, NOW, Palette({})).plain.splitlines():
        if line.startswith("     "):
            groups[-1].append(line.strip())
        else:
            groups.append([line])
    blocks = {group[-1]: (group[0], "\n".join(group)) for group in groups}
    assert len(blocks) == len(rows) and blocks["H" * (MESSAGE_LEN - 1) + "…"][0].startswith("  3m ")
    assert blocks["fine"][0].startswith("  1m ")
    assert blocks["no offset"][0].startswith("  1h ")  # taken as UTC, as envdeck writes times
    for message, at in (("no time", "garbage"), ("before year 1 in UTC", "0001-01-01T00:00:00+14:00")):
        assert blocks[message][0].startswith("   ⚠ ") and f"[time unreadable: {at}]" in blocks[message][1]
    assert blocks["in the future"][0].startswith("   ⚠ ")
    assert "[time in the future: 9999-12-31T23:59:59Z]" in blocks["in the future"][1]
    assert "×" not in blocks["a count that is no count"][0]
