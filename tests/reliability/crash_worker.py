"""A worker for the crash-consistency suite: performs many audited actions and
repairs through `tui.core.session.Session` (the core under test) with the in-memory
backend as collaborator, and prints `done <audit-id> <result>` once an audit row
is final. The test SIGKILLs it at random points.

    python -m tests.reliability.crash_worker STATE_DIR SEED [ACTION_DELAY_S]

With ACTION_DELAY_S, every action and repair takes that long (a kill then surely
lands on a `pending` row).
"""

from __future__ import annotations

import asyncio
import random
import sys

from tests.memory_backend import MemoryBackend, World
from tui.core.config import parse_config
from tui.core.errors import PolicyDenied
from tui.core.identity import current_user
from tui.core.model import Origin
from tui.core.session import Session

CONFIG = """
environments:
  dev:
    repair: auto
    aws: {region: us-east-1, tags: {env: dev}}
  ops:
    repair: propose
    access: {operator: [%(user)s]}
    aws: {region: us-east-1, tags: {env: ops}}
"""


class SlowMemoryBackend(MemoryBackend):
    """The memory backend, with actions and repairs that take a little while, so a kill
    often lands while an audit row is `pending`."""

    def __init__(self, *args, rng: random.Random, delay: float | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng = rng
        self.delay = delay

    async def _pause(self) -> None:
        await asyncio.sleep(self.delay if self.delay is not None else self.rng.uniform(0, 0.02))

    async def perform(self, resource, action, params):
        await self._pause()
        return await super().perform(resource, action, params)

    async def repair(self, drift):
        await self._pause()
        return await super().repair(drift)


async def main(state_dir: str, seed: int, delay: float | None = None) -> None:
    rng = random.Random(seed)
    worlds = {"dev": World(), "ops": World()}

    def factory(env, env_cfg, cfg):
        return {"aws": SlowMemoryBackend(env, env_cfg.aws, cfg.defaults, worlds[env], rng=rng, delay=delay)}

    cfg = parse_config(CONFIG % {"user": current_user()})
    session = await Session.open(cfg, state_dir, origin=Origin.CLI, backends_factory=factory)
    last = max((e["id"] for e in await session.store.audit_entries(limit=1)), default=0)
    print(f"ready {last}", flush=True)
    step = 0
    while True:
        step += 1
        env = rng.choice(["dev", "ops"])
        roll = rng.random()
        try:
            if roll < 0.45:
                await session.act(env, "aws/app/web", "scale", {"replicas": str(rng.randint(0, 6))})
            elif roll < 0.65:
                await session.act(env, "aws/app/api", "restart")
            elif roll < 0.75:
                await session.act(env, "aws/app/api", "delete")  # denied in ops (operator)
            else:
                # one observe pass; `dev` is in auto mode and repairs, `ops` repairs on request (denied)
                await session.reconciler.pass_once(env, "aws")
                await session.repair(env)
        except PolicyDenied:
            pass
        for entry in reversed(await session.store.audit_entries(limit=50)):
            if entry["id"] > last:
                print(f"done {entry['id']} {entry['result']}", flush=True)
                last = entry["id"]
        if step % 10 == 0:
            await asyncio.sleep(0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else None))
