"""A TUI that follows another envdeck of the same user@host (team mode on one store) names the
leader with its pid (`root@vm:1234`: user@host alone would not tell the two apart), and when
that leader is closed and this TUI takes the lease over it says so: a toast and a Timeline row
of the environment, "now leading staging (root@vm:1234 stopped leading)"."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from screens.overview import EnvironmentsTable
from tests.tui.pilot import app_ready, make_app, wait_until
from tests.tui.stage import Stage, stage_config, stage_factory
from tui.core.leadership import Leadership, holder_label
from tui.core.leases import this_holder
from tui.core.model import Origin
from tui.core.session import Session


def _row(app, env: str) -> str:
    tables = app.screen.query(EnvironmentsTable)  # none for a moment: the table is rebuilt with its LEADER column
    return " ".join(c.plain for c in tables.first().get_row(env)) if tables else ""


def _toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_the_follower_says_it_took_over_from_a_leader_of_its_own_user_at_host(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVDECK_LEASE_TTL", "3")  # renewed (and claimed) every second
    state_dir = tmp_path / "state"
    stage = Stage()
    same_user_host = this_holder().rpartition(":")[0]
    leader_holder = f"{same_user_host}:{os.getppid()}"  # a live process of this user@host, not this one
    leader = await Session.open(stage_config(), state_dir, origin=Origin.TUI, user="alice",
                                backends_factory=stage_factory(stage))
    leader.reconciler.leadership.holder = leader_holder
    await leader.start_reconciling()
    closed = False
    try:
        app = make_app(state_dir, stage, user="vera", live=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await app_ready(pilot)
            await wait_until(pilot, lambda: leader_holder in _row(app, "staging"),
                             "the leader with its pid in the LEADER column", explain=lambda: _row(app, "staging"))
            assert not [t for t in _toasts(app) if "now leading" in t]
            await leader.close()
            closed = True
            expected = f"now leading staging ({leader_holder} stopped leading)"
            await wait_until(pilot, lambda: any(expected in t for t in _toasts(app)), "the takeover toast",
                             explain=lambda: _toasts(app))
            assert app.session.state("staging").leader == "you"
            rows = await app.session.store.timeline("staging")
            said = [r for r in rows if r["kind"] == "leader"]
            assert [r["message"] for r in said] == [expected], said
            assert sum(expected in t for t in _toasts(app)) == 1  # said once, not at every renewal
    finally:
        if not closed:
            await leader.close()


def test_the_pid_is_shown_only_for_this_process_user_at_host():
    own = "root@vm:1"
    assert holder_label("root@vm:1234", own) == "root@vm:1234"
    assert holder_label("agent@ops-1:4242", own) == "agent@ops-1"
    assert holder_label("root@other:99", own) == "root@other"


async def test_a_leader_whose_process_is_gone_is_named_gone(any_store):
    store = await any_store.open()
    try:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        user_host = this_holder().rpartition(":")[0]
        gone_holder = f"{user_host}:{dead.pid}"
        old = Leadership(store, lambda: ["prod"], holder=gone_holder, ttl_s=15)  # taken at once: its process is gone
        assert await old.claim("prod")
        follower = Leadership(store, lambda: ["prod"], holder=f"{user_host}:{os.getpid()}")
        await follower.refresh()  # sees who leads (a follower's status round)
        for _ in range(200):
            if await follower.claim("prod"):
                break
            await asyncio.sleep(0.02)
        assert follower.leads("prod")
        expected = f"now leading prod ({gone_holder} gone)"
        assert follower.took_over == {"prod": expected}
        assert [r["message"] for r in await store.timeline("prod") if r["kind"] == "leader"] == [expected]
    finally:
        await store.close()
