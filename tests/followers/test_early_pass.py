"""Another process's action asks the leader for an early pass (issue 16), but only one that may
have changed something, and at most one per window: a refused action or a log read asks none,
a burst of rows (another member writing audit rows and NOTIFYs in a loop) asks one pass now and
one at the end of the window. Counted on the leader's reconciler (`request_pass`, the call that
makes a polling backend go to its cloud), on both engines."""

from __future__ import annotations

import asyncio

import pytest

from tests.followers.support import ENV, NS, has, open_session, start_emulator, until
from tui.core import follower
from tui.core.model import iso, now_utc

WEB = "kubernetes/Deployment/web"


@pytest.fixture
def store_dir(any_store, monkeypatch):
    if any_store.url:
        monkeypatch.setenv("ENVDECK_STATE_URL", any_store.url)
    return any_store.state_dir / "state"


async def foreign_row(session, action: str, result: str) -> None:
    """An audit row of another process (another host's pid): what a second user's envdeck writes."""
    await session.store._db.execute(
        'INSERT INTO audit (at, "user", env, target, action, params, origin, result, owner_host, owner_pid) '
        "VALUES (?, ?, ?, ?, ?, '{}', 'cli', ?, ?, ?)",
        (iso(now_utc()), "mallory", ENV, WEB, action, result, "elsewhere", 4242))


async def test_denied_and_read_rows_ask_nothing_a_burst_asks_one_pass_per_window(tmp_path, store_dir, monkeypatch):
    monkeypatch.setenv("ENVDECK_LEASE_TTL", "3")
    monkeypatch.setattr(follower, "EARLY_PASS_MIN_S", 1.5)
    cloud, kubeconfig = start_emulator(tmp_path, "leader")
    cloud.emu.create_deployment(NS, "web", replicas=1)
    leader = await open_session(store_dir, kubeconfig, "alice", "alice@ops-1:1")
    asked: list[float] = []
    real = leader.reconciler.request_pass

    def counting(env: str, bname: str) -> None:
        if env == ENV:
            asked.append(asyncio.get_running_loop().time())
        real(env, bname)

    leader.reconciler.request_pass = counting
    try:
        await until(lambda: has(leader, WEB) and leader.state(ENV).leader == "you", "the leader's first pass")
        feed = leader.reconciler.follower
        await asyncio.sleep(0.2)
        asked.clear()
        for action, result in (("restart", "denied"), ("logs", "succeeded"), ("read", "succeeded")):
            await foreign_row(leader, action, result)
            await feed.step()
        assert asked == [], "a refused action or a read asked for a pass"

        for _ in range(20):  # a burst of another member's actions
            await foreign_row(leader, "restart", "succeeded")
            await feed.step()
        assert len(asked) == 1, "the first action of the burst: one early pass now"
        await until(lambda: len(asked) == 2, "the pass at the end of the window", 10)
        assert asked[1] - asked[0] >= 1.4
        await asyncio.sleep(2.0)
        assert len(asked) == 2, "the burst asked no more"
    finally:
        await leader.close()
        cloud.stop()
