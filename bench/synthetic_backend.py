"""A generated in-memory backend for the core benchmarks (the reconciler's
collaborator, like tests/memory_backend.py but at 10,000+ resources).

Every resource is an `app` with replicas; every one has a desired replica count
(so diff() looks at all of them); `drift_every` makes one in so many drifted.
Unchanged resources are returned as the *same objects* between observations, as
the backend protocol promises, and `touch(k)` replaces k of them with new ones.
"""

from __future__ import annotations

import random

from backends.base import Backend
from tui.core.model import (
    ActionResult,
    DriftItem,
    Fault,
    Finding,
    Health,
    Observation,
    Resource,
    Severity,
    now_utc,
)


class SyntheticWorld:
    def __init__(self, n: int, drift_every: int = 100, seed: int = 1):
        self.rng = random.Random(seed)
        self.desired = {f"app-{i:05d}": 3 for i in range(n)}
        self.replicas = {name: (2 if i % drift_every == 0 else 3) for i, name in enumerate(self.desired)}
        self.resources: dict[str, Resource] = {}
        for name in self.desired:
            self.resources[name] = self._make(name)

    def _make(self, name: str) -> Resource:
        count = self.replicas[name]
        health = Health.HEALTHY if count >= self.desired[name] else Health.PROGRESSING
        findings = [] if self.rng.random() > 0.05 else [
            Finding("bench.no-limits", Severity.LOW, "no resource limits", f"aws/app/{name}")]
        return Resource(id=f"aws/app/{name}", backend="aws", kind="app", name=name, health=health,
                        status=f"{count}/{self.desired[name]} replicas", observed_at=now_utc(),
                        findings=findings, attributes={"replicas": count, "image": f"registry/{name}:1.0",
                                                       "labels": {"team": f"t{hash(name) % 20}"}})

    def touch(self, k: int) -> list[str]:
        """Change k resources (a new object each, as a backend does); their names."""
        names = self.rng.sample(sorted(self.desired), k)
        for name in names:
            self.replicas[name] = self.rng.choice((1, 2, 3, 3, 3))
            self.resources[name] = self._make(name)
        return names


class SyntheticBackend(Backend):
    name = "aws"  # plays the part of one configured backend block

    def __init__(self, env, config, defaults, world: SyntheticWorld):
        super().__init__(env, config, defaults)
        self.world = world

    async def observe(self) -> Observation:
        w = self.world
        faults = [Fault(r.id, Severity.MEDIUM, "Progressing", r.status) for r in w.resources.values()
                  if r.health is not Health.HEALTHY]
        return Observation(backend=self.name, resources=list(w.resources.values()), faults=faults)

    def diff(self, observation: Observation) -> list[DriftItem]:
        desired = self.world.desired
        out = []
        for r in observation.resources:
            want = desired.get(r.name)
            have = r.attributes.get("replicas")
            if want is not None and have != want:
                out.append(DriftItem(r.id, "replicas", want, have))
        return out

    def repair_action(self, drift: DriftItem) -> str:
        return "scale"

    async def repair(self, drift: DriftItem) -> ActionResult:
        return ActionResult(True, "scaled")


def synthetic_factory(world: SyntheticWorld):
    def factory(env, env_cfg, cfg):
        return {"aws": SyntheticBackend(env, env_cfg.aws, cfg.defaults, world)}
    return factory
