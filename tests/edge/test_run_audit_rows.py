"""`Session.run_fleet`'s audit rows (issue 19): one row per node as before, but all the rows
of a run are begun in ONE transaction, committed before any command is sent, and finished
in one more (tui/core/audited.py `audited_group`), on SQLite and PostgreSQL alike.

Checked from outside the session: while the nodes' commands wait (on a real sshd) every
row is already `pending` in the store, as another connection reads it; the transactions are
counted by the store itself (SQLite: the COMMITs its connection runs; PostgreSQL: the rows'
`xmin`, the transaction that wrote them)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
from pathlib import Path

import psycopg
import pytest

from backends.registry import create_backends
from tests.security.access_setup import access
from tui.core.config import parse_config
from tui.core.errors import InvalidRequest
from tui.core.identity import current_user
from tui.core.session import Session
from tui.core.store import DB_NAME

WAIT_S = 60.0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AuditReader:
    """The `run` audit rows as another connection to the store sees them (committed only)."""

    def __init__(self, opener, state_dir: Path):
        self.url, self.path = opener.url, state_dir / DB_NAME

    def rows(self) -> list[dict]:
        sql = ("SELECT {xmin} AS tx, target, action, params, \"user\", origin, result, message, finished_at "
               "FROM audit WHERE action = 'run' ORDER BY target")
        if self.url is None:
            with sqlite3.connect(self.path) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(r) for r in conn.execute(sql.format(xmin="NULL"))]
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql.format(xmin="xmin::text"))
            names = [c.name for c in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


class Commits:
    """The COMMITs of the session's SQLite connection (its own trace callback)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            self.count += 1


async def _until(predicate, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not predicate():
        assert loop.time() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


async def test_a_runs_rows_are_begun_in_one_commit_before_any_command_and_finished_in_one(
        any_store, edge_lab, tmp_path, monkeypatch):
    server = edge_lab.start_sshd("n1")
    edge_lab.trust(server)
    down = edge_lab.node("gw-down", server).model_copy(update={"port": _closed_port()})
    nodes = [edge_lab.node(f"gw-{i}", server) for i in range(3)] + [down]
    edge = edge_lab.config(nodes).model_dump(mode="json", exclude_none=True)
    cfg = parse_config(json.dumps({"environments": {"dev": {"access": access("operator"), "edge": edge}}}))
    if any_store.url is not None:
        monkeypatch.setenv("ENVDECK_STATE_URL", any_store.url)
    state = tmp_path / "state"
    session = await Session.open(cfg, state, user=current_user(), backends_factory=create_backends)
    reader = AuditReader(any_store, state)
    commits = Commits()
    if any_store.url is None:
        await session.store._db.raw.set_trace_callback(commits)
    go = edge_lab.workdir / "go"  # the test's, readable by the nodes' login
    started = edge_lab.state  # the login's
    command = f"mktemp {started}/started.XXXXXX >/dev/null; while [ ! -e {go} ]; do sleep 0.05; done; echo done"
    try:
        run = asyncio.create_task(session.run_fleet("dev", command))
        await _until(lambda: len(list(started.glob("started.*"))) == 3, "the three commands started")
        during = reader.rows()  # every node's row committed before its command was sent
        assert [(r["target"], r["result"]) for r in during] == [
            ("edge/node/gw-0", "pending"), ("edge/node/gw-1", "pending"), ("edge/node/gw-2", "pending"),
            ("edge/node/gw-down", "pending")]
        if any_store.url is None:
            assert commits.count == 1, "the four rows in one commit"
        else:
            assert len({r["tx"] for r in during}) == 1, "the four rows in one transaction"
        go.touch()
        results = await asyncio.wait_for(run, WAIT_S)
        assert sorted((r.node, r.outcome) for r in results) == [
            ("gw-0", "ok"), ("gw-1", "ok"), ("gw-2", "ok"), ("gw-down", "unreachable")]
        after = reader.rows()
        if any_store.url is None:
            assert commits.count == 2, "the four ends in one more commit"
        else:
            assert len({r["tx"] for r in after}) == 1 and after[0]["tx"] != during[0]["tx"]
        # the rows as one audited operation per node wrote them: same fields, each its own result
        for row in after:
            assert (row["action"], json.loads(row["params"]), row["user"], row["origin"]) == (
                "run", {"command": command}, current_user(), "cli")
            assert row["finished_at"]
        ends = {r["target"].rsplit("/", 1)[1]: (r["result"], r["message"]) for r in after}
        assert {n: res for n, (res, _) in ends.items()} == {
            "gw-0": "succeeded", "gw-1": "succeeded", "gw-2": "succeeded", "gw-down": "failed"}
        for name in ("gw-0", "gw-1", "gw-2"):
            assert re.fullmatch(r"exit 0 in \d+\.\d\ds", ends[name][1]), ends[name]
        assert ends["gw-down"][1] == next(r.error for r in results if r.node == "gw-down")
        assert ends["gw-down"][1].startswith("node gw-down: cannot connect")

        # a run the backend refuses: every row says why (failed), still two commits
        before = commits.count
        with pytest.raises(InvalidRequest, match="the command is empty"):
            await session.run_fleet("dev", "   ")
        refused = [r for r in reader.rows() if json.loads(r["params"]) == {"command": "   "}]
        assert [(r["result"], r["message"]) for r in refused] == [("failed", "the command is empty")] * 4
        if any_store.url is None:
            assert commits.count - before == 2

        # a run cancelled while its commands run: their rows `interrupted`, saying where; the node
        # that had failed before the cancel keeps its own result
        go.unlink()
        for path in started.glob("started.*"):
            path.unlink()
        second = f"{command} # second"
        shown = []
        run = asyncio.create_task(session.run_fleet("dev", second, on_result=shown.append))
        await _until(lambda: len(list(started.glob("started.*"))) == 3, "the second commands started")
        await _until(lambda: [r.node for r in shown] == ["gw-down"], "gw-down's result shown")
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        cancelled = [r for r in reader.rows() if json.loads(r["params"]) == {"command": second}]
        assert [(r["target"].rsplit("/", 1)[1], r["result"], r["message"]) for r in cancelled] == [
            *((f"gw-{i}", "interrupted", "interrupted before the command ended: its session on the node was closed")
              for i in range(3)),
            ("gw-down", "failed", ends["gw-down"][1])]
    finally:
        go.touch()  # the nodes' commands end
        await session.close()
