"""An environment's repair pause (the store's `repair_pauses`) is never overwritten: a second
`envdeck pause` (or the TUI's `p` of a session that had not seen the pause yet) leaves the first
pause's user, time and reason as they are, says whose pause it found, and exits 0 as resume's
no-op does. The store's pause is an insert-if-absent: of two processes pausing at once, the second
gets the first's pause. The audit trail says why (`paused: REASON`) and whose pause a resume ended.
On SQLite and on PostgreSQL (a real server), CLI in process on a real store."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime

import pytest

from backends.registry import create_backends
from tests.helpers import envdeck_inproc
from tui.core.config import load_config
from tui.core.env_state import RepairPause
from tui.core.identity import current_user
from tui.core.model import Origin
from tui.core.session import Session

ME = current_user()
REASON = "INC-42 db failover; do not touch"
AT = datetime(2026, 12, 7, 17, 50, 46, tzinfo=UTC)


@pytest.fixture
def world(any_store, tmp_path):
    """A config with `prod` (no backends) and the state directory (SQLite's; on PostgreSQL the
    URL is given to each session and CLI call: `any_store.open()` takes it out of os.environ)."""
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments:\n  prod: {}\n")
    config.chmod(0o600)
    return any_store, config, any_store.state_dir, {"ENVDECK_STATE_URL": any_store.url} if any_store.url else {}


def alice_pauses(config, state, env: dict[str, str], reason: str) -> RepairPause | None:
    """alice's TUI session pauses prod (Session.set_paused, as `p` does), at AT."""
    async def run() -> RepairPause | None:
        os.environ.update(env)
        session = await Session.open(load_config(config), state, origin=Origin.TUI, user="alice",
                                     backends_factory=create_backends)
        session.reconciler.clock = lambda: AT
        try:
            return await session.set_paused("prod", True, reason=reason)
        finally:
            await session.close()
            os.environ.pop("ENVDECK_STATE_URL", None)
    return asyncio.run(run())


def stored(opener) -> tuple[RepairPause | None, list[dict]]:
    """The store's pause of prod and its pause/resume audit rows (oldest first)."""
    async def run():
        store = await opener.open()
        try:
            rows = [e for e in await store.audit_entries("prod") if e["action"] in ("pause", "resume")]
            return await store.pause("prod"), rows[::-1]
        finally:
            await store.close()
    return asyncio.run(run())


def cli(config, state, env: dict[str, str], *args: str):
    return envdeck_inproc(*args, "--config", str(config), "--state-dir", str(state), **env)


def test_a_second_pause_leaves_the_first_and_says_whose_it_is(world):
    opener, config, state, env = world
    assert alice_pauses(config, state, env, REASON) is None
    alices = RepairPause("alice", "2026-12-07T17:50:46Z", REASON)
    assert stored(opener)[0] == alices

    for args in (("pause", "prod"), ("pause", "prod", "--reason", "bob: testing")):
        proc = cli(config, state, env, *args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"prod is already paused by alice since {alices.at} ({REASON}); nothing done\n"
        assert stored(opener)[0] == alices  # user, time and reason unchanged

    proc = cli(config, state, env, "pause", "prod", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"env": "prod", "paused": True, "pause": alices.to_json(), "was_paused": True}
    status = cli(config, state, env, "status", "--env", "prod")
    assert f"PAUSED by alice since {alices.at} ({REASON})" in status.stdout, status.stdout

    _pause, rows = stored(opener)
    assert [(r["user"], r["action"], r["result"], r["message"]) for r in rows] == [
        ("alice", "pause", "succeeded", f"paused: {REASON}"),
        *[(ME, "pause", "succeeded", f"already paused by alice since {alices.at} ({REASON}); nothing done")] * 3]

    proc = cli(config, state, env, "resume", "prod")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"prod: automatic repairs resumed (paused by alice since {alices.at}: {REASON})\n"
    proc = cli(config, state, env, "resume", "prod")
    assert proc.stdout == "prod: automatic repairs were not paused; nothing to resume\n"
    pause, rows = stored(opener)
    assert pause is None
    assert [(r["user"], r["action"], r["message"]) for r in rows[-2:]] == [
        (ME, "resume", f"resumed (paused by alice since {alices.at}: {REASON})"),
        (ME, "resume", "not paused; nothing to resume")]

    # the trail read by people shows why and whose pause a resume ended
    audit = cli(config, state, env, "audit", "--env", "prod")
    assert audit.returncode == 0, audit.stderr
    assert f"paused: {REASON}" in audit.stdout and "resumed (paused by alice since" in audit.stdout, audit.stdout

    # paused again by this user (no reason): a plain `paused` row, and alice's TUI now finds that pause
    proc = cli(config, state, env, "pause", "prod")
    assert proc.returncode == 0 and "automatic repairs paused for every envdeck" in proc.stdout, proc.stdout
    found = alice_pauses(config, state, env, "alice again")
    assert found is not None and (found.user, found.reason) == (ME, "")
    pause, rows = stored(opener)
    assert pause == found
    assert [(r["user"], r["message"]) for r in rows[-2:]] == [
        (ME, "paused"), ("alice", f"already paused by {ME} since {found.at}; nothing done")]


def test_two_processes_pausing_at_once_the_second_gets_the_first(any_store):
    """Two stores (two connections, as two processes) pause at the same moment, many rounds: one
    pause is written, the other request gets that pause back and writes nothing."""
    async def run() -> None:
        first, second = await any_store.open(), await any_store.open()
        try:
            for round_ in range(20):
                env = f"env-{round_}"
                results = await asyncio.gather(
                    first.set_pause(env, user="alice", reason="INC-42", at=AT),
                    second.set_pause(env, user="bob", reason="testing", at=AT))
                winners = [who for who, got in zip(("alice", "bob"), results, strict=True) if got is None]
                assert len(winners) == 1, results
                kept = await first.pause(env)
                assert kept is not None and kept.user == winners[0]
                assert [got for got in results if got is not None] == [kept]
                ended = await asyncio.gather(first.remove_pause(env), second.remove_pause(env))
                assert sorted(ended, key=lambda p: p is not None) == [None, kept]
        finally:
            await first.close()
            await second.close()
    asyncio.run(run())
