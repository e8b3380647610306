"""Several envdecks opening a store that does not exist yet, at the same moment (a team's
shared state directory, or the agent and a TUI started together): every one opens it, none
fails with "table … already exists" from migrating what another one just migrated."""

from __future__ import annotations

import subprocess
import sys
import time

OPENER = """
import asyncio, sys, time
from tui.core.store import Store
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time() - 0.02))  # asleep until just before the start (no CPU burnt)...
while time.time() < start:                          # ...then spinning, so that all open at the same moment
    pass
async def main():
    store = await Store.open(sys.argv[1])
    print(await store.schema_version())
    await store.close()
asyncio.run(main())
"""


def test_envdecks_opening_a_new_store_together_all_succeed(tmp_path):
    from tui.core.store import MIGRATIONS

    for trial in range(4):
        state = tmp_path / f"state-{trial}"
        start = time.time() + 2.0            # every process is started and waiting by then
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(state), str(start)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
        results = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, (trial, err)
            assert out.strip() == str(len(MIGRATIONS)), (trial, out, err)
