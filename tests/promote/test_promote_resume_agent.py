"""A promotion whose `envdeck promote --apply` was SIGKILLed during wave 2 is carried on by the
running reconciler of the process that leads B (tui/core/promote/resume.py through the
lifecycle loop), never by a follower; every effect counted on the Kubernetes API emulator.

staging runs api:2.0 and web:2.1, prod api:1.0 and web:1.0; web:2.1 cannot be pulled until the
kill (wave 2 is under way whatever the load), then can: the resumed wave 2 turns healthy with
no PATCH asked again."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time

from backends.registry import create_backends
from tests.agent.support import Agent
from tests.promote.conftest import Pair
from tests.promote.test_promote_k8s import _patches, _seed
from tui.core.config import parse_config
from tui.core.model import Origin
from tui.core.promote.promotion_store import PromotionStore
from tui.core.session import Session

OTHER = "someone@another-host:4242"     # a live leader of prod elsewhere (its lease not run out)


def _killed_in_wave_2(pair: Pair) -> str:
    """Seed, run `promote --apply`, SIGKILL it once wave 2's PATCH reached the emulator; the image
    made pullable again (its pods remade by their ReplicaSet, not a PATCH). Returns the id."""
    _seed(pair, staging_web="web:2.1")
    pair.emu.unpullable_images.add("web:2.1")
    try:
        proc = pair.popen("promote", "staging", "prod", "--apply", "--yes")
        deadline = time.monotonic() + 90
        while _patches(pair).get("web", 0) < 1:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate()
    finally:
        pair.emu.unpullable_images.discard("web:2.1")
    for pod in pair.emu.list("pods", pair.p):
        if pod["spec"]["containers"][0]["image"] == "web:2.1":
            pair.emu.delete("pods", pair.p, pod["metadata"]["name"])
    pid = next(line.split()[0] for line in err.splitlines() if " wave " in line)
    assert _patches(pair) == {"api": 1, "web": 1}
    assert _promotion(pair, pid)[:2] == ("running", 1)
    return pid


def _promotion(pair: Pair, pid: str) -> tuple[str, int, str | None]:
    """(state, waves done, lease holder), read from the SQLite store itself."""
    with sqlite3.connect(pair.tmp / "state" / "envdeck.db") as con:
        state, wave, holder = con.execute("SELECT state, wave, holder FROM promotions WHERE id = ?", (pid,)).fetchone()
    return state, int(wave), holder


def _rows_of(pair: Pair, pid: str) -> list[dict]:
    return [r for r in pair.audit_rows() if r["action"].startswith("promote") and pid in (r["params"] or "")]


def test_the_agent_leading_prod_finishes_a_killed_promotion(pair: Pair):
    pid = _killed_in_wave_2(pair)
    before = {r["id"] for r in _rows_of(pair, pid)}
    agent = Agent(pair.tmp / "envdeck.yaml", pair.tmp / "state", "--env", "prod",
                  env={"ENVDECK_CONFIG": str(pair.tmp / "envdeck.yaml")})
    try:
        deadline = time.monotonic() + 90
        # the lease is released by its own write after the promotion's last state: wait for both
        while _promotion(pair, pid)[0] == "running" or _promotion(pair, pid)[2] is not None:
            assert agent.proc.poll() is None and time.monotonic() < deadline, agent.lines[-20:]
            time.sleep(0.1)
        assert _promotion(pair, pid) == ("succeeded", 2, None)      # finished, its lease released
    finally:
        agent.stop(signal.SIGTERM)
    assert _patches(pair) == {"api": 1, "web": 1}                # neither wave asked again
    assert pair.images(pair.p) == {"api": "api:2.0", "web": "web:2.1"}
    new = [r for r in _rows_of(pair, pid) if r["id"] not in before]
    # wave 2's gate; no step asked again. The kill lands right after web's PATCH reached the
    # emulator: when it came before the killed process finished web's step row, the resume
    # writes that step's row as "already runs" (no PATCH: counted above), never anything else
    steps = [r for r in new if r["action"] == "promote.step"]
    assert all("already runs" in (r["message"] or "") for r in steps), steps
    assert {r["action"] for r in new} - {"promote.step"} == {"promote", "promote.wave"}, new
    assert all(r["origin"] == "reconciler" and r["env"] == "prod" for r in new), new
    assert all(f":{agent.proc.pid}" in r["params"] for r in new if r["action"] == "promote.wave"), new
    resumed = next(r for r in new if r["action"] == "promote")
    assert resumed["result"] == "succeeded" and '"resume"' in resumed["params"]


async def test_a_follower_never_resumes_the_leader_of_prod_does(pair: Pair):
    pid = _killed_in_wave_2(pair)
    left = _promotion(pair, pid)
    assert left[2] is not None, "the killed envdeck's lease is left behind"
    session = await Session.open(parse_config((pair.tmp / "envdeck.yaml").read_text()), pair.tmp / "state",
                                 origin=Origin.TUI, backends_factory=create_backends)
    try:
        leadership, lifecycle = session.reconciler.leadership, session.reconciler.lifecycle
        other = await session.store.acquire_lease("prod", OTHER, 60)
        assert other is not None
        assert not await leadership.claim("prod")                      # a follower of prod
        await lifecycle.tick()
        assert lifecycle._promoting == {} and await lifecycle.promotions.due() == []
        assert _promotion(pair, pid) == left                           # not even its lease taken
        assert _patches(pair) == {"api": 1, "web": 1}
        # the leader gone (its lease released): this process leads prod and carries it on
        assert await session.store.release_lease(other)
        assert await leadership.claim("prod")
        # ... but not while a live process carries the promotion out (its lease, e.g. --apply elsewhere)
        pstore = PromotionStore(session.store)
        assert await pstore.take_lease(pid, OTHER, 60, replace=left[2]) is None
        await lifecycle.tick()
        assert lifecycle._promoting == {} and _promotion(pair, pid)[2] == OTHER
        await pstore.release_lease(pid, OTHER)
        await lifecycle.tick()
        task = lifecycle._promoting[pid]
        await asyncio.wait_for(task, 90)
        done = await pstore.get(pid)
        assert done.state == "succeeded" and done.waves_done == 2
    finally:
        await session.close()
    assert _patches(pair) == {"api": 1, "web": 1}
    assert pair.images(pair.p) == {"api": "api:2.0", "web": "web:2.1"}
    rows = _rows_of(pair, pid)
    assert any(r["origin"] == "tui" and r["action"] == "promote.wave" for r in rows)


def test_a_promotion_row_naming_someone_who_may_not_promote_is_never_carried_on(pair):
    """A row written into the store by hand (another member with the database's password), naming
    a user who is no admin of prod, is left alone by `reconcile --once` (and by the reconciler's
    resume, which goes through the same check): not one PATCH more, the promotion still running."""
    pid = _killed_in_wave_2(pair)
    with sqlite3.connect(pair.tmp / "state" / "envdeck.db") as con:
        con.execute("UPDATE promotions SET \"user\" = 'mallory' WHERE id = ?", (pid,))
    pair.config(prod_access="    access: {admin: [root, " + _me() + "], viewer: [mallory]}")
    done = pair.envdeck("reconcile", "--once", "--env", "prod")
    assert "mallory may not promote" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _patches(pair) == {"api": 1, "web": 1}, "nothing done for the forged row"
    assert _promotion(pair, pid)[0] == "running"


def _me() -> str:
    from tui.core.identity import current_user

    return current_user()  # the agent's identity: the euid's name, whatever $USER says
