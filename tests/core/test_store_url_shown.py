"""A store URL in a message shows no query value and no password (tui/core/store.py
`shown_url`): `postgresql://…?application_name=sk_live_…: cannot connect` once echoed the
whole URL. On a real PostgreSQL (tests/postgres_server.py)."""

from __future__ import annotations

import pytest

from tests.helpers import envdeck_inproc as envdeck  # the CLI's main() in this process
from tests.postgres_server import PG_PASSWORD
from tui.core.errors import StateError
from tui.core.store import STATE_URL_ENV, open_store, shown_url

TOKEN = "sk_live_abcdefghijklmnop1234"


@pytest.mark.parametrize(("url", "shown"), [
    (f"postgresql://envdeck@db:5432/envdeck?application_name={TOKEN}&sslmode=require",
     "postgresql://envdeck@db:5432/envdeck?application_name=***&sslmode=***"),
    ("postgresql://envdeck:pa55@db/envdeck", "postgresql://envdeck:***@db/envdeck"),
    ("postgresql://envdeck@db/envdeck", "postgresql://envdeck@db/envdeck"),
    ("postgresql://db/envdeck#frag", "postgresql://db/envdeck"),
    ("postgresql://[::1/x", "<the state URL>"),
])
def test_shown_url(url, shown):
    assert shown_url(url) == shown


async def test_a_connect_error_hides_the_query_values(postgres_server, pgpass, tmp_path, monkeypatch):
    url = postgres_server.url("no_such_database") + f"?application_name={TOKEN}"
    monkeypatch.setenv(STATE_URL_ENV, url)
    with pytest.raises(StateError) as caught:
        await open_store(None, tmp_path / "state")
    text = str(caught.value)
    assert TOKEN not in text
    assert f"{postgres_server.url('no_such_database')}?application_name=***: cannot connect" in text


async def test_an_open_store_names_itself_without_the_query_values(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv(STATE_URL_ENV, pg_url + f"?application_name={TOKEN}")
    store = await open_store(None, tmp_path / "state")
    try:
        assert store.path == pg_url + "?application_name=***"
        assert TOKEN not in str(store.path)
    finally:
        await store.close()


def test_the_cli_error_and_doctor_hide_them(postgres_server, pg_url, tmp_path):
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments:\n  dev: {}\n")
    env = {STATE_URL_ENV: pg_url + f"?application_name={TOKEN}", "PGPASSWORD": PG_PASSWORD, "PGPASSFILE": "/dev/null"}
    doctor = envdeck("doctor", "--config", str(config), "--state-dir", str(tmp_path / "state"), **env)
    assert f"state {pg_url}?application_name=***:" in doctor.stdout, doctor.stdout + doctor.stderr
    bad = {**env, STATE_URL_ENV: postgres_server.url("no_such_database") + f"?application_name={TOKEN}"}
    failed = envdeck("audit", "--config", str(config), "--state-dir", str(tmp_path / "state"), **bad)
    assert failed.returncode != 0 and "application_name=***: cannot connect" in failed.stderr, failed.stderr
    out = doctor.stdout + doctor.stderr + failed.stdout + failed.stderr
    assert TOKEN not in out and PG_PASSWORD not in out and "Traceback" not in out
