"""`env destroy` says what the destroy does, not what happened before it or what another
process does:

- a destroy handed over while the environment is `failed` (its create failed) is not a
  failure of the destroy: exit 0, `destroy requested (failed until it starts)`, no `step S
  failed` line; the destroy then runs and leaves nothing on the Kubernetes emulator;
- a `destroy --wait` while another live process carries the destroy out (two destroys at
  once, or the environment's leader) joins it: it says so, its step lines name the process
  that did them, its audit row says `joined: HOLDER carried it out`, and only the process
  that carried it out has an `env.destroy` row ending `destroyed`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import threading
import time

from backends.registry import create_backends, create_provisioner
from tests.lifecycle.conftest import World
from tui.core.config import load_config
from tui.core.lifecycle.engine import default_holder
from tui.core.model import Origin
from tui.core.session import Session


def _destroy_rows(world: World, env: str) -> list[dict]:
    with sqlite3.connect(world.state_dir / "envdeck.db") as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM audit WHERE action = 'env.destroy' AND env = ? "
                                             "ORDER BY id", (env,))]


def test_destroy_of_a_failed_environment_reports_the_destroy_not_the_old_failure(world: World):
    made = world.envdeck("env", "create", "f1", "--template", "stuck", "--param", "branch=b", "--wait")
    assert made.returncode == 1 and "f1: step Deployment/web failed: " in made.stderr, made.stderr
    assert world.env_rows()["f1"]["state"] == "failed"

    asked = world.envdeck("env", "destroy", "f1", "--yes")
    assert asked.returncode == 0, (asked.stdout, asked.stderr)
    assert asked.stdout.startswith("f1: destroy requested (failed until it starts); the reconciler carries it out")
    assert "failed:" not in asked.stderr and "Deployment/web" not in asked.stderr, asked.stderr

    done = world.envdeck("env", "destroy", "f1", "--yes", "--wait")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "f1: destroy done, destroyed" in done.stdout, done.stdout
    assert world.namespaces("f1") == []                      # on the emulator


def test_a_second_destroy_wait_joins_the_one_another_process_carries_out(world: World):
    made = world.envdeck("env", "create", "j1", "--template", "note", "--param", "note=x", "--wait")
    assert made.returncode == 0, made.stderr
    assert len(world.namespaces("j1")) == 1

    async def scenario() -> tuple[subprocess.Popen, list[str]]:
        # this test process leads j1 (a TUI or agent would): a CLI destroy --wait can only join
        session = await Session.open(load_config(world.config_path), world.state_dir,
                                     origin=Origin.TUI, backends_factory=create_backends,
                                     provisioners=create_provisioner)
        lines: list[str] = []
        try:
            assert await session.reconciler.leadership.claim("j1")
            proc = world.popen("env", "destroy", "j1", "--yes", "--wait")
            reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
            reader.start()
            deadline = time.monotonic() + 60
            while not any("joined it" in line for line in lines):
                assert proc.poll() is None and time.monotonic() < deadline, lines
                await asyncio.sleep(0.05)
            mine = await session.env_destroy("j1", wait=True)     # carried out here
            assert str(mine.state) == "destroyed"
        finally:
            await session.close()
        proc.wait(timeout=60)
        reader.join(timeout=10)
        return proc, [proc.stdout.read(), *lines]

    proc, (out, *err) = asyncio.run(scenario())
    holder = default_holder()
    assert proc.returncode == 0, (out, err)
    assert f"j1: {holder} is carrying it out already; joined it, waiting for it to end (the steps below are its)\n" \
        in err, err
    # the steps it saw change (polled: maybe none, the destroy is quick) name who did them
    steps = [line for line in err if line.startswith("j1: ") and " deleted" in line]
    assert all(line.rstrip().endswith(f"(by {holder})") for line in steps), err
    assert out.startswith(f"j1: destroy done, destroyed (carried out by {holder}; this command joined it)"), out
    assert world.namespaces("j1") == []
    rows = _destroy_rows(world, "j1")
    assert [(r["result"], r["message"]) for r in rows if r["message"] == "destroyed"] == [("succeeded", "destroyed")]
    joined = [r for r in rows if r["message"].startswith("joined:")]
    assert [r["message"] for r in joined] == [f"joined: {holder} carried it out; destroyed"], rows
