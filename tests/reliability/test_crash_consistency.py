"""Crash consistency: a process doing many audited actions and repairs is SIGKILLed at
random points; after each kill the store opens without manual repair, every audit row
that was reported done is there with its final result, rows in flight are
`interrupted`, none stays `pending`, and `PRAGMA integrity_check` is `ok`.

More trials on demand: ENVDECK_CRASH_TRIALS=200 python -m pytest tests/reliability
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import envdeck_env, repo_root
from tui.core.store import DB_NAME, Store

TRIALS = int(os.environ.get("ENVDECK_CRASH_TRIALS", "20"))
DEADLINE_S = 60.0
FINAL = {"succeeded", "failed", "denied", "interrupted"}


class Worker:
    """The crash worker in a subprocess; its stdout lines are collected by a thread."""

    def __init__(self, state_dir: Path, seed: int, delay: float | None = None):
        argv = [sys.executable, "-m", "tests.reliability.crash_worker", str(state_dir), str(seed)]
        if delay is not None:
            argv.append(str(delay))
        self.proc = subprocess.Popen(argv, cwd=repo_root(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=envdeck_env(PYTHONPATH=str(repo_root())))
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def done(self) -> dict[int, str]:
        out = {}
        for line in list(self.lines):
            parts = line.split()
            if len(parts) == 3 and parts[0] == "done":
                out[int(parts[1])] = parts[2]
        return out

    def wait_for(self, predicate, what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not predicate():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}) before {what}: "
                                     f"{self.proc.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"worker did not reach {what} within {DEADLINE_S}s")
            time.sleep(0.005)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


def raw_rows(state_dir: Path) -> dict[int, tuple[str, str]]:
    """The audit rows as a plain sqlite3 reader sees them right after the crash (before recovery)."""
    db = sqlite3.connect(state_dir / DB_NAME, timeout=30)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {i: (r, m) for i, r, m in db.execute("SELECT id, result, message FROM audit")}
    finally:
        db.close()


async def reopen(state_dir: Path) -> tuple[dict[int, dict], str, int]:
    store = await Store.open(state_dir)  # recover=True: the normal start-up path, no manual repair
    try:
        entries = {e["id"]: e for e in await store.audit_entries(limit=1_000_000)}
        return entries, await store.integrity_check(), await store.schema_version()
    finally:
        await store.close()


async def test_sigkill_at_random_points_keeps_the_audit_trail_consistent(tmp_path):
    state = tmp_path / "state"
    rng = random.Random(int(os.environ.get("ENVDECK_CRASH_SEED", str(random.randrange(1 << 30)))))
    reported: dict[int, str] = {}
    interrupted_total = 0
    for trial in range(TRIALS):
        worker = Worker(state, rng.randrange(1 << 30))
        if trial % 4 == 3:
            # kill at a random moment, possibly while the store is being opened or recovered
            time.sleep(rng.uniform(0, 0.5))
        else:
            target = rng.randint(1, 40)
            worker.wait_for(lambda w=worker, n=target: len(w.done()) >= n, f"{target} completed rows")
        worker.kill()
        done_now = worker.done()
        reported.update(done_now)

        before = raw_rows(state) if (state / DB_NAME).exists() else {}
        entries, integrity, version = await reopen(state)
        assert integrity == "ok", f"trial {trial}"
        assert version >= 1
        for audit_id, result in reported.items():
            assert audit_id in entries, f"trial {trial}: reported row {audit_id} lost"
            assert entries[audit_id]["result"] == result, f"trial {trial}: row {audit_id} changed"
        assert not [e for e in entries.values() if e["result"] == "pending"], f"trial {trial}"
        assert {e["result"] for e in entries.values()} <= FINAL
        for audit_id, (result, _message) in before.items():
            if result == "pending":
                assert entries[audit_id]["result"] == "interrupted", f"trial {trial}: row {audit_id}"
                assert entries[audit_id]["message"], "an interrupted row says why"
                interrupted_total += 1
        # every row the worker did not report is either interrupted or was finished just before the kill
        assert set(entries) >= set(reported)
    assert reported, "the workers completed audited actions"
    print(f"{TRIALS} kills: {len(reported)} rows reported done, {interrupted_total} in flight → interrupted")


async def test_a_row_in_flight_at_the_kill_becomes_interrupted(tmp_path):
    state = tmp_path / "state"
    worker = Worker(state, 7, delay=120.0)  # every action blocks in the backend for two minutes
    try:
        def pending() -> bool:
            if not (state / DB_NAME).exists():
                return False
            try:
                return any(r == "pending" for r, _ in raw_rows(state).values())
            except sqlite3.OperationalError:
                return False
        worker.wait_for(pending, "a pending audit row")
    finally:
        worker.kill()
    [pending_id] = [i for i, (r, _) in raw_rows(state).items() if r == "pending"]
    entries, integrity, _ = await reopen(state)
    assert integrity == "ok"
    assert entries[pending_id]["result"] == "interrupted"
    assert entries[pending_id]["finished_at"]
    assert entries[pending_id]["params"].get("token") in (None, "***"), "secrets stay redacted"
    # and a second start-up finds nothing more to recover
    store = await Store.open(state)
    try:
        assert await store.mark_interrupted() == 0
    finally:
        await store.close()


@pytest.mark.parametrize("trial", range(3))
async def test_kill_during_the_first_start_leaves_a_usable_store(tmp_path, trial):
    """A kill while the schema is being created (first run) never leaves a half-migrated store."""
    state = tmp_path / "state"
    worker = Worker(state, trial)
    time.sleep(random.uniform(0.05, 0.4))
    worker.kill()
    entries, integrity, version = await reopen(state)
    assert integrity == "ok" and version >= 1
    assert all(e["result"] in FINAL for e in entries.values())
