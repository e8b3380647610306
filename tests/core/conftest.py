"""Fixtures of the core tests: a reconciler over the in-memory backend, with its store."""

from __future__ import annotations

import random

import pytest

from tests.memory_backend import World, memory_factory
from tui.core.config import EnvdeckConfig, parse_config
from tui.core.policy import Policy
from tui.core.reconciler import Reconciler
from tui.core.store import Store


def reconciler_config(repair: str = "propose", access: str = "", interval: str = "30s") -> EnvdeckConfig:
    """One environment, `staging`, with one AWS backend (the in-memory one in these tests)."""
    return parse_config(f"""
environments:
  staging:
    repair: {repair}
    {access}
    aws: {{region: us-east-1, tags: {{env: staging}}}}
defaults: {{interval: {interval}, max_backoff: 2s}}
""")


class Reconcilers:
    """`await make_reconciler(world, repair=..., user=..., ...)` -> (reconciler, store) on the
    test's state directory; every one made is stopped and its store closed after the test."""

    def __init__(self, state_dir) -> None:
        self.state_dir = state_dir
        self.made: list[tuple[Reconciler, Store]] = []

    async def __call__(self, world: World, *, repair: str = "propose", user: str = "bob", access: str = "",
                       interval: str = "30s", read_only: bool = False, config: EnvdeckConfig | None = None,
                       rng: random.Random | None = None) -> tuple[Reconciler, Store]:
        cfg = config if config is not None else reconciler_config(repair, access, interval)
        store = await Store.open(self.state_dir)
        rec = Reconciler(cfg, store, Policy(cfg, user, read_only=read_only), backends_factory=memory_factory(world),
                         rng=rng if rng is not None or config is not None else random.Random(1))
        self.made.append((rec, store))
        return rec, store

    async def close(self, rec: Reconciler, store: Store) -> None:
        """Stop one before the test ends (e.g. to open the same state directory again)."""
        self.made.remove((rec, store))
        await rec.stop()
        await store.close()

    async def close_all(self) -> None:
        while self.made:
            await self.close(*self.made[-1])


@pytest.fixture
async def make_reconciler(tmp_path):
    made = Reconcilers(tmp_path)
    try:
        yield made
    finally:
        await made.close_all()
