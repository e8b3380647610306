"""Role matching, comparable fields and ignore rules on Resources made by the real converters
(pure functions: no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backends.aws import resource_builder
from backends.kubernetes import convert
from tui.core.compare.diff import diff
from tui.core.compare.roles import RoleMapping, match, role_of, strip_env
from tui.core.compare.versions import build_matrix
from tui.core.model import Resource

AT = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(("env", "text", "stripped"), [
    ("staging", "staging-web-1", "web-1"), ("prod", "web-prod", "web"), ("prod", "prod-gw-01:nginx", "gw-01:nginx"),
    ("staging", "envdeck-demo-staging-logs", "envdeck-demo-logs"), ("prod", "production-x", "production-x"),
    ("prod", "prod", "prod"), ("prod", "a.prod.b", "a.b")])
def test_strip_env_drops_whole_tokens_only(env, text, stripped):
    assert strip_env(env, text) == stripped


def ec2(env: str, iid: str, tags: dict[str, str], itype: str = "t3.micro") -> Resource:
    inst = {"InstanceId": iid, "InstanceType": itype, "ImageId": "ami-0abc", "State": {"Name": "running"},
            "Tags": [{"Key": k, "Value": v} for k, v in {"env": env, **tags}.items()]}
    return resource_builder.ec2_instance(inst, None, "us-east-1", AT)


def test_roles_from_names_tags_and_a_mapping_either_way():
    a = [ec2("staging", "i-0aaaaaaaaaaaaaaa1", {"Name": "staging-web-1"}),
         ec2("staging", "i-0aaaaaaaaaaaaaaa2", {"role": "cache"}),
         ec2("staging", "i-0aaaaaaaaaaaaaaa3", {"Name": "staging-db"}),
         ec2("staging", "i-0aaaaaaaaaaaaaaa4", {"aws:autoscaling:groupName": "staging-asg"})]
    b = [ec2("prod", "i-0bbbbbbbbbbbbbbb1", {"Name": "prod-web-1"}),
         ec2("prod", "i-0bbbbbbbbbbbbbbb2", {"role": "cache"}),
         ec2("prod", "i-0bbbbbbbbbbbbbbb3", {"Name": "prod-database"})]
    assert role_of("staging", a[0]) == role_of("prod", b[0]) == "aws/ec2-instance/web-1"
    assert role_of("staging", a[1]) == "aws/ec2-instance/[role=cache]"
    mapping = RoleMapping("staging", "prod", {"staging-db": "prod-database"})
    for m in (mapping, mapping.reversed()):  # declared a→b, asked b→a: the same pairs
        got = match("prod", b, "staging", a, m)
        assert sorted((p.a.attributes["instance_id"], p.b.attributes["instance_id"]) for p in got.pairs) == [
            ("i-0bbbbbbbbbbbbbbb1", "i-0aaaaaaaaaaaaaaa1"), ("i-0bbbbbbbbbbbbbbb2", "i-0aaaaaaaaaaaaaaa2"),
            ("i-0bbbbbbbbbbbbbbb3", "i-0aaaaaaaaaaaaaaa3")]
        assert "aws/ec2-instance/db" in [p.role for p in got.pairs], "a mapped role is named as in B"
        assert got.only_in_a == [] and got.only_in_b == [], "an auto scaling group's instance has no role"
    unmapped = match("staging", a, "prod", b)
    assert [r for r, _ in unmapped.only_in_a] == ["aws/ec2-instance/db"]
    assert [r for r, _ in unmapped.only_in_b] == ["aws/ec2-instance/database"]


def deployment(ns: str, image: str, replicas: int, keys: list[str]) -> Resource:
    labels = {"app": "web"}
    return convert.deployment({"metadata": {"name": "web", "namespace": ns}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels},
        "spec": {"containers": [{"name": "web", "image": image, "env": [{"name": k, "value": "x"} for k in keys]},
                                {"name": "proxy", "image": "envoy:1"}]}}}}).resource


def test_fields_and_ignore_rules_by_base_or_path():
    a = [deployment("staging", "web:2", 1, ["A", "B"]), ec2("staging", "i-0aaaaaaaaaaaaaaa1", {"Name": "staging-web-1"})]
    b = [deployment("prod", "web:1", 3, ["A"]), ec2("prod", "i-0bbbbbbbbbbbbbbb1", {"Name": "prod-web-1"}, "t3.large")]
    pods = [convert.pod({"metadata": {"name": "web-5c8b-abcde", "namespace": "staging"}, "spec": {}}).resource]
    full = diff("staging", a + pods, "prod", b)
    assert {p.role: [f.field for f in p.fields] for p in full.differing} == {
        "kubernetes/Deployment/web": ["env_keys[web]", "image[web]", "replicas"],
        "aws/ec2-instance/web-1": ["instance_type"]}
    assert full.only_in_a == [], "pods are instances of their owner: no role of their own"
    narrowed = diff("staging", a, "prod", b, ignore=["replicas", "env_keys[web]"], backends=["kubernetes"])
    assert [(f.field, f.a, f.b) for p in narrowed.differing for f in p.fields] == [("image[web]", "web:2", "web:1")]
    assert diff("staging", a, "prod", b, ignore=["replicas", "env_keys", "image", "instance_type"]).equal


def test_contents_compared_by_digest_never_shown():
    secret = {"metadata": {"name": "db", "namespace": "staging"}, "data": {"pw": "eA==", "user": "dQ=="}}
    a = [convert.secret(secret).resource]
    b = [convert.secret({**secret, "metadata": {"name": "db", "namespace": "prod"}}).resource]
    contents = {("staging", a[0].id): {"pw": "d1", "user": "u"}, ("prod", b[0].id): {"pw": "d2", "user": "u"}}
    got = diff("staging", a, "prod", b, contents=contents)
    fields = got.differing[0].fields
    assert [(f.field, f.a, f.b, f.hidden) for f in fields] == [("secret[pw]", "(hidden)", "(hidden)", True)]
    assert "d1" not in str(got.to_json()) and "d2" not in str(got.to_json())


def ecs_service(env: str, revision: int) -> Resource:
    return Resource(id=f"aws/ecs-service/{env}-api", backend="aws", kind="ecs-service", name=f"{env}-api",
                    attributes={"task_definition": f"arn:aws:ecs:us-east-1:1:task-definition/{env}-api:{revision}",
                                "desired_count": 2})


def test_ecs_task_definitions_compare_alike_in_the_diff_and_the_versions():
    """`versions` and `diff` agree: the family's environment name is not a difference."""
    same = {"staging": [ecs_service("staging", 1)], "prod": [ecs_service("prod", 1)]}
    assert diff("staging", same["staging"], "prod", same["prod"]).equal
    row = build_matrix(same).rows[0]
    assert row.role == "aws/ecs-service/api" and not row.differs
    assert [v.text for v in row.versions.values()] == ["staging-api:1", "prod-api:1"], "shown as they are"
    newer = {"staging": [ecs_service("staging", 2)], "prod": [ecs_service("prod", 1)]}
    assert [f.field for p in diff("staging", newer["staging"], "prod", newer["prod"]).differing
            for f in p.fields] == ["task_definition"]
    assert build_matrix(newer).rows[0].differs
