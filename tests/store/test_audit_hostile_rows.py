"""Audit rows a team member wrote by hand (psql INSERT into the shared store) never break the
trail's read: params that are not a JSON object are flagged with their raw text as data, text
columns are cut by the database (a 5 MB message is not fetched whole), and recovery never marks
another database role's `pending` rows `interrupted` (PostgreSQL: db_user set by the server).

The "member" here is PostgreSQL's superuser connection of tests/postgres_server.py (its rows get
db_user `postgres`, not the store's role `envdeck`); on SQLite a second connection to the file."""

from __future__ import annotations

import sqlite3

from tui.core.audit_rows import MESSAGE_MAX, unreadable_note
from tui.core.store_sqlite import DB_NAME

COLUMNS = 'INSERT INTO audit (at, "user", env, target, action, params, origin, result, message, owner_pid) '


def forge(any_store, request, values_sql: str, *, as_role: str | None = None) -> None:
    """INSERT ... VALUES (values_sql) from outside envdeck (psql as another role, or sqlite3)."""
    sql = COLUMNS + f"VALUES ({values_sql})"
    if any_store.kind == "sqlite":
        with sqlite3.connect(any_store.state_dir / DB_NAME) as db:
            db.execute(sql)
        return
    prefix = f"SET SESSION AUTHORIZATION {as_role}; " if as_role else ""
    request.getfixturevalue("postgres_server").psql(prefix + sql, database=any_store.url.rsplit("/", 1)[1])


async def test_unreadable_params_are_flagged_and_the_rest_is_read(any_store, request):
    store = await any_store.open()
    try:
        await store.audit_record(user="u", env="prod", target="t", action="good", params={"a": 1},
                                 origin="cli", result="succeeded")
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','prod','x','not-json','not json\x1b[31m','cli','succeeded','m',1")
        forge(any_store, request, "'2026-12-07T11:42:00Z','root','prod','x','a-list','[1,2]','cli','succeeded','m',1")
        forge(any_store, request, "'2026-12-07T11:43:00Z','root','prod','x','deep','" + "[" * 5000 + "]" * 5000
              + "','cli','succeeded','m',1")
        forge(any_store, request, "'2026-12-07T11:44:00Z','root','prod','x','secret','{\"password\":\"hunter2\"','cli',"
              "'succeeded','m',1")
        rows = {r["action"]: r for r in await store.audit_entries("prod")}
        assert rows["good"]["params"] == {"a": 1} and rows["good"]["params_error"] is None
        assert rows["not-json"]["params"] == {} and rows["not-json"]["params_error"] == "not JSON"
        assert rows["not-json"]["params_raw"].startswith("not json")
        assert rows["a-list"]["params_error"] == "not a JSON object (list)"
        assert rows["deep"]["params_error"] == "not JSON" and rows["deep"]["params_raw"].endswith("…")
        assert "hunter2" not in rows["secret"]["params_raw"]  # raw text is redacted like any message
        note = unreadable_note(list(rows.values()))
        assert note is not None and note.startswith("warning: 4 audit rows with unreadable params")
    finally:
        await store.close()


async def test_a_huge_message_is_cut_by_the_database(any_store, request):
    store = await any_store.open()
    try:
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','prod','x','big','{}','cli','succeeded',"
              "repeat('A', 5000000),1" if any_store.kind == "postgres" else
              "'2026-12-07T11:41:00Z','root','prod','x','big','{}','cli','succeeded',"
              "replace(hex(zeroblob(2500000)), '0', 'A'),1")
        [row] = await store.audit_entries("prod")
        assert len(row["message"]) == MESSAGE_MAX and row["message_cut"] is True
        assert row["message_length"] == 5_000_000
        [short] = await store.audit_entries("prod", message_max=100)
        assert len(short["message"]) == 100 and short["message_length"] == 5_000_000
    finally:
        await store.close()


async def test_recovery_leaves_another_roles_pending_rows_alone(any_store, request):
    """A member's forged `pending` row without an owner (as rows before owners were recorded)
    is not marked interrupted by this process on PostgreSQL; the same row of this process's
    own role still is (and on SQLite, a one-user file, as before)."""
    store = await any_store.open()
    try:
        forge(any_store, request, "'2026-12-07T11:41:00Z','root','prod','x','forged','{}','cli','pending','',NULL")
        if any_store.kind == "postgres":
            forge(any_store, request, "'2026-12-07T11:41:00Z','root','prod','x','own-old','{}','cli','pending','',NULL",
                  as_role="envdeck")
        marked = await store.mark_interrupted()
        results = {r["action"]: (r["result"], r["db_user"]) for r in await store.audit_entries("prod")}
        if any_store.kind == "postgres":
            assert marked == 1
            assert results == {"forged": ("pending", "postgres"), "own-old": ("interrupted", "envdeck")}
        else:
            assert marked == 1 and results == {"forged": ("interrupted", None)}
    finally:
        await store.close()
