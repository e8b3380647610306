"""`env destroy --wait` that joins a destroy another process carries out prints its lines in the
order things happened: the steps' rows that led to the end, then the end line. Following the other
process through the store (polled), the last read carries the end state and the steps done since
the previous read together; the end line (`pr-12: destroyed`) came first, before `assets deleted`,
`web-sg deleted`, `namespace deleted`. Real servers: moto, the Kubernetes emulator, edge nodes."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time

from backends.registry import create_backends, create_provisioner
from tests.lifecycle.conftest import World
from tui.core.config import load_config
from tui.core.lifecycle.engine import default_holder
from tui.core.model import Origin
from tui.core.session import Session


def _joined_destroy(world: World, env: str) -> tuple[subprocess.Popen, str, list[str]]:
    async def scenario() -> tuple[subprocess.Popen, str, list[str]]:
        # this test process leads the environment (as a TUI would): the CLI's destroy --wait joins
        session = await Session.open(load_config(world.config_path), world.state_dir,
                                     origin=Origin.TUI, backends_factory=create_backends,
                                     provisioners=create_provisioner)
        lines: list[str] = []
        try:
            assert await session.reconciler.leadership.claim(env)
            proc = world.popen("env", "destroy", env, "--yes", "--wait")
            reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
            reader.start()
            deadline = time.monotonic() + 60
            while not any("joined it" in line for line in lines):
                assert proc.poll() is None and time.monotonic() < deadline, lines
                await asyncio.sleep(0.05)
            mine = await session.env_destroy(env, wait=True)     # carried out here
            assert str(mine.state) == "destroyed"
        finally:
            await session.close()
        proc.wait(timeout=60)
        reader.join(timeout=10)
        return proc, proc.stdout.read(), [line.rstrip("\n") for line in lines]

    return asyncio.run(scenario())


def test_the_joined_destroy_prints_the_steps_before_the_end_line(world: World):
    made = world.envdeck("env", "create", "pr-12", "--template", "preview", "--param", "branch=b", "--wait")
    assert made.returncode == 0, made.stderr

    proc, out, err = _joined_destroy(world, "pr-12")
    holder = default_holder()
    assert proc.returncode == 0, (out, err)
    assert out.startswith(f"pr-12: destroy done, destroyed (carried out by {holder}; this command joined it)"), out
    steps = [i for i, line in enumerate(err) if line.startswith("pr-12: ") and " deleted" in line]
    ends = [i for i, line in enumerate(err) if line == "pr-12: destroyed"]
    assert ends == [len(err) - 1], err                       # the end line, once, last
    assert {err[i].split()[1] for i in steps} >= {"assets", "web-sg"}, err   # the steps that led to it
    assert all(i < ends[0] for i in steps), err
    assert not any(world.leftovers("pr-12").values()), world.leftovers("pr-12")
