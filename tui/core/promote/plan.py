"""The promotion plan: the ordered changes that make B's components run A's versions.

Components are matched by role (tui/core/compare/roles.py), their versions read by
tui/core/compare/versions.py. envdeck promotes what it can set and verify by a fresh
observation: the container images of Kubernetes Deployments and StatefulSets (what the
desired state's `image` enforces). Other versions (ECS task definitions, Lambda versions,
edge packages) are listed as skipped with the reason, never changed silently.

Order: StatefulSets before Deployments (what holds data first), then by role; one component
per wave, so that a wave that does not turn healthy stops the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tui.core.compare.roles import RoleMapping, match
from tui.core.compare.versions import version_of
from tui.core.errors import InvalidRequest
from tui.core.model import Resource
from tui.core.promote.records import PlannedChange, PromotionPlan, Skipped

__all__ = ["PROMOTABLE_KINDS", "component_matches", "plan_promotion"]

PROMOTABLE_KINDS = ("StatefulSet", "Deployment")   # in wave order


def component_matches(role: str, name: str) -> bool:
    """`--component NAME`: the whole role (`kubernetes/Deployment/web`), `Deployment/web`, or `web`."""
    return role == name or role.endswith("/" + name)


def _kind_rank(resource: Resource) -> int:
    return PROMOTABLE_KINDS.index(resource.kind) if resource.kind in PROMOTABLE_KINDS else len(PROMOTABLE_KINDS)


def plan_promotion(a: str, a_resources: Iterable[Resource], b: str, b_resources: Iterable[Resource], *,
                   components: Sequence[str] = (), mapping: RoleMapping | None = None) -> PromotionPlan:
    """The plan bringing `a`'s versions to `b`. `components` (names as `--component` takes
    them) narrows it; a name that matches no component of either environment is an
    InvalidRequest naming it."""
    kwargs = {"mapping": mapping} if mapping is not None else {}
    matched = match(a, list(a_resources), b, list(b_resources), **kwargs)
    wanted = list(components)
    seen: set[str] = set()

    def selected(role: str) -> bool:
        hits = [n for n in wanted if component_matches(role, n)]
        seen.update(hits)
        return not wanted or bool(hits)

    changes: list[tuple[int, str, Resource, Resource]] = []
    skipped: list[Skipped] = []
    for pair in matched.pairs:
        va, vb = version_of(pair.a, a), version_of(pair.b, b)
        if va is None or vb is None or not selected(pair.role):
            continue
        if va.key == vb.key:  # compared as the versions view does (an ECS family without its env name)
            if wanted:
                skipped.append(Skipped(pair.role, f"{b} already runs {a}'s version ({vb.text})"))
            continue
        if pair.b.backend != "kubernetes" or pair.b.kind not in PROMOTABLE_KINDS:
            skipped.append(Skipped(pair.role, f"{pair.b.kind} versions are shown, not promoted: envdeck promotes "
                                              "the images of Kubernetes Deployments and StatefulSets"))
            continue
        if set(va.images) != set(vb.images):
            skipped.append(Skipped(pair.role, f"containers differ: {a} has {', '.join(sorted(va.images))}, "
                                              f"{b} has {', '.join(sorted(vb.images))}"))
            continue
        changes.append((_kind_rank(pair.b), pair.role, pair.a, pair.b))
    for role, res in matched.only_in_a:
        if version_of(res) is not None and wanted and selected(role):
            skipped.append(Skipped(role, f"not in {b}: a promotion changes versions, it creates nothing"))
    for role, res in matched.only_in_b:
        if version_of(res) is not None:
            selected(role)   # named, so not unknown
    unknown = [n for n in wanted if n not in seen]
    if unknown:
        raise InvalidRequest(f"--component {unknown[0]}: no component of that name in {a} or {b} "
                             "(envdeck versions lists them)")
    out = []
    for wave, (_rank, role, res_a, res_b) in enumerate(sorted(changes, key=lambda c: (c[0], c[1])), start=1):
        before, after = version_of(res_b), version_of(res_a)
        assert before is not None and after is not None
        out.append(PlannedChange(wave, role, res_b.id, "image", dict(before.images), dict(after.images), res_a.id))
    return PromotionPlan(a, b, out, skipped)
