"""`env list` while a destroy cannot reach its backend (the Kubernetes emulator frozen): the
environment's record names no step (it is `destroying`, nothing failed yet) but a step row says
"cannot reach kubernetes: …; trying again". The list shows that step and reason (README: the
current or failed step and reason): the table's STEP and the JSON's `step` {"id", "reason"},
never `-` / null."""

from __future__ import annotations

import sqlite3
import time

from tests.lifecycle.conftest import World
from tui.core.store import DB_NAME


def _retrying_steps(world: World, env: str) -> dict[str, str]:
    db = sqlite3.connect(f"file:{world.state_dir / DB_NAME}?mode=ro", uri=True, timeout=30)
    try:
        return {r[0]: r[1] for r in db.execute("SELECT id, message FROM lifecycle_steps WHERE env = ?", (env,))
                if r[1] and "cannot reach kubernetes" in r[1]}
    finally:
        db.close()


def test_env_list_shows_the_step_a_destroy_retries(world: World):
    world.add_k8s_template("k8s-long", "120s")
    made = world.envdeck("env", "create", "ret-1", "--template", "k8s-long", "--param", "branch=main", "--wait")
    assert made.returncode == 0, (made.stdout, made.stderr)
    world.k8s.emu.freeze()
    proc = world.popen("env", "destroy", "ret-1", "--yes", "--wait")
    try:
        for _ in range(600):  # until a step says it cannot reach the emulator (no time is asserted)
            retrying = _retrying_steps(world, "ret-1")
            if retrying:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        else:
            raise AssertionError("no step said it cannot reach kubernetes")
        row = world.env_rows()["ret-1"]
        assert row["state"] == "destroying", row
        assert row["step"] is not None, row
        assert row["step"]["id"] in retrying, (row["step"], retrying)
        assert "cannot reach kubernetes" in row["step"]["reason"], row["step"]
        assert row["step"]["reason"].endswith("trying again"), row["step"]

        text = world.envdeck("env", "list")
        assert text.returncode == 0, text.stderr
        line = next(ln for ln in text.stdout.splitlines() if ln.startswith("ret-1"))
        assert f"{row['step']['id']} cannot reach kubernetes" in line, line
    finally:
        world.k8s.emu.thaw()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    assert "ret-1" not in world.env_rows(), "destroyed: no step left to show"
