"""The typed records of an environment diff, and their JSON (documented in docs/compare.md).

Every value here is safe to show: a secret's (or a ConfigMap's) content never appears, only
`HIDDEN` on each side where the key exists, with `FieldDiff.hidden` set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HIDDEN = "(hidden)"  # the value of a Secret or ConfigMap key: compared by digest, never shown


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One field that differs: its value in A and in B (None: absent on that side)."""

    field: str
    a: Any
    b: Any
    hidden: bool = False  # compared by in-memory digest; a/b are HIDDEN or None

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "a": self.a, "b": self.b, "hidden": self.hidden}


@dataclass(frozen=True, slots=True)
class PairDiff:
    """A role present in both environments whose fields differ."""

    role: str
    backend: str
    kind: str
    a_id: str
    b_id: str
    fields: list[FieldDiff]

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "backend": self.backend, "kind": self.kind, "a_id": self.a_id,
                "b_id": self.b_id, "fields": [f.to_json() for f in self.fields]}


@dataclass(frozen=True, slots=True)
class OnlyIn:
    """A resource whose role has no counterpart in the other environment."""

    role: str
    backend: str
    kind: str
    id: str

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "backend": self.backend, "kind": self.kind, "id": self.id}


@dataclass(slots=True)
class EnvDiff:
    a_env: str
    b_env: str
    ignored: list[str] = field(default_factory=list)
    backends: list[str] | None = None  # None: every backend
    matched: int = 0  # roles found in both (with or without differences)
    differing: list[PairDiff] = field(default_factory=list)
    only_in_a: list[OnlyIn] = field(default_factory=list)
    only_in_b: list[OnlyIn] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.differing or self.only_in_a or self.only_in_b)

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a_env, "b": self.b_env, "ignored": list(self.ignored), "backends": self.backends,
                "equal": self.equal, "matched": self.matched,
                "differing": [p.to_json() for p in self.differing],
                "only_in_a": [o.to_json() for o in self.only_in_a],
                "only_in_b": [o.to_json() for o in self.only_in_b]}
