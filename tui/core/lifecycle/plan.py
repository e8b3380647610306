"""The step graph of a rendered environment and its waves.

Edges: each step's explicit `depends_on`, plus implicit ones: the Kubernetes namespace
before every other Kubernetes step, and a step before any step whose fields reference it
(`{web-sg}` in an instance's `security_groups`). A wave is the set of steps whose longest
chain of dependencies has the same length (Kahn's algorithm by levels): every step of wave
n depends only on steps of waves < n, so the steps of one wave may run in parallel. The
order is deterministic: waves in order, and inside a wave the order the template lists the
steps in. Destroy runs the waves in reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tui.core.errors import InvalidRequest
from tui.core.lifecycle.records import RenderedEnvironment, StepSpec
from tui.core.lifecycle.render import as_created, references
from tui.core.lifecycle.template import NAMESPACE_STEP
from tui.core.lifecycle.template_check import find_cycle


@dataclass(frozen=True, slots=True)
class Plan:
    env: str
    template: str
    steps: list[StepSpec]              # every step with all its edges in depends_on, wave order
    waves: list[list[str]]             # step ids; wave n depends only on waves < n

    def wave_of(self) -> dict[str, int]:
        return {step_id: n for n, wave in enumerate(self.waves) for step_id in wave}

    def to_json(self) -> dict[str, Any]:
        """What `env plan --json` prints: each step's fields as the create makes them
        (`render.as_created`: `b{x}`, not the template form `b{{x}}` the steps keep for the
        engine), a reference to another step's native id as `{STEP-ID}`."""
        wave = self.wave_of()
        return {"env": self.env, "template": self.template,
                "steps": [{**step.to_json(), "fields": as_created(step.fields), "wave": wave[step.id]}
                          for step in self.steps],
                "waves": [list(w) for w in self.waves]}


def build_plan(rendered: RenderedEnvironment) -> Plan:
    """The plan of `rendered`; InvalidRequest for a duplicate id, an edge to an unknown step,
    or a cycle (naming the steps)."""
    order: dict[str, int] = {}
    for index, step in enumerate(rendered.steps):
        if step.id in order:
            raise InvalidRequest(f"step id {step.id!r} is used twice")
        order[step.id] = index
    deps = {step.id: edges_of(step, order) for step in rendered.steps}
    waves = _levels(deps, order)
    by_id = {step.id: step for step in rendered.steps}
    steps = [replace(by_id[step_id], depends_on=tuple(sorted(deps[step_id], key=order.__getitem__)))
             for wave in waves for step_id in wave]
    return Plan(env=rendered.name, template=rendered.template, steps=steps, waves=waves)


def edges_of(step: StepSpec, known: dict[str, int]) -> set[str]:
    """What `step` depends on: explicit, the namespace, and referenced steps."""
    out: set[str] = set()
    for dep in step.depends_on:
        if dep not in known:
            raise InvalidRequest(f"step {step.id!r} depends on {dep!r}, which is no step of this plan")
        out.add(dep)
    if step.backend == "kubernetes" and step.id != NAMESPACE_STEP and NAMESPACE_STEP in known:
        out.add(NAMESPACE_STEP)
    for ref in references(step.fields):
        if ref not in known:
            raise InvalidRequest(f"step {step.id!r} refers to {{{ref}}}, which is no step of this plan")
        out.add(ref)
    if step.id in out:
        raise InvalidRequest(f"step {step.id!r} depends on itself")
    return out


def _levels(deps: dict[str, set[str]], order: dict[str, int]) -> list[list[str]]:
    """Kahn's algorithm by levels: a step's wave is the length of its longest chain."""
    remaining = {step_id: len(d) for step_id, d in deps.items()}
    users: dict[str, list[str]] = {step_id: [] for step_id in deps}
    for step_id, d in deps.items():
        for dep in d:
            users[dep].append(step_id)
    current = sorted((s for s, n in remaining.items() if n == 0), key=order.__getitem__)
    waves: list[list[str]] = []
    placed = 0
    while current:
        waves.append(current)
        placed += len(current)
        following: list[str] = []
        for step_id in current:
            for user in users[step_id]:
                remaining[user] -= 1
                if remaining[user] == 0:
                    following.append(user)
        current = sorted(following, key=order.__getitem__)
    if placed != len(deps):
        left = {s: deps[s] for s, n in remaining.items() if n > 0}
        cycle = find_cycle(left) or sorted(left)
        raise InvalidRequest("steps depend on each other in a circle: " + " → ".join(cycle + cycle[:1]))
    return waves
