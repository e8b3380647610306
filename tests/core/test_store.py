"""The store on both engines (the `any_store` fixture of tests/postgres_server.py: SQLite and a
real PostgreSQL): migrations, pending → interrupted, redaction, snapshots, drifts, samples.
The SQLite file's own guarantees (mode 0600, WAL, a refused state directory) stay SQLite-only;
tests/core/test_store_pg.py has PostgreSQL's (password, schema version)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from tui.core.errors import StateError
from tui.core.model import AuditResult, DriftItem, Health, Resource, now_utc
from tui.core.store import DB_NAME, MIGRATIONS, Store, redact_params


async def test_new_store_is_migrated_and_in_wal_mode(any_store):
    store = await any_store.open()
    try:
        assert await store.schema_version() == len(MIGRATIONS)
        assert await store.integrity_check() == "ok"
        assert {"audit", "timeline", "snapshots", "drifts", "managed_env"} <= await store.tables()
        if any_store.kind == "sqlite":
            assert await store.journal_mode() == "wal"
        else:
            assert (await store.journal_mode()).startswith("PostgreSQL ")
    finally:
        await store.close()
    if any_store.kind == "sqlite":
        assert (any_store.state_dir / DB_NAME).stat().st_mode & 0o077 == 0
    else:
        assert not (any_store.state_dir / DB_NAME).exists(), "PostgreSQL configured: no SQLite file"


async def test_migrating_again_changes_nothing(any_store):
    first = await any_store.open()
    await first.audit_record(user="u", env="e", target="t", action="a", params={}, origin="cli", result="denied")
    await first.close()
    again = await any_store.open()
    try:
        assert await again.migrate() == len(MIGRATIONS)
        assert [e["action"] for e in await again.audit_entries()] == ["a"]
    finally:
        await again.close()


async def test_pending_rows_of_a_running_process_are_not_interrupted_at_start(any_store):
    """Recovery marks only rows whose owner is gone (tests/reliability/test_audit_owner.py
    kills real owner processes); this process still runs, so its row stays pending."""
    store = await any_store.open()
    done = await store.audit_begin(user="u", env="e", target="t", action="restart", params={}, origin="cli")
    await store.audit_finish(done, AuditResult.SUCCEEDED, "ok")
    scale = await store.audit_begin(user="u", env="e", target="t", action="scale", params={"replicas": 3},
                                    origin="tui")
    await store.close()

    reopened = await any_store.open()
    try:
        entries = {e["action"]: e for e in await reopened.audit_entries()}
        assert entries["restart"]["result"] == "succeeded"
        assert entries["scale"]["result"] == "pending"
        assert entries["scale"]["params"] == {"replicas": 3}
        assert await reopened.audit_finish(scale, AuditResult.SUCCEEDED, "scaled") is True
        assert await reopened.audit_finish(scale, AuditResult.FAILED, "again") is False, "finished is final"
    finally:
        await reopened.close()


def test_secret_params_are_redacted():
    assert redact_params({"replicas": 3, "password": "hunter2", "nested": {"api_key": "x", "n": 1},
                          "AWS_SECRET_ACCESS_KEY": "abc"}) == {
        "replicas": 3, "password": "***", "nested": {"api_key": "***", "n": 1}, "AWS_SECRET_ACCESS_KEY": "***"}


async def test_audit_params_never_store_secrets(any_store, request):
    store = await any_store.open()
    await store.audit_record(user="u", env="e", target="t", action="a", params={"token": "s3cr3t"}, origin="cli",
                             result=AuditResult.DENIED, message="no")
    await store.close()
    if any_store.kind == "postgres":  # every stored column of every audit row, read on the server
        stored = request.getfixturevalue("postgres_server").psql(
            "SELECT string_agg(a::text, '') FROM audit a", database=request.getfixturevalue("pg_database"))
        assert '""token"": ""***""' in stored and "s3cr3t" not in stored
        return
    tmp_path = any_store.state_dir
    assert b"s3cr3t" not in (tmp_path / DB_NAME).read_bytes()
    wal = tmp_path / (DB_NAME + "-wal")
    assert not wal.exists() or b"s3cr3t" not in wal.read_bytes()


async def test_newer_schema_is_refused(tmp_path):
    store = await Store.open(tmp_path)
    await store.close()
    con = sqlite3.connect(tmp_path / DB_NAME)
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    con.commit()
    con.close()
    with pytest.raises(StateError, match="newer envdeck"):
        await Store.open(tmp_path)


async def test_read_only_state_dir_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os
        if os.geteuid() == 0:
            pytest.skip("root ignores directory permissions; the full-disk case is covered in tests/reliability")
        with pytest.raises(StateError, match="not writable"):
            await Store.open(ro)
    finally:
        ro.chmod(0o700)


async def test_state_dir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(StateError, match="cannot create the state directory"):
        await Store.open(tmp_path / "f" / "state")


async def test_snapshots_round_trip_and_sync(any_store):
    store = await any_store.open()
    try:
        a = Resource(id="aws/app/a", backend="aws", kind="app", name="a", health=Health.HEALTHY,
                     observed_at=now_utc(), attributes={"x": [1, 2]})
        b = Resource(id="aws/app/b", backend="aws", kind="app", name="b")
        await store.sync_snapshot("e", "aws", [a, b], [], full=True)
        await store.sync_snapshot("e", "aws", [], ["aws/app/b"])
        snap = await store.load_snapshot("e")
        assert [r.id for r in snap["aws"]] == ["aws/app/a"]
        assert snap["aws"][0].attributes == {"x": [1, 2]} and snap["aws"][0].health is Health.HEALTHY
    finally:
        await store.close()


async def test_drifts_open_and_resolve(any_store):
    store = await any_store.open()
    try:
        d = DriftItem("aws/app/web", "replicas", 3, 1)
        assert await store.record_drifts("e", "aws", [d], now_utc()) == [d]
        assert await store.record_drifts("e", "aws", [d], now_utc()) == []
        assert len(await store.open_drifts("e")) == 1
        await store.record_drifts("e", "aws", [], now_utc())
        assert await store.open_drifts("e") == []
    finally:
        await store.close()


async def test_metric_samples_and_retention(any_store):
    store = await any_store.open()
    try:
        old = now_utc() - timedelta(days=3)
        await store.add_samples("e", [("r", "cpu", 1.0)], old)
        await store.add_samples("e", [("r", "cpu", 2.0)], now_utc())
        assert [v for _, v in await store.samples("e", "r", "cpu", old - timedelta(seconds=1))] == [1.0, 2.0]
        assert await store.prune_samples_batch("e", now_utc() - timedelta(days=1), 1000) == 1
        assert [v for _, v in await store.samples("e", "r", "cpu", old)] == [2.0]
    finally:
        await store.close()
