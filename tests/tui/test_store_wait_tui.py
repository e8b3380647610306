"""The TUI says on its own screen that its PostgreSQL store waits for the schema's migration
lock, and who holds it (the CLI says it on stderr: tests/store/test_migration_lock.py). On
stderr, under a drawn TUI, the line was hidden or garbled the screen. A member role's own
connection holds the lock on the real server (tests/postgres_server.py) until the test lets go;
the notice goes once the session opened."""

from __future__ import annotations

from tests.store.test_migration_lock import holder, member  # noqa: F401 - fixtures
from tests.tui.pilot import app_ready, make_app, wait_until
from tui.core.store import STATE_URL_ENV
from tui.core.store_pg import _MIGRATION_LOCK, MIGRATION_WAIT_ENV

WAITING = "waiting up to 30s for the schema's migration lock, held by"


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_the_migration_lock_wait_is_shown_in_the_tui_until_the_session_opens(
        tmp_path, stage, pg_url, holder, member, monkeypatch, capfd):  # noqa: F811 - the fixtures above
    monkeypatch.setenv(STATE_URL_ENV, pg_url)
    monkeypatch.delenv(MIGRATION_WAIT_ENV, raising=False)  # the default bound, 30 s
    app = make_app(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: any(WAITING in n for n in notes(app)), "the wait said in the TUI",
                         explain=lambda: notes(app))
        said = next(n for n in notes(app) if WAITING in n)
        assert f"role {member}" in said and f"pid {holder.info.backend_pid}" in said, said
        assert app.session is None  # still waiting: nothing opened behind the notice
        holder.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
        await app_ready(pilot)
        await wait_until(pilot, lambda: not any(WAITING in n for n in notes(app)), "the notice gone once open",
                         explain=lambda: notes(app))
    assert "migration lock" not in capfd.readouterr().err  # nothing written under the drawn screen
