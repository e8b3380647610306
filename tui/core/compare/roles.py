"""Matching the resources of two environments by ROLE, not by literal name.

`staging-web-1` in environment `staging` and `prod-web-1` in environment `prod` play
the same part: both have the role `aws/ec2-instance/web-1`. A role key is
`backend/kind/name-without-the-environment`:

- the environment's own name is dropped from the resource's name where it is a whole
  token (tokens are separated by `-`, `_`, `.`, `/`, `:`): `staging-web-1` → `web-1`,
  `assets-staging` → `assets`, `envdeck-demo-staging-logs` → `envdeck-demo-logs`;
- an AWS resource without a Name (its name is its native id, `i-0abc…`) takes its role
  from its tags instead: the tags whose value is the environment's name are dropped, the
  rest (sorted `key=value`) is the role, so two instances tagged `role=web` match;
- Kubernetes resources differ by namespace (one namespace per environment): the namespace
  is not part of the role;
- instances of something else have no role of their own (`has_role`): Pods, owned
  ReplicaSets and Jobs, EC2 instances of an auto scaling group — their owner is compared;
- where names differ in other ways, the config declares a mapping
  (`compare.mappings: [{a: staging, b: prod, roles: {staging-db: prod-database}}]`): the
  resource named (or with the id) `staging-db` in `staging` takes the role of `prod-database`
  in `prod`. A mapping declared a→b also serves a diff b→a.

Public API:
    role_of(env_name, resource, mapping) -> str
    match(a_env, a_resources, b_env, b_resources, mapping) -> Matched
    RoleMapping (one declared mapping, oriented a→b), mapping_between(config, a, b)

Pure functions over `Resource`s: no I/O, no Textual, used by the diff, the versions matrix
and the promotion plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tui.core.model import Resource

_NATIVE_ID = re.compile(r"^(i|sg|vol|subnet|vpc|eni|ami|igw|nat|rtb|acl)-[0-9a-f]{8,17}$")


@dataclass(frozen=True, slots=True)
class RoleMapping:
    """Names that differ between two environments beyond their environment's name:
    `roles` maps a name (or resource id) in `a_env` to the name (or id) of the resource in
    `b_env` that plays the same part. Empty when the config declares nothing."""

    a_env: str = ""
    b_env: str = ""
    roles: Mapping[str, str] = field(default_factory=dict)

    def reversed(self) -> RoleMapping:
        return RoleMapping(self.b_env, self.a_env, {b: a for a, b in self.roles.items()})


NO_MAPPING = RoleMapping()


@dataclass(frozen=True, slots=True)
class Pair:
    role: str
    a: Resource
    b: Resource


@dataclass(frozen=True, slots=True)
class Matched:
    """The outcome of `match`: pairs sorted by role; the resources of one side only,
    each with its role (sorted by role)."""

    pairs: list[Pair]
    only_in_a: list[tuple[str, Resource]]
    only_in_b: list[tuple[str, Resource]]


@lru_cache(maxsize=256)
def _env_patterns(env_name: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    token = re.escape(env_name)
    return re.compile(rf"^{token}[-_./:]+"), re.compile(rf"[-_./:]+{token}(?=[-_./:]|$)")


def strip_env(env_name: str, text: str) -> str:
    """`text` without the whole tokens equal to `env_name` (and their separator)."""
    if not env_name or env_name not in text or text == env_name:
        return text
    leading, inner = _env_patterns(env_name)
    return inner.sub("", leading.sub("", text)) or text


def _tag_role(env_name: str, tags: Mapping[str, Any]) -> str:
    kept = sorted(f"{k}={v}" for k, v in tags.items()
                  if str(v) != env_name and not str(k).startswith("aws:"))
    return ",".join(strip_env(env_name, item) for item in kept)


def _base_name(env_name: str, resource: Resource) -> str:
    name = resource.name
    if resource.backend == "aws" and _NATIVE_ID.match(name):
        tags = resource.attributes.get("tags")
        if isinstance(tags, Mapping) and tags:
            if tags.get("Name"):
                return strip_env(env_name, str(tags["Name"]))
            role = _tag_role(env_name, tags)
            if role:
                return f"[{role}]"
    return strip_env(env_name, name)


def _mapped_name(env_name: str, resource: Resource, mapping: RoleMapping) -> str | None:
    """The name (in the other environment) a declared mapping gives this resource, if any."""
    if not mapping.roles or env_name != mapping.a_env:
        return None
    for key in (resource.id, resource.name):
        if key in mapping.roles:
            return mapping.roles[key]
    return None


def role_of(env_name: str, resource: Resource, mapping: RoleMapping = NO_MAPPING) -> str:
    """The role key of `resource` observed in environment `env_name`:
    `backend/kind/name-without-the-environment` (see the module docstring)."""
    target = _mapped_name(env_name, resource, mapping)
    if target is not None:
        other = mapping.b_env
        if target.count("/") >= 2:  # an id: backend/kind/name
            backend, kind, name = target.split("/", 2)
            return f"{backend}/{kind}/{strip_env(other, name)}"
        return f"{resource.backend}/{resource.kind}/{strip_env(other, target)}"
    return f"{resource.backend}/{resource.kind}/{_base_name(env_name, resource)}"


_INSTANCE_KINDS = frozenset({"Pod", "ReplicaSet", "Event", "Endpoints", "EndpointSlice"})


def has_role(resource: Resource) -> bool:
    """False for the instances of something else (a Pod, a ReplicaSet or Job with an owner,
    an EC2 instance of an auto scaling group): their names are generated, their owner is
    compared instead."""
    if resource.backend == "kubernetes":
        return resource.kind not in _INSTANCE_KINDS and not resource.attributes.get("owner")
    if resource.backend == "aws" and resource.kind == "ec2-instance":
        tags = resource.attributes.get("tags")
        return not (isinstance(tags, Mapping) and "aws:autoscaling:groupName" in tags)
    return True


def _by_role(env_name: str, resources: Iterable[Resource], mapping: RoleMapping) -> dict[str, Resource]:
    out: dict[str, Resource] = {}
    for res in sorted((r for r in resources if has_role(r)), key=lambda r: r.id):
        role = role_of(env_name, res, mapping)
        if role in out:  # two resources with one role: keep both, the second by its literal id
            role = f"{role}#{res.id}"
        out[role] = res
    return out


def match(a_env: str, a_resources: Iterable[Resource], b_env: str, b_resources: Iterable[Resource],
          mapping: RoleMapping = NO_MAPPING) -> Matched:
    """Pair the resources of `a_env` with those of `b_env` that have the same role.
    `mapping` may be declared either way (a→b or b→a): it is oriented here."""
    if mapping.roles and mapping.a_env == b_env and mapping.b_env == a_env:
        mapping = mapping.reversed()
    a_roles = _by_role(a_env, a_resources, mapping)
    b_roles = _by_role(b_env, b_resources, NO_MAPPING)
    pairs = [Pair(role, a_roles[role], b_roles[role]) for role in sorted(a_roles.keys() & b_roles.keys())]
    only_a = [(role, a_roles[role]) for role in sorted(a_roles.keys() - b_roles.keys())]
    only_b = [(role, b_roles[role]) for role in sorted(b_roles.keys() - a_roles.keys())]
    return Matched(pairs, only_a, only_b)


def mapping_between(mappings: Iterable[Any], a_env: str, b_env: str) -> RoleMapping:
    """The declared mapping between `a_env` and `b_env` (config `compare.mappings`, items
    with `a`, `b`, `roles`), oriented a→b; several declarations are merged."""
    roles: dict[str, str] = {}
    for item in mappings:
        if item.a == a_env and item.b == b_env:
            roles.update(item.roles)
        elif item.a == b_env and item.b == a_env:
            roles.update({b: a for a, b in item.roles.items()})
    return RoleMapping(a_env, b_env, roles) if roles else NO_MAPPING
