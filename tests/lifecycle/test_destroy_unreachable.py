"""Destroy while a backend does not answer (the Kubernetes emulator frozen: connections taken,
nothing answered, as a SIGSTOPped API server). A step that cannot reach its backend is not done
and not an orphan: it is asked again with backoff within its step timeout; after the timeout the
environment is `failed` at that step, "cannot reach kubernetes: ...", and a later destroy carries
it on to `destroyed` with nothing left on the servers (counted there). While unreachable the
state is never `destroyed`."""

from __future__ import annotations

import json
import sqlite3
import time

from tests.lifecycle.conftest import World
from tests.security.access_setup import audit_rows
from tui.core.store import DB_NAME

NOTHING = {"instances": [], "security_groups": [], "buckets": [], "tagged": [], "namespaces": [], "objects": []}


def _ok(proc, what: str) -> None:
    assert proc.returncode == 0, (what, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _step_messages(world: World, env: str) -> list[str]:
    db = sqlite3.connect(f"file:{world.state_dir / DB_NAME}?mode=ro", uri=True, timeout=30)
    try:
        return [r[0] or "" for r in db.execute("SELECT message FROM lifecycle_steps WHERE env = ?", (env,))]
    finally:
        db.close()


def test_step_timeout_while_unreachable_fails_at_the_step_then_a_destroy_finishes(world: World):
    world.add_k8s_template("k8s-short", "4s")
    _ok(world.envdeck("env", "create", "un-1", "--template", "k8s-short", "--param", "branch=main", "--wait"), "create")
    assert world.namespaces("un-1"), "created on the emulator"
    world.k8s.emu.freeze()
    try:
        proc = world.envdeck("env", "destroy", "un-1", "--yes", "--wait")
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        row = world.env_rows()["un-1"]
        assert row["state"] == "failed", row
        assert row["step"] and "cannot reach kubernetes" in row["step"]["reason"], row
        assert row["orphans"] == [], "a step that was never reached is no orphan"
        assert world.namespaces("un-1"), "still on the server: nothing claimed it was deleted"
    finally:
        world.k8s.emu.thaw()
    again = world.envdeck("env", "destroy", "un-1", "--yes", "--wait")
    _ok(again, "destroy after thaw")
    assert world.leftovers("un-1") == NOTHING
    rows = world.env_rows()
    assert "un-1" not in rows or (rows["un-1"]["state"] == "destroyed" and rows["un-1"]["orphans"] == [])


def test_unreachable_during_destroy_is_not_destroyed_and_finishes_once_it_answers(world: World):
    world.add_k8s_template("k8s-long", "120s")
    _ok(world.envdeck("env", "create", "un-2", "--template", "k8s-long", "--param", "branch=main", "--wait"), "create")
    world.k8s.emu.freeze()
    proc = world.popen("env", "destroy", "un-2", "--yes", "--wait")
    try:
        # until the destroy has said it cannot reach the emulator (no time is asserted)
        for _ in range(600):
            if any("cannot reach kubernetes" in m for m in _step_messages(world, "un-2")):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        else:
            raise AssertionError(f"no step said it cannot reach kubernetes: {_step_messages(world, 'un-2')}")
        assert world.stored_state("un-2") == "destroying"
        assert world.namespaces("un-2"), "still on the server"
    finally:
        world.k8s.emu.thaw()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    assert "Traceback" not in err
    assert world.leftovers("un-2") == NOTHING
    listed = json.loads(world.envdeck("env", "list", "--json").stdout)["environments"]
    assert all(r["name"] != "un-2" or r["orphans"] == [] for r in listed)
    destroys = [r for r in audit_rows(world.state_dir) if r["action"] == "lifecycle.destroy"]
    assert destroys and all(r["result"] != "failed" for r in destroys), destroys
