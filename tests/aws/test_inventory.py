"""Membership by tags through the Resource Groups Tagging API, and the shape of each kind."""

from __future__ import annotations

import pytest

from backends.aws.arns import RESOURCE_TYPE_FILTERS
from tests.aws import arrange, arrange_services
from tests.aws.arrange import by_id
from tui.core.model import Drift, Health


async def test_only_resources_carrying_all_tags_of_the_environment_appear(aws, make_backend):
    mine = {
        "ec2": arrange.instance(aws, "staging", "web-1"),
        "sg": arrange.security_group(aws, "staging", "staging-web"),
        "vol": arrange.volume(aws, "staging", encrypted=True),
    }
    arrange.bucket(aws, "staging", "staging-assets")
    arrange.db_instance(aws, "staging", "staging-db")
    arrange.ecs_service(aws, "staging", "main", "api")
    # Another environment, in the same account and region.
    theirs = arrange.instance(aws, "prod", "web-1")
    arrange.bucket(aws, "prod", "prod-assets")
    arrange.db_instance(aws, "prod", "prod-db")
    arrange.ecs_service(aws, "prod", "prod-main", "api")
    arrange.security_group(aws, "prod", "prod-web")

    obs = await make_backend("staging").observe()
    ids = set(by_id(obs))
    assert ids == {
        f"aws/ec2-instance/{mine['ec2']}",
        f"aws/security-group/{mine['sg']}",
        f"aws/ebs-volume/{mine['vol']}",
        "aws/s3-bucket/staging-assets",
        "aws/rds-instance/staging-db",
        "aws/ecs-service/main/api",
    }
    assert f"aws/ec2-instance/{theirs}" not in ids
    assert all(r.backend == "aws" and r.observed_at is not None for r in obs.resources)

    prod_ids = set(by_id(await make_backend("prod").observe()))
    assert "aws/s3-bucket/prod-assets" in prod_ids and "aws/s3-bucket/staging-assets" not in prod_ids
    assert "aws/ecs-service/prod-main/api" in prod_ids


async def test_all_configured_tags_must_match(aws, make_backend):
    both = arrange.instance(aws, "staging", "web-1", team="payments")
    only_env = arrange.instance(aws, "staging", "web-2", team="search")
    backend = make_backend("staging", tags={"env": "staging", "team": "payments"})
    ids = set(by_id(await backend.observe()))
    assert f"aws/ec2-instance/{both}" in ids
    assert f"aws/ec2-instance/{only_env}" not in ids


async def test_resource_fields_names_and_attributes(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    arrange.ecs_service(aws, "staging", "main", "api", desired=2)
    obs = await make_backend().observe()
    res = by_id(obs)
    inst = res[f"aws/ec2-instance/{iid}"]
    assert inst.kind == "ec2-instance" and inst.name == "web-1" and inst.status == "running"
    assert inst.attributes["instance_id"] == iid and inst.attributes["tags"]["Name"] == "web-1"
    assert inst.attributes["private_ip"]
    svc = res["aws/ecs-service/main/api"]
    assert svc.name == "api" and svc.attributes["cluster"] == "main"
    assert svc.attributes["desired_count"] == 2 and svc.attributes["running_count"] == 2
    # the JSON contract shape round-trips
    assert svc.to_json()["id"] == "aws/ecs-service/main/api"


async def test_terminated_instances_leave_the_inventory(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    backend = make_backend()
    assert f"aws/ec2-instance/{iid}" in by_id(await backend.observe())
    aws("ec2").terminate_instances(InstanceIds=[iid])
    assert f"aws/ec2-instance/{iid}" not in by_id(await backend.observe())


async def test_desired_but_absent_resources_are_missing_placeholders(aws, make_backend):
    arrange.instance(aws, "prod", "web-1")  # same Name, other environment: does not count
    backend = make_backend(desired=[
        {"kind": "ec2-instance", "name": "web-1", "state": "running"},
        {"kind": "ecs-service", "cluster": "main", "name": "api", "desired_count": 2},
        {"kind": "s3-bucket", "name": "staging-assets", "encryption": True},
    ])
    res = by_id(await backend.observe())
    for rid in ("aws/ec2-instance/web-1", "aws/ecs-service/main/api", "aws/s3-bucket/staging-assets"):
        assert res[rid].health == Health.MISSING, rid
        assert res[rid].drift == Drift.DRIFTED
        assert res[rid].attributes["placeholder"] is True


async def test_moto_tagging_api_covers_every_kind_envdeck_shows(aws):
    """Documents what moto 5.2.5's tagging API answers, per resource type filter: every kind
    envdeck shows is there, so no per-service fallback is needed against moto. The gap is
    log groups: listed without a type filter, but not under `logs:log-group`."""
    arrange.instance(aws, "staging", "web-1")
    arrange.security_group(aws, "staging", "g")
    arrange.volume(aws, "staging", encrypted=False)
    arrange.bucket(aws, "staging", "staging-assets")
    arrange.db_instance(aws, "staging", "db")
    arrange.ecs_service(aws, "staging", "main", "api")
    aws("cloudwatch").put_metric_alarm(
        AlarmName="a", MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold", Tags=arrange.tags("staging"))
    aws("logs").create_log_group(logGroupName="/app/web", tags={"env": "staging"})
    arrange_services.function(aws, "staging", "fn")
    arrange_services.load_balancer(aws, "staging", "web")  # and its target group web-tg
    arrange_services.table(aws, "staging", "orders")
    arrange_services.queue(aws, "staging", "jobs")
    tagging = aws("resourcegroupstaggingapi")
    filters = [{"Key": "env", "Values": ["staging"]}]
    for type_filter in RESOURCE_TYPE_FILTERS:
        found = tagging.get_resources(TagFilters=filters, ResourceTypeFilters=[type_filter])
        assert len(found["ResourceTagMappingList"]) == 1, type_filter
    unfiltered = [m["ResourceARN"] for m in tagging.get_resources(TagFilters=filters)["ResourceTagMappingList"]]
    assert any(":log-group:/app/web" in arn for arn in unfiltered)
    by_type = tagging.get_resources(TagFilters=filters, ResourceTypeFilters=["logs:log-group"])
    assert by_type["ResourceTagMappingList"] == []  # the moto gap


@pytest.mark.parametrize("count", [25])
async def test_describes_are_batched_across_many_resources(aws, make_backend, count):
    ec2 = aws("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=ami, MinCount=count, MaxCount=count, TagSpecifications=[
        {"ResourceType": "instance", "Tags": arrange.tags("staging", Name="fleet")}])
    obs = await make_backend().observe()
    assert sum(1 for r in obs.resources if r.kind == "ec2-instance") == count
    assert all(r.health == Health.HEALTHY for r in obs.resources)
