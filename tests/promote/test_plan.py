"""The promotion plan and the version matrix over Resources (pure functions): order by kind then
role, one component per wave, what is skipped and why, `--component` names, roles across
environment-named resources."""

from __future__ import annotations

import pytest

from tui.core.compare.versions import build_matrix, version_of
from tui.core.errors import InvalidRequest
from tui.core.model import Health, Resource
from tui.core.promote.plan import plan_promotion


def workload(kind: str, name: str, images: dict[str, str]) -> Resource:
    return Resource(id=f"kubernetes/{kind}/{name}", backend="kubernetes", kind=kind, name=name,
                    health=Health.HEALTHY, attributes={"images": images})


def ecs(name: str, revision: int) -> Resource:
    return Resource(id=f"aws/ecs-service/main/{name}", backend="aws", kind="ecs-service", name=name,
                    health=Health.HEALTHY,
                    attributes={"task_definition": f"arn:aws:ecs:us-east-1:1:task-definition/{name}:{revision}"})


A = [workload("Deployment", "web", {"web": "web:2"}), workload("StatefulSet", "db", {"db": "pg:16"}),
     workload("Deployment", "api", {"api": "api:2", "side": "envoy:2"}), workload("Deployment", "same", {"s": "s:1"}),
     workload("Deployment", "only-a", {"x": "x:1"}), ecs("jobs", 9)]
B = [workload("Deployment", "web", {"web": "web:1"}), workload("StatefulSet", "db", {"db": "pg:15"}),
     workload("Deployment", "api", {"api": "api:1"}), workload("Deployment", "same", {"s": "s:1"}), ecs("jobs", 7)]


def test_plan_orders_statefulsets_first_one_component_per_wave_and_says_what_it_skips():
    plan = plan_promotion("staging", A, "prod", B)
    assert [(c.wave, c.component, c.before, c.after) for c in plan.changes] == [
        (1, "kubernetes/StatefulSet/db", {"db": "pg:15"}, {"db": "pg:16"}),
        (2, "kubernetes/Deployment/web", {"web": "web:1"}, {"web": "web:2"})]
    skipped = {s.component: s.reason for s in plan.skipped}
    assert skipped["kubernetes/Deployment/api"].startswith("containers differ: staging has api, side")
    assert "not promoted" in skipped["aws/ecs-service/jobs"]
    assert "kubernetes/Deployment/same" not in skipped and "kubernetes/Deployment/only-a" not in skipped


def test_component_names_narrow_the_plan_and_an_unknown_one_is_refused():
    plan = plan_promotion("staging", A, "prod", B, components=["web", "Deployment/same", "only-a"])
    assert [c.component for c in plan.changes] == ["kubernetes/Deployment/web"]
    skipped = {s.component: s.reason for s in plan.skipped}
    assert skipped["kubernetes/Deployment/same"] == "prod already runs staging's version (s:1)"
    assert skipped["kubernetes/Deployment/only-a"].startswith("not in prod")
    with pytest.raises(InvalidRequest, match="--component nope: no component"):
        plan_promotion("staging", A, "prod", B, components=["nope"])


def test_matrix_matches_environment_named_resources_by_role():
    staging = [Resource(id="aws/lambda-function/staging-thumbs", backend="aws", kind="lambda-function",
                        name="staging-thumbs", health=Health.HEALTHY,
                        attributes={"version": "$LATEST", "code_sha256": "abcdef0123456789"})]
    prod = [Resource(id="aws/lambda-function/prod-thumbs", backend="aws", kind="lambda-function",
                     name="prod-thumbs", health=Health.HEALTHY, attributes={"version": "7"})]
    matrix = build_matrix({"staging": staging, "prod": prod})
    [row] = matrix.rows
    assert row.role == "aws/lambda-function/thumbs" and row.differs
    assert row.versions["staging"].text == "$LATEST sha256:abcdef012345" and row.versions["prod"].text == "7"
    assert version_of(ecs("jobs", 9)).text == "jobs:9"
    edge = [Resource(id=f"edge/service/{env}-gw-01:nginx", backend="edge", kind="service", name=f"{env}-gw-01:nginx",
                     health=Health.HEALTHY, attributes={"version": v}) for env, v in (("staging", "1.27.1"),
                                                                                     ("prod", "1.26.0"))]
    [edge_row] = build_matrix({"staging": edge[:1], "prod": edge[1:]}).rows
    assert edge_row.role == "edge/service/gw-01:nginx" and edge_row.differs
    assert version_of(Resource(id="edge/service/gw-01:sshd", backend="edge", kind="service", name="gw-01:sshd",
                               health=Health.HEALTHY)) is None, "no version command: no version, not a component"
    assert version_of(workload("Deployment", "api", {"api": "a:1", "side": "b:2"})).text == "api=a:1, side=b:2"


def test_an_ecs_family_named_after_its_environment_is_the_same_version_in_the_plan():
    """staging-api:1 and prod-api:1 are the same revision of the same task definition (as `diff`
    and the versions view compare them): nothing to skip, nothing to change."""
    a = [ecs("staging-api", 1)]
    b = [ecs("prod-api", 1)]
    named = plan_promotion("staging", a, "prod", b, components=["ecs-service/api"])
    assert named.changes == [] and [s.reason for s in named.skipped] == [
        "prod already runs staging's version (prod-api:1)"]
    assert plan_promotion("staging", [ecs("staging-api", 2)], "prod", b).skipped[0].reason.endswith(
        "the images of Kubernetes Deployments and StatefulSets")
