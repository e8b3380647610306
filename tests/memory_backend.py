"""An in-memory backend for testing the core (reconciler, services, policy, CLI
plumbing) without a server. It is the *collaborator* of the code under test, not
a mock of it: the three real backends are tested against real servers in
tests/aws, tests/kubernetes and tests/edge.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from backends.base import Backend
from tui.core.errors import BackendUnreachable, InvalidRequest
from tui.core.model import (
    ActionResult,
    ActionSpec,
    Drift,
    DriftItem,
    Fault,
    Health,
    LogLine,
    Observation,
    Resource,
    Role,
    Severity,
    now_utc,
)


class World:
    """The state of the fake service: replicas per app, and knobs for failures."""

    def __init__(self) -> None:
        self.replicas: dict[str, int] = {"web": 3, "api": 2}
        self.desired: dict[str, int] = {"web": 3}
        self.down = False
        self.observe_delay = 0.0
        self.fail_repairs = False
        self.observe_calls = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self.repair_calls = 0
        self.performed: list[tuple[str, str, dict]] = []
        self.log_lines = [f"line {i}" for i in range(10)]


class MemoryBackend(Backend):
    name = "aws"  # plays the part of one configured backend block

    def __init__(self, env, config, defaults, world: World):
        super().__init__(env, config, defaults)
        self.world = world
        self._cache: dict[str, Resource] = {}

    async def observe(self) -> Observation:
        w = self.world
        w.observe_calls += 1
        w.concurrent += 1
        w.max_concurrent = max(w.max_concurrent, w.concurrent)
        try:
            if w.observe_delay:
                await asyncio.sleep(w.observe_delay)
            if w.down:
                raise BackendUnreachable("connection refused (memory backend is down)", backend=self.name)
            resources = []
            for app, count in sorted(w.replicas.items()):
                rid = f"aws/app/{app}"
                health = Health.HEALTHY if count > 0 else Health.SUSPENDED
                drift = Drift.IN_SYNC if app in w.desired else None
                cached = self._cache.get(rid)
                if cached and cached.attributes.get("replicas") == count:
                    resources.append(cached)
                    continue
                r = Resource(id=rid, backend="aws", kind="app", name=app, health=health, status=f"{count} replicas",
                             observed_at=now_utc(), drift=drift, attributes={"replicas": count})
                self._cache[rid] = r
                resources.append(r)
            faults = [Fault(f"aws/app/{a}", Severity.HIGH, "Stopped", "no replicas") for a, c in
                      w.replicas.items() if c == 0]
            return Observation(backend=self.name, resources=resources, faults=faults,
                               samples=[(f"aws/app/{a}", "replicas", float(c)) for a, c in w.replicas.items()])
        finally:
            w.concurrent -= 1

    def diff(self, observation: Observation) -> list[DriftItem]:
        return [DriftItem(f"aws/app/{app}", "replicas", want, self.world.replicas.get(app))
                for app, want in self.world.desired.items() if self.world.replicas.get(app) != want]

    def repair_action(self, drift: DriftItem) -> str:
        return "scale"

    async def repair(self, drift: DriftItem) -> ActionResult:
        self.world.repair_calls += 1
        if self.world.fail_repairs:
            return ActionResult(False, "quota exceeded")
        self.world.replicas[drift.resource.rsplit("/", 1)[1]] = drift.desired
        return ActionResult(True, f"scaled to {drift.desired}")

    def actions(self, resource: Resource) -> list[ActionSpec]:
        return [ActionSpec("restart", "Restart"), ActionSpec("scale", "Scale", params=("replicas",)),
                ActionSpec("delete", "Delete", role=Role.ADMIN, destructive=True)]

    async def perform(self, resource: Resource, action: str, params: dict[str, str]) -> ActionResult:
        if action not in {"restart", "scale", "delete"}:
            raise InvalidRequest(f"unknown action {action}")
        self.world.performed.append((resource.id, action, dict(params)))
        if action == "scale":
            self.world.replicas[resource.name] = int(params["replicas"])
        return ActionResult(True, f"{action} done")

    async def logs(self, resource_id, *, follow=False, tail=100, container=None, previous=False
                   ) -> AsyncIterator[LogLine]:
        lines = self.world.log_lines[-tail:] if tail else self.world.log_lines
        for text in lines:
            yield LogLine(text, source=resource_id)


def memory_factory(world: World):
    def factory(env, env_cfg, cfg):
        return {"aws": MemoryBackend(env, env_cfg.aws, cfg.defaults, world)} if env_cfg.aws else {}
    return factory
