"""`envdeck audit --user/--action/--target/--since` (on-call finding, session 11: after one 90-node
`envdeck run` the 50 newest rows were all `run edge/node/gw-NN`, and an earlier pod delete could
only be found by `--env`). The filters are combinable and applied in the store's query, so
`--limit` counts matching rows; `--json` honours them; a bad value is an error naming its flag.
The real CLI (in-process) on both store engines (SQLite, and the PostgreSQL server of
tests/postgres_server.py), filled through the store."""

from __future__ import annotations

import asyncio
import json

from tests.helpers import envdeck_inproc
from tui.core.audit_filter import AuditFilter, since_value

CONFIG = "environments:\n  prod: {}\n  dev: {}\n"


async def _fill(any_store) -> None:
    store = await any_store.open()
    try:
        async def row(user: str, env: str, target: str, action: str, at: str) -> None:
            await store.audit_record(user=user, env=env, target=target, action=action, params={},
                                     origin="cli", result="succeeded", message=f"{action} by {user}")
            await store._db.execute("UPDATE audit SET at = ? WHERE id = (SELECT MAX(id) FROM audit)", (at,))

        await row("ann", "prod", "kubernetes/Pod/web-1", "delete", "2026-12-07T08:00:00Z")
        await row("bob", "prod", "kubernetes/Deployment/web", "restart", "2026-12-07T09:00:00Z")
        await row("ann", "dev", "kubernetes/Pod/web-2", "delete", "2026-12-07T10:00:00Z")
        for i in range(90):  # a fleet run: one row per node, the newest rows of the trail
            await row("bob", "prod", f"edge/node/gw-{i:02d}", "run", "2026-12-07T11:00:00Z")
        # the store's query, on both engines: every filter narrows, in SQL (limit counts matches)
        rows = await store.audit_entries(limit=50, where=AuditFilter(action="delete"))
        assert [r["target"] for r in rows] == ["kubernetes/Pod/web-2", "kubernetes/Pod/web-1"]
        rows = await store.audit_entries(limit=50, where=AuditFilter(target="POD/WEB", user="ann",
                                                                     since="2026-12-07T09:30:00Z"))
        assert [r["target"] for r in rows] == ["kubernetes/Pod/web-2"]
        rows = await store.audit_entries("prod", limit=5, where=AuditFilter(target="gw-0", since="2026-12-07T11:00:00Z"))
        assert [r["target"] for r in rows] == [f"edge/node/gw-{i:02d}" for i in (9, 8, 7, 6, 5)]
        # `%` and `_` are text, not patterns
        assert await store.audit_entries(limit=5, where=AuditFilter(target="gw_0")) == []
        assert await store.audit_entries(limit=5, where=AuditFilter(target="%")) == []
    finally:
        await store.close()


def test_audit_filters_on_both_engines(any_store, tmp_path):
    asyncio.run(_fill(any_store))
    config = tmp_path / "envdeck.yaml"
    config.write_text(CONFIG)
    env = {"ENVDECK_STATE_URL": any_store.url} if any_store.url else {}

    def audit(*args: str):
        return envdeck_inproc("audit", *args, "--config", str(config), "--state-dir", str(any_store.state_dir), **env)

    plain = audit()
    assert plain.returncode == 0, plain.stderr
    assert all(" run edge/node/gw-" in line for line in plain.stdout.splitlines()), "the run fills the 50 newest"

    deletes = audit("--action", "delete")
    assert deletes.returncode == 0, deletes.stderr
    lines = deletes.stdout.splitlines()
    assert [line.split()[6:8] for line in lines] == [["delete", "kubernetes/Pod/web-1"],
                                                    ["delete", "kubernetes/Pod/web-2"]], deletes.stdout

    combined = audit("--user", "bob", "--target", "deployment", "--env", "prod", "--since", "2026-12-07T08:30")
    assert [line.split()[6:8] for line in combined.stdout.splitlines()] == [["restart", "kubernetes/Deployment/web"]]

    as_json = audit("--json", "--action", "run", "--target", "gw-8", "--limit", "3")
    entries = json.loads(as_json.stdout)["entries"]
    assert [e["target"] for e in entries] == ["edge/node/gw-89", "edge/node/gw-88", "edge/node/gw-87"]
    assert set(entries[0]) >= {"id", "at", "user", "env", "target", "action", "params", "origin", "result",
                               "message", "finished_at"}, "the JSON fields stay"

    none = audit("--user", "carol")
    assert none.returncode == 0 and none.stdout == ""
    assert "no audit row matches user carol" in none.stderr

    for flag, value, said in (("--since", "yesterday", "--since 'yesterday' is neither a duration"),
                              ("--since", "2999-01-01", "--since '2999-01-01' is in the future"),
                              ("--user", "", "--user needs a value"),
                              ("--target", "x" * 1001, "--target is 1,001 characters long")):
        bad = audit(flag, value)
        assert bad.returncode == 2, bad.stderr
        assert said in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_since_reads_durations_and_times():
    from datetime import UTC, datetime

    now = datetime(2026, 12, 7, 20, 0, 0, tzinfo=UTC)
    assert since_value("2h", now) == "2026-12-07T18:00:00Z"
    assert since_value("1d", now) == "2026-12-06T20:00:00Z"
    assert since_value("2026-12-07T18:00", now) == "2026-12-07T18:00:00Z"
    assert since_value("2026-12-07T19:00+01:00", now) == "2026-12-07T18:00:00Z"
    assert since_value("2026-12-07", now) == "2026-12-07T00:00:00Z"


def test_a_fleet_runs_rows_are_one_line_on_a_terminal():
    from datetime import UTC, datetime

    from tui.cli.audit_lines import audit_lines

    def row(i: int, target: str, action: str = "run", result: str = "succeeded", at: str = "2026-12-07T11:00:00Z"):
        return {"id": i, "at": at, "user": "bob", "env": "prod", "origin": "cli", "result": result, "action": action,
                "target": target, "params": {"command": "uptime"}, "message": "up 3 days", "db_user": None}

    rows = [row(10, "kubernetes/Pod/web-1", "delete")]
    rows += [row(11 + i, f"edge/node/gw-{i:02d}", result="failed" if i in (3, 17) else "succeeded") for i in range(90)]
    rows += [row(101, "edge/node/gw-00", at="2026-12-07T11:05:00Z"), row(102, "edge/node/gw-01", at="2026-12-07T11:05:00Z")]
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    lines = []  # a row's line and the lines its message was folded onto, as one
    for line in audit_lines(rows, now, 160):
        if line[:6].strip():
            lines.append(line)
        else:
            lines[-1] += " " + line.strip()
    assert len(lines) == 1 + 1 + 1 + 2, lines  # header, the delete, the run of 90 in one line, a later run of 2 as 2
    assert "delete kubernetes/Pod/web-1" in lines[1]
    run = lines[2]
    assert run.split()[0] == "11-100" and " mixed " in run and "run 90 edge nodes" in run, run
    assert "88 succeeded, 2 failed (not succeeded: gw-03, gw-17)" in run, run
    assert all("edge/node/gw-0" in line for line in lines[3:])
    assert len(audit_lines(rows, now, None)) == len(rows), "piped: a line per row, as scripts read them"
