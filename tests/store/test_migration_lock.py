"""The schema's migration lock on PostgreSQL (tui/core/store_pg.py): any role of the team
database can take the advisory lock the migrations use (`SELECT pg_advisory_lock(…)` in psql),
so an envdeck that must migrate waits for it only so long, says after a moment who holds it and
then fails naming that session (exit 1, one line, no traceback) instead of hanging; an envdeck
whose schema is current does not take the lock at all. Real PostgreSQL
(tests/postgres_server.py); the holder is a member role's own psql-like connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.helpers import envdeck
from tui.core.errors import StateError
from tui.core.store import MIGRATIONS
from tui.core.store_pg import _MIGRATION_LOCK, MIGRATION_WAIT_ENV, open_pg

MEMBER_PASSWORD = "m3mber-Pa55-mallory"
APP = "holding-it"


@pytest.fixture(scope="module")
def member(postgres_server) -> str:
    """A login role that is not the store's owner (any role may take advisory locks)."""
    name = f"mallory_{uuid.uuid4().hex[:8]}"
    postgres_server.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{MEMBER_PASSWORD}'")
    return name


@pytest.fixture
def holder(postgres_server, pg_database, pgpass, member) -> Iterator[psycopg.Connection]:
    """The member's session holding the migration lock of the test database (as psql would)."""
    with pgpass.open("a") as f:
        f.write(f"127.0.0.1:{postgres_server.port}:*:{member}:{MEMBER_PASSWORD}\n")
    conn = psycopg.connect(postgres_server.url(pg_database, member), autocommit=True, application_name=APP)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        yield conn
    finally:
        conn.close()


def _schema_version(postgres_server, database: str) -> str:
    if postgres_server.psql("SELECT to_regclass('schema_version') IS NULL", database) == "t":
        return "none"
    return postgres_server.psql("SELECT MAX(version) FROM schema_version", database)


async def test_a_held_lock_is_said_then_fails_naming_its_holder_not_a_hang(
        postgres_server, pg_database, pg_url, holder, member, monkeypatch, capsys):
    monkeypatch.setenv(MIGRATION_WAIT_ENV, "1")
    pid = holder.info.backend_pid
    with pytest.raises(StateError) as failed:
        await asyncio.wait_for(open_pg(pg_url, MIGRATIONS), 30)  # a guard far above the bound
    text = str(failed.value)
    assert "migration lock is held by" in text and f"pid {pid}" in text and f"role {member}" in text, text
    assert APP in text and "gave up after 1s" in text and MIGRATION_WAIT_ENV in text, text
    said = capsys.readouterr().err
    assert "waiting up to 1s for the schema's migration lock" in said and f"role {member}" in said, said
    assert _schema_version(postgres_server, pg_database) == "none"  # nothing was migrated


async def test_the_migration_goes_on_once_the_holder_lets_go(postgres_server, pg_database, pg_url, holder, member):
    told: list[str] = []

    def let_go(text: str) -> None:
        told.append(text)
        holder.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    from tui.core.store_pg import PgDb, _connect

    db = PgDb(await _connect(pg_url), pg_url)
    try:
        assert await asyncio.wait_for(db.migrate(MIGRATIONS, wait_s=30, on_wait=let_go), 60) == len(MIGRATIONS)
    finally:
        await db.close()
    assert len(told) == 1 and f"role {member}" in told[0], told
    assert _schema_version(postgres_server, pg_database) == str(len(MIGRATIONS))


async def test_a_current_schema_opens_without_the_lock(postgres_server, pg_database, pg_url, member, pgpass,
                                                       monkeypatch):
    await (await open_pg(pg_url, MIGRATIONS)).close()  # migrated by the owner
    with pgpass.open("a") as f:
        f.write(f"127.0.0.1:{postgres_server.port}:*:{member}:{MEMBER_PASSWORD}\n")
    with psycopg.connect(postgres_server.url(pg_database, member), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        monkeypatch.setenv(MIGRATION_WAIT_ENV, "0")  # any wait at all would fail
        db = await asyncio.wait_for(open_pg(pg_url, MIGRATIONS), 60)
        assert await db.schema_version() == len(MIGRATIONS)
        await db.close()


def test_the_cli_on_a_fresh_database_exits_1_naming_the_holder(pg_url, holder, member, tmp_path):
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments:\n  staging:\n    aws: {region: us-east-1, tags: {env: staging}}\n")
    done = envdeck("--config", str(config), "--state-dir", str(tmp_path / "state"), "env", "list", timeout=120,
                   ENVDECK_STATE_URL=pg_url, **{MIGRATION_WAIT_ENV: "1"})
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert any("waiting up to 1s" in line for line in lines), done.stderr
    assert lines[-1].startswith("envdeck: ") and "migration lock is held by" in lines[-1], done.stderr
    assert f"role {member}" in lines[-1] and f"pid {holder.info.backend_pid}" in lines[-1], done.stderr


async def test_two_envdecks_starting_together_migrate_once_through_the_polled_lock(postgres_server, pg_database,
                                                                                   pg_url):
    first, second = await asyncio.wait_for(asyncio.gather(open_pg(pg_url, MIGRATIONS), open_pg(pg_url, MIGRATIONS)),
                                           60)
    try:
        assert await first.schema_version() == await second.schema_version() == len(MIGRATIONS)
    finally:
        await first.close()
        await second.close()
    assert postgres_server.psql("SELECT COUNT(*) FROM schema_version", pg_database) == "1"
    assert _schema_version(postgres_server, pg_database) == str(len(MIGRATIONS))
