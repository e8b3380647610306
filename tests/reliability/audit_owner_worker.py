"""A process that owns one audit row, for the ownership tests: it opens the store
(`recover=True`, as every envdeck process does), begins a `pending` row, prints
`begun <id>`, and then waits for a line on stdin: `finish` completes the row as
`succeeded` and prints `finished <True|False>`; end of input leaves it pending.

    python -m tests.reliability.audit_owner_worker STATE_DIR
"""

from __future__ import annotations

import asyncio
import sys

from tui.core.model import AuditResult
from tui.core.store import Store


async def main(state_dir: str) -> None:
    store = await Store.open(state_dir)
    try:
        audit_id = await store.audit_begin(user="ops", env="dev", target="edge/node/gw-1", action="restart",
                                           params={"service": "nginx"}, origin="cli")
        print(f"begun {audit_id}", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if line.strip() == "finish":
            done = await store.audit_finish(audit_id, AuditResult.SUCCEEDED, "restarted in 12.0s")
            print(f"finished {done}", flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
