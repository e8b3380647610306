"""The version matrix: components × environments, the version each environment runs.

A component is a ROLE (tui/core/compare/roles.py): `kubernetes/Deployment/web` is the same
component in `staging` (namespace staging) and `prod`. What counts as a version, per kind:

- Kubernetes Deployment / StatefulSet / DaemonSet: the image of each container
  (`attributes["images"]`, `{container: image}`; a tag or a digest as the spec names it);
- AWS ecs-service: the task definition's `family:revision` (from its ARN), compared with the
  environment's own name dropped from the family (`staging-api:1` runs what `prod-api:1`
  runs), as the diff does (fields.py);
- AWS lambda-function: its `version` when published, else `$LATEST sha256:…` (the start of
  the code's SHA-256, so that two environments' unpublished code is told apart);
- edge service: its `version` attribute (the output of the node's `version` command
  template) when the inventory has one.

Kinds and resources without a version are not components of the matrix. Pure functions over
`Resource`s: no I/O, no Textual; `envdeck versions`, the versions view and the promotion
plan use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.core.compare.roles import NO_MAPPING, RoleMapping, mapping_between, role_of, strip_env
from tui.core.model import Resource

__all__ = ["WORKLOAD_KINDS", "ComponentRow", "Version", "VersionMatrix", "build_matrix", "version_of"]

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


@dataclass(frozen=True, slots=True)
class Version:
    """What one environment runs for one component."""

    resource: str                 # the resource id in that environment
    text: str                     # one line: `nginx:1.27`, `api=a:1, side=b:2`, `web:7`
    images: Mapping[str, str] = field(default_factory=dict)   # per container (workloads)
    compared: str = ""            # what is compared across environments, when not `text`

    @property
    def key(self) -> str:
        """What two environments' versions are compared on: `text`, except where it carries
        the environment's own name (an ECS task definition family: `api:1` for `prod-api:1`)."""
        return self.compared or self.text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resource": self.resource, "version": self.text}
        if self.images:
            out["images"] = dict(self.images)
        return out


def _one_line(images: Mapping[str, str]) -> str:
    distinct = set(images.values())
    if len(distinct) == 1:
        return next(iter(distinct))
    return ", ".join(f"{name}={image}" for name, image in sorted(images.items()))


def _task_definition(arn: str) -> str:
    """`arn:aws:ecs:…:task-definition/web:7` → `web:7`."""
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn


def version_of(resource: Resource, env_name: str = "") -> Version | None:
    """The version `resource` runs, or None when its kind has none (or it is a placeholder).
    `env_name`: the environment it was observed in (its name is not part of what is compared)."""
    attrs = resource.attributes or {}
    if attrs.get("placeholder"):
        return None
    if resource.backend == "kubernetes" and resource.kind in WORKLOAD_KINDS:
        images = {str(k): str(v) for k, v in (attrs.get("images") or {}).items()}
        return Version(resource.id, _one_line(images), images) if images else None
    if resource.backend == "aws" and resource.kind == "ecs-service":
        arn = attrs.get("task_definition")
        if not arn:
            return None
        task = _task_definition(str(arn))
        family, _, revision = task.rpartition(":")
        same = f"{strip_env(env_name, family)}:{revision}" if family and env_name else ""
        return Version(resource.id, task, compared=same if same != task else "")
    if resource.backend == "aws" and resource.kind == "lambda-function":
        version, sha = attrs.get("version"), attrs.get("code_sha256")
        if version not in (None, "", "$LATEST"):
            return Version(resource.id, str(version))
        if sha:   # the unpublished code: told apart by its hash
            return Version(resource.id, f"$LATEST sha256:{str(sha)[:12]}")
        return Version(resource.id, str(version)) if version else None
    if resource.backend == "edge" and resource.kind == "service":
        found = attrs.get("version")
        return Version(resource.id, str(found).strip()) if found not in (None, "") else None
    return None


@dataclass(frozen=True, slots=True)
class ComponentRow:
    """One component: its role and, per environment, what it runs (absent: not there)."""

    role: str
    versions: Mapping[str, Version]
    envs: tuple[str, ...] = ()      # the matrix's environments (those without it: `absent`)

    @property
    def differs(self) -> bool:
        """Whether the environments do not all run the same version, or some lack it (the JSON's
        `differs`, unchanged since it was introduced); the `≠` mark is `versions_differ`."""
        return self.versions_differ or bool(self.absent)

    @property
    def versions_differ(self) -> bool:
        """Whether the environments that run the component run different versions. An
        environment without it (`absent`) does not count: staging and prod stay comparable at a
        glance beside a preview environment that runs none of their components."""
        return len({v.key for v in self.versions.values()}) > 1

    @property
    def absent(self) -> tuple[str, ...]:
        """The matrix's environments that do not run the component (`—`), in column order."""
        return tuple(e for e in self.envs if e not in self.versions)

    def to_json(self, envs: Iterable[str]) -> dict[str, Any]:
        return {"component": self.role, "differs": self.differs, "versions_differ": self.versions_differ,
                "absent": list(self.absent),
                "versions": {env: (self.versions[env].to_json() if env in self.versions else None) for env in envs}}


@dataclass(frozen=True, slots=True)
class VersionMatrix:
    envs: list[str]
    rows: list[ComponentRow]
    #: "ENV/BACKEND" → why it could not be observed (its components are missing from that column)
    unreachable: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"environments": list(self.envs), "components": [r.to_json(self.envs) for r in self.rows],
                "unreachable": dict(self.unreachable)}

    @property
    def differing(self) -> int:
        """How many components run different versions where they run (the `≠` rows)."""
        return sum(1 for r in self.rows if r.versions_differ)

    def absent_counts(self) -> dict[str, int]:
        """Environment → how many components it does not run (only those lacking some), in column order."""
        counts = {env: sum(1 for r in self.rows if env not in r.versions) for env in self.envs}
        return {env: n for env, n in counts.items() if n}

    def summary(self) -> str:
        """`8 component(s), 2 differ (≠); absent (—): 8 in pr-1` — the line under the matrix."""
        line = f"{len(self.rows)} component(s), {self.differing} differ (≠)"
        absent = self.absent_counts()
        if absent:
            line += "; absent (—): " + ", ".join(f"{n} in {env}" for env, n in absent.items())
        return line


def build_matrix(observed: Mapping[str, Iterable[Resource]], mappings: Iterable[Any] = ()) -> VersionMatrix:
    """The matrix of the environments in `observed` (name → its resources, in column order).
    Roles are those of `roles.role_of`; a declared mapping between an environment and the
    first one (`compare.mappings`) names its resources as the first environment's roles."""
    envs = list(observed)
    mappings = list(mappings)
    rows: dict[str, dict[str, Version]] = {}
    for env in envs:
        mapping: RoleMapping = (mapping_between(mappings, env, envs[0])
                                if mappings and env != envs[0] else NO_MAPPING)
        for res in sorted(observed[env], key=lambda r: r.id):
            version = version_of(res, env)
            if version is None:
                continue
            role = role_of(env, res, mapping)
            per = rows.setdefault(role, {})
            if env in per:          # two resources with one role: the second by its literal id
                role = f"{role}#{res.id}"
                per = rows.setdefault(role, {})
            per[env] = version
    return VersionMatrix(envs, [ComponentRow(role, rows[role], tuple(envs)) for role in sorted(rows)])
