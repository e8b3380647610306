"""The PostgreSQL store's own guarantees, on a real server (tests/postgres_server.py): the
password comes from libpq's places and never shows (errors, `doctor`), a URL carrying one
is refused naming the key, an old envdeck refuses a newer schema, `state.url` in the
config makes every command use PostgreSQL instead of the SQLite file."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.helpers import envdeck_inproc as envdeck  # the CLI's main() in this process
from tests.postgres_server import PG_PASSWORD
from tui.core.config import ConfigError, load_config
from tui.core.errors import StateError
from tui.core.model import AuditResult
from tui.core.store import DB_NAME, MIGRATIONS, STATE_URL_ENV, Store, open_store


async def test_the_password_comes_from_the_pgpass_file(pg_url, pgpass, tmp_path, monkeypatch):
    assert PG_PASSWORD not in pg_url
    monkeypatch.setenv(STATE_URL_ENV, pg_url)
    store = await open_store(None, tmp_path)
    await store.audit_record(user="ann", env="e", target="t", action="a", params={}, origin="cli",
                             result=AuditResult.SUCCEEDED)
    assert [e["user"] for e in await store.audit_entries()] == ["ann"]
    await store.close()
    pgpass.write_text(pgpass.read_text().replace(PG_PASSWORD, "not-the-password"))
    with pytest.raises(StateError) as refused:
        await open_store(None, tmp_path)
    assert "password authentication failed" in str(refused.value) and pg_url in str(refused.value)
    assert "not-the-password" not in str(refused.value) and PG_PASSWORD not in str(refused.value)


async def test_a_wrong_pgpassword_never_shows(pg_url, pgpass, tmp_path, monkeypatch):
    pgpass.write_text("")
    monkeypatch.setenv("PGPASSWORD", "hunter2-wrong")
    monkeypatch.setenv(STATE_URL_ENV, pg_url)
    with pytest.raises(StateError) as refused:
        await open_store(None, tmp_path)
    assert "password authentication failed" in str(refused.value)
    assert "hunter2-wrong" not in str(refused.value)


@pytest.mark.parametrize("url", [
    f"postgresql://envdeck:{PG_PASSWORD}@127.0.0.1/envdeck",
    f"postgresql://envdeck@127.0.0.1/envdeck?password={PG_PASSWORD}",
])
async def test_a_url_with_a_password_is_refused_naming_the_key(url, tmp_path, monkeypatch):
    monkeypatch.setenv(STATE_URL_ENV, url)
    with pytest.raises(StateError, match=r"\$ENVDECK_STATE_URL: must not carry a password") as refused:
        await open_store(None, tmp_path)
    assert PG_PASSWORD not in str(refused.value)
    monkeypatch.delenv(STATE_URL_ENV)
    config = tmp_path / "envdeck.yaml"
    config.write_text(f"state:\n  url: {json.dumps(url)}\n")
    with pytest.raises(ConfigError, match="state.url: must not carry a password") as bad:
        load_config(config)
    assert PG_PASSWORD not in str(bad.value)


def test_a_url_of_another_kind_is_refused(tmp_path):
    config = tmp_path / "envdeck.yaml"
    config.write_text("state:\n  url: mysql://db/envdeck\n")
    with pytest.raises(ConfigError, match="state.url: must be a postgresql:// URL"):
        load_config(config)


async def test_a_newer_schema_is_refused_by_an_older_envdeck(any_store, request):
    store = await any_store.open()
    await store.close()
    newer = len(MIGRATIONS) + 5
    if any_store.kind == "sqlite":
        con = sqlite3.connect(any_store.state_dir / DB_NAME)
        con.execute(f"PRAGMA user_version = {newer}")
        con.commit()
        con.close()
    else:
        server = request.getfixturevalue("postgres_server")
        server.psql(f"UPDATE schema_version SET version = {newer}", database=request.getfixturevalue("pg_database"))
    with pytest.raises(StateError, match=f"made by a newer envdeck \\(schema {newer}\\); upgrade envdeck"):
        await any_store.open()


async def test_the_config_state_url_is_used_by_the_commands(pg_url, tmp_path):
    """`state.url` in the config: the CLI reads and writes PostgreSQL (no SQLite file), and
    `doctor` shows the URL and never the password (here in PGPASSWORD)."""
    config = tmp_path / "envdeck.yaml"
    config.write_text(f"state:\n  url: {json.dumps(pg_url)}\nenvironments:\n  dev: {{}}\n")
    state = tmp_path / "state"
    store = await open_store(load_config(config), state)
    try:
        assert store.dialect == "postgresql"
        await store.audit_record(user="ann", env="dev", target="dev", action="note", params={}, origin="cli",
                                 result=AuditResult.SUCCEEDED, message="from postgres")
    finally:
        await store.close()
    env = {"PGPASSWORD": PG_PASSWORD, "PGPASSFILE": "/dev/null"}
    listed = envdeck("audit", "--json", "--config", str(config), "--state-dir", str(state), **env)
    assert listed.returncode == 0, listed.stderr
    assert "from postgres" in listed.stdout
    assert not (state / DB_NAME).exists()
    doctor = envdeck("doctor", "--config", str(config), "--state-dir", str(state), **env)
    assert f"state {pg_url}: PostgreSQL " in doctor.stdout, doctor.stdout + doctor.stderr
    assert PG_PASSWORD not in doctor.stdout + doctor.stderr
    logs = "".join(p.read_text(errors="replace") for p in state.glob("envdeck.log*"))
    assert PG_PASSWORD not in logs


async def test_recovery_marks_only_this_hosts_gone_owners(any_store):
    """Recovery on a shared store: a pending row of a process of this host that is gone is
    marked interrupted; a pending row of another host is left alone."""
    store = await any_store.open()
    try:
        for host, pid in (("another-host.example", 1), (None, None)):
            await store._db.execute(
                'INSERT INTO audit (at, "user", env, target, action, params, origin, result, owner_host, '
                "owner_pid, owner_start, owner_pidns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                ("2026-01-01T00:00:00Z", "u", "e", "t", f"on-{host or 'here'}", "{}", "cli", "pending",
                 host, pid, "boot:1", "pid:[1]"))
        from tui.core.owner import this_process

        me = this_process()
        await store._db.execute(
            'INSERT INTO audit (at, "user", env, target, action, params, origin, result, owner_host, '
            "owner_pid, owner_start, owner_pidns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            ("2026-01-01T00:00:00Z", "u", "e", "t", "gone-here", "{}", "cli", "pending", me.host, me.pid,
             "another-start", me.pidns))
        assert await store.mark_interrupted() == 2
        results = {e["action"]: e["result"] for e in await store.audit_entries()}
        assert results == {"on-another-host.example": "pending", "on-here": "interrupted",
                           "gone-here": "interrupted"}
    finally:
        await store.close()


async def test_sqlite_stays_the_default_without_a_url(tmp_path):
    store = await open_store(load_config_text(tmp_path, "environments: {}\n"), tmp_path / "state")
    try:
        assert store.dialect == "sqlite" and isinstance(store, Store)
    finally:
        await store.close()
    assert (tmp_path / "state" / DB_NAME).exists()


def load_config_text(tmp_path, text: str):
    path = tmp_path / "envdeck.yaml"
    path.write_text(text)
    return load_config(path)


async def test_a_service_file_names_the_server(postgres_server, pg_database, pgpass, tmp_path, monkeypatch):
    """libpq's service file (PGSERVICEFILE) gives host, port, database and user; the URL only
    names the service, the password still comes from the pgpass file."""
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[envdeck-test]\nhost=127.0.0.1\nport={postgres_server.port}\ndbname={pg_database}\n"
                        "user=envdeck\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    monkeypatch.setenv(STATE_URL_ENV, "postgresql://?service=envdeck-test")
    store = await open_store(None, tmp_path / "state")
    try:
        assert store.dialect == "postgresql" and await store.schema_version() == len(MIGRATIONS)
    finally:
        await store.close()
    assert postgres_server.psql("SELECT version FROM schema_version", database=pg_database) == str(len(MIGRATIONS))


async def test_a_connection_cut_by_the_server_is_opened_again(postgres_server, pg_url, pg_database, tmp_path,
                                                              monkeypatch):
    """The server ends the store's session (a restart, an admin): a read that meets the break
    runs again on a new connection; a write that meets it is one clear StateError naming the URL
    (never acknowledged, so never lost unknowingly) and the next one runs on a new connection."""
    monkeypatch.setenv(STATE_URL_ENV, pg_url)
    store = await open_store(None, tmp_path)

    def cut() -> None:
        assert postgres_server.psql(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{pg_database}' AND pid <> pg_backend_pid()") == "1"

    try:
        await store.set_setting("k", "before")
        cut()
        assert await store.get_setting("k") == "before"
        cut()
        with pytest.raises(StateError, match=f"^{pg_url}: cannot use the store: "):
            await store.set_setting("k", "lost")
        assert await store.get_setting("k") == "before"
        await store.set_setting("k", "after")
        assert postgres_server.psql("SELECT value FROM settings WHERE key = 'k'", database=pg_database) == "after"
    finally:
        await store.close()


async def test_envdecks_starting_together_migrate_once(pg_url, tmp_path, monkeypatch):
    """Four envdecks open a new database at once: one migrates under the advisory lock, the
    others find it done (no `relation already exists`)."""
    import asyncio

    monkeypatch.setenv(STATE_URL_ENV, pg_url)
    stores = await asyncio.gather(*(open_store(None, tmp_path / f"s{i}") for i in range(4)))
    try:
        assert [await s.schema_version() for s in stores] == [len(MIGRATIONS)] * 4
    finally:
        for s in stores:
            await s.close()


async def test_text_orders_byte_by_byte_as_on_sqlite_whatever_the_locale(postgres_server, pgpass, tmp_path,
                                                                        monkeypatch):
    """A database whose locale sorts `a` before `B` (ICU en-US): the store's text still orders
    and compares byte by byte, as SQLite's does (`B` before `a`)."""
    name = "t_icu_" + tmp_path.name.replace("-", "_")[-20:].lower()
    try:
        postgres_server.psql(f"CREATE DATABASE {name} OWNER envdeck TEMPLATE template0 "
                             "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
    except RuntimeError as exc:
        pytest.skip(f"this PostgreSQL has no ICU: {exc}")
    try:
        assert postgres_server.psql("SELECT string_agg(x, ',' ORDER BY x) FROM (VALUES ('B'), ('a')) v(x)",
                                    database=name) == "a,B"
        monkeypatch.setenv(STATE_URL_ENV, postgres_server.url(name))
        store = await open_store(None, tmp_path)
        try:
            for rid in ("r/a", "r/B"):
                await store.set_overlay("e", rid, "replicas", 1, user="u")
            assert [o["resource"] for o in await store.overlays("e")] == ["r/B", "r/a"]
        finally:
            await store.close()
    finally:
        postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
