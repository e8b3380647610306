"""The PostgreSQL migration-lock wait is said once on the CLI's stderr, as `envdeck: ...`, not a
second time without the prefix (the store's log record reaching Python's last-resort handler).
Real PostgreSQL (tests/postgres_server.py); the lock held by a member role's own connection."""

from __future__ import annotations

from tests.helpers import envdeck
from tests.store.test_migration_lock import holder, member  # noqa: F401 - fixtures
from tui.core.store_pg import MIGRATION_WAIT_ENV


def test_the_wait_notice_is_one_line_on_the_cli(pg_url, holder, member, tmp_path):  # noqa: F811
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments:\n  staging:\n    aws: {region: us-east-1, tags: {env: staging}}\n")
    done = envdeck("--config", str(config), "--state-dir", str(tmp_path / "state"), "env", "list", timeout=120,
                   ENVDECK_STATE_URL=pg_url, **{MIGRATION_WAIT_ENV: "1"})
    assert done.returncode == 1, (done.stdout, done.stderr)
    waiting = [line for line in done.stderr.splitlines() if "waiting up to 1s" in line]
    assert len(waiting) == 1, done.stderr
    assert waiting[0].startswith("envdeck: ") and f"role {member}" in waiting[0], done.stderr
    logged = (tmp_path / "state" / "envdeck.log").read_text()
    assert "waiting up to 1s for the schema's migration lock" in logged, logged  # kept in the file log
