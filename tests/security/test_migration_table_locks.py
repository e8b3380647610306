"""Team mode on PostgreSQL: a member's open transaction on a store table (even a SELECT on
`audit`) or its `LOCK TABLE leases IN ACCESS SHARE MODE` must not stall an owner's upgrade
migration without bound, nor the whole team queued behind its ALTER: each migration statement
waits for a table's lock only `MIGRATION_LOCK_TIMEOUT_S` (lock_timeout; the transaction is rolled
back, so the queue behind it drains), is tried again within the migration wait's bound, says once
who holds the table (pid, role, lock, table), and past the bound fails naming them. Real
PostgreSQL (tests/postgres_server.py), the roles of docs/deploy/postgres-roles.sql."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest

from tui.core import store_pg
from tui.core.errors import StateError
from tui.core.store import MIGRATIONS
from tui.core.store_pg import PgDb, _connect, open_pg

MEMBER_PASSWORD = "m3mber-Pa55-locks"
APP = "member-psql"
#: the next envdeck's migration, as an upgrade adds a column
UPGRADE = [*MIGRATIONS, "ALTER TABLE audit ADD COLUMN lock_probe INTEGER; ALTER TABLE leases ADD COLUMN lock_probe INTEGER"]


@pytest.fixture(scope="module")
def member(postgres_server) -> str:
    return postgres_server.member_role("bob", MEMBER_PASSWORD)


@pytest.fixture
def team(postgres_server, pg_database, pgpass, member) -> Iterator[tuple[str, psycopg.Connection]]:
    """(the owner's URL, the member's own connection) on a store the owner migrated and the SQL
    file granted."""
    with pgpass.open("a") as f:
        f.write(f"127.0.0.1:{postgres_server.port}:*:{member}:{MEMBER_PASSWORD}\n")
    owner_url = postgres_server.url(pg_database)

    async def migrate() -> None:
        await (await open_pg(owner_url, MIGRATIONS)).close()

    asyncio.run(migrate())
    postgres_server.grant_team(pg_database)
    conn = psycopg.connect(postgres_server.url(pg_database, member), application_name=APP)  # not autocommit: psql's BEGIN
    try:
        yield owner_url, conn
    finally:
        conn.close()


def _version(postgres_server, database: str) -> int:
    return int(postgres_server.psql("SELECT MAX(version) FROM schema_version", database))


async def test_a_members_open_select_on_audit_fails_the_upgrade_naming_her_not_a_hang(
        postgres_server, pg_database, team, member, monkeypatch):
    owner_url, conn = team
    monkeypatch.setattr(store_pg, "MIGRATION_LOCK_TIMEOUT_S", 0.2)  # each try's wait: short in a test
    conn.execute("SELECT count(*) FROM audit").fetchone()  # her transaction stays open: AccessShareLock
    told: list[str] = []
    db = PgDb(await _connect(owner_url), owner_url)
    try:
        with pytest.raises(StateError) as failed:
            await asyncio.wait_for(db.migrate(UPGRADE, wait_s=1, on_wait=told.append), 30)  # a guard far above
    finally:
        await db.close()
    text = str(failed.value)
    pid = conn.info.backend_pid
    assert f"its tables are locked by pid {pid} (role {member}, application {APP}" in text, text
    assert "holding AccessShareLock on audit" in text and "gave up after 1s" in text, text
    assert len(told) == 1 and f"pid {pid}" in told[0] and "waiting up to 1s to migrate" in told[0], told
    assert _version(postgres_server, pg_database) == len(MIGRATIONS), "nothing half-migrated"
    # nobody queues behind the owner's ALTER now: another member's read goes through at once
    conn.rollback()
    with psycopg.connect(postgres_server.url(pg_database, member), autocommit=True) as other:
        other.execute("SET statement_timeout = '5s'")
        assert other.execute("SELECT count(*) FROM audit").fetchone()[0] >= 0


async def test_a_members_lock_table_is_waited_for_then_the_upgrade_goes_on(
        postgres_server, pg_database, team, member, monkeypatch):
    owner_url, conn = team
    monkeypatch.setattr(store_pg, "MIGRATION_LOCK_TIMEOUT_S", 0.2)
    conn.execute("LOCK TABLE leases IN ACCESS SHARE MODE")
    told: list[str] = []

    def let_go(text: str) -> None:  # told who holds it: she ends her transaction
        told.append(text)
        conn.rollback()

    db = PgDb(await _connect(owner_url), owner_url)
    try:
        assert await asyncio.wait_for(db.migrate(UPGRADE, wait_s=30, on_wait=let_go), 60) == len(UPGRADE)
    finally:
        await db.close()
    assert len(told) == 1 and "holding AccessShareLock on leases" in told[0] and f"role {member}" in told[0], told
    assert _version(postgres_server, pg_database) == len(UPGRADE)
