"""A test-only in-memory provisioner for the engine's unit tests (tests/lifecycle/test_engine.py).

`MemoryWorld` plays the servers: it holds what was created (with the environment and step
marks), counts every call, and simulates what the engine must cope with:

- slow health: `world.slow[step_id] = n` → the first n health() calls say "not yet";
- never healthy: `world.never[step_id] = reason`;
- terminal failure: `world.terminal[step_id] = reason`;
- a crash at a point: `world.crash_at = {("create-after", step_id), ...}` raises `Crash` (a
  BaseException, like a SIGKILL nothing catches) once at that point: `create-before`,
  `create-after` (the thing exists, the engine never heard its id), `health`, `delete-after`,
  `sleep-after`, `wake-after`, `sweep`;
- find() adoption: a thing that carries (env, step) is returned by find();
- slow deletion (`world.slow_gone[step_id] = n`), undeletable leftovers
  (`world.stuck[native_id] = reason`), deletions that never finish (`world.never_gone`).

The world is the counting side: `world.creates[step_id]` counts real creations, so a test of
"no duplicate" counts here, not in the engine's store."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tui.core.errors import BackendError
from tui.core.lifecycle.records import (
    EnvLifecycleState,
    Leftover,
    ManagedEnvironment,
    Operation,
    RenderedEnvironment,
    StepHealth,
    StepSpec,
)
from tui.core.model import now_utc


class Crash(BaseException):  # noqa: N818 - a simulated kill, not an error
    """A simulated kill: nothing in the engine catches it."""


@dataclass
class Thing:
    env: str
    step: str
    backend: str
    kind: str
    fields: dict[str, Any]
    native_id: str = ""
    replicas: int = 2
    deleting: int = -1          # gone() calls left before it is gone; -1: not deleting
    gone: bool = False
    instance: str = ""          # the environment instance that created it (its envdeck:instance mark)


@dataclass
class MemoryWorld:
    things: dict[str, Thing] = field(default_factory=dict)
    creates: Counter = field(default_factory=Counter)
    calls: list[tuple[str, str]] = field(default_factory=list)     # (method, step id / backend)
    slow: dict[str, int] = field(default_factory=dict)
    never: dict[str, str] = field(default_factory=dict)
    terminal: dict[str, str] = field(default_factory=dict)
    slow_gone: dict[str, int] = field(default_factory=dict)
    never_gone: set[str] = field(default_factory=set)
    stuck: dict[str, str] = field(default_factory=dict)
    crash_at: set[tuple[str, str]] = field(default_factory=set)
    refuse: dict[str, str] = field(default_factory=dict)           # step id / backend -> BackendError
    unfindable: set[str] = field(default_factory=set)   # step ids find() never adopts (edge: half started)
    sweepless: set[str] = field(default_factory=set)    # backends whose sweep finds nothing (edge: claims)
    health_calls: Counter = field(default_factory=Counter)
    running: int = 0
    max_running: int = 0
    closed: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def crash(self, point: str, key: str) -> None:
        if (point, key) in self.crash_at:
            self.crash_at.discard((point, key))
            raise Crash(f"{point} {key}")

    def live(self, env: str) -> list[Thing]:
        return [t for t in self.things.values() if t.env == env and not t.gone]

    def factory(self, backend: str, env: str, config: Any, template: str) -> MemoryProvisioner:
        return MemoryProvisioner(self, backend, env, config, template)


class MemoryProvisioner:
    """The Provisioner protocol (backends.base.Provisioner) over a MemoryWorld."""

    def __init__(self, world: MemoryWorld, backend: str, env: str, config: Any, template: str):
        self.world, self.name, self.env, self.config, self.template = world, backend, env, config, template
        self.instance = ""

    def bind_instance(self, instance: str) -> None:
        self.instance = instance

    async def find(self, step: StepSpec) -> str | None:
        self.world.calls.append(("find", step.id))
        if step.id in self.world.unfindable:
            return None
        for native_id, thing in self.world.things.items():
            if thing.env == self.env and thing.step == step.id and not thing.gone and thing.instance == self.instance:
                return native_id
        return None

    async def create(self, step: StepSpec, token: str) -> str:
        world = self.world
        world.calls.append(("create", step.id))
        world.crash("create-before", step.id)
        if step.id in world.refuse:
            raise BackendError(world.refuse[step.id], backend=self.name)
        world.running += 1
        world.max_running = max(world.max_running, world.running)
        try:
            await asyncio.sleep(0.01)     # lets steps of one wave overlap
        finally:
            world.running -= 1
        native_id = f"{step.id}-{next(world._ids)}"
        if step.kind == "edge-claim":     # the edge provisioner's id: the claimed nodes
            native_id = ",".join(step.fields.get("claimed") or ()) or native_id
        world.things[native_id] = Thing(self.env, step.id, self.name, step.kind, dict(step.fields),
                                        native_id=native_id, instance=self.instance)
        world.creates[step.id] += 1
        world.crash("create-after", step.id)
        return native_id

    async def health(self, step: StepSpec, native_id: str) -> StepHealth:
        world = self.world
        world.calls.append(("health", step.id))
        world.health_calls[step.id] += 1
        world.crash("health", step.id)
        thing = world.things.get(native_id)
        if thing is None or thing.gone:
            return StepHealth(False, f"{native_id} does not exist")
        if step.id in world.terminal:
            return StepHealth(False, world.terminal[step.id], terminal=True)
        if step.id in world.never:
            return StepHealth(False, world.never[step.id])
        if world.slow.get(step.id, 0) > 0:
            world.slow[step.id] -= 1
            return StepHealth(False, "starting")
        return StepHealth(True)

    async def delete(self, step: StepSpec, native_id: str) -> None:
        world = self.world
        world.calls.append(("delete", step.id))
        thing = world.things.get(native_id)
        if thing is not None and not thing.gone and thing.deleting < 0:
            thing.deleting = world.slow_gone.get(step.id, 0)
        world.crash("delete-after", step.id)

    async def gone(self, step: StepSpec, native_id: str) -> bool:
        world = self.world
        world.calls.append(("gone", step.id))
        thing = world.things.get(native_id)
        if thing is None or thing.gone:
            return True
        if step.id in world.never_gone or thing.deleting < 0:
            return False
        if thing.deleting == 0:
            thing.gone = True
            return True
        thing.deleting -= 1
        return False

    async def sweep(self) -> list[Leftover]:
        self.world.calls.append(("sweep", self.name))
        self.world.crash("sweep", self.name)
        if self.name in self.world.refuse:
            raise BackendError(self.world.refuse[self.name], backend=self.name)
        if self.name in self.world.sweepless:
            return []
        return [Leftover(self.name, t.kind, native_id, arn=f"arn:{native_id}", instance=t.instance, step=t.step)
                for native_id, t in self.world.things.items()
                if t.env == self.env and t.backend == self.name and not t.gone]

    async def delete_leftover(self, leftover: Leftover) -> None:
        self.world.calls.append(("delete_leftover", leftover.native_id))
        if leftover.native_id in self.world.stuck:
            raise BackendError(self.world.stuck[leftover.native_id], backend=self.name)
        self.world.things[leftover.native_id].gone = True

    async def sleep(self) -> dict[str, dict[str, Any]]:
        self.world.calls.append(("sleep", self.name))
        memory = {}
        for native_id, thing in self.world.things.items():
            if thing.env == self.env and thing.backend == self.name and not thing.gone and thing.replicas:
                memory[native_id] = {"replicas": thing.replicas}
                thing.replicas = 0
        self.world.crash("sleep-after", self.name)
        return memory

    async def wake(self, memory: dict[str, dict[str, Any]]) -> None:
        self.world.calls.append(("wake", self.name))
        for native_id, before in memory.items():
            self.world.things[native_id].replicas = before["replicas"]
        self.world.crash("wake-after", self.name)

    async def close(self) -> None:
        self.world.closed += 1


def managed_env(name: str, steps: list[StepSpec], *, template: str = "preview",
                parameters: dict[str, Any] | None = None, ttl_s: float | None = None,
                on_failure: str = "keep", environment: dict[str, Any] | None = None,
                operation: Operation | None = Operation.CREATE, created_at: datetime | None = None,
                owner: str = "ann") -> ManagedEnvironment:
    """A planned environment as the service would insert it."""
    spec = RenderedEnvironment(name=name, template=template, parameters=dict(parameters or {}), creator=owner,
                               steps=list(steps), environment=dict(environment or {}), ttl_s=ttl_s,
                               on_failure=on_failure)
    return ManagedEnvironment(name=name, template=template, parameters=dict(parameters or {}), owner=owner,
                              state=EnvLifecycleState.PLANNED, spec=spec, created_at=created_at or now_utc(),
                              operation=operation)


class FakeClock:
    """A clock that moves only when told to, or by `tick` on every read (timeouts without
    waiting)."""

    def __init__(self, start: datetime | None = None, tick_s: float = 0.0):
        self.now = start or now_utc()
        self.tick = timedelta(seconds=tick_s)

    def __call__(self) -> datetime:
        self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
