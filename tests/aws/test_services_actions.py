"""Actions of the service kinds on the moto server (ASG set-desired-capacity within the group's
min/max, Lambda set-concurrency, SQS purge: admin only, destructive), through the backend and the
CLI with the access policy; drift and repair of `desired_capacity` and `reserved_concurrency`,
with the effects counted on the server."""

from __future__ import annotations

import json

import pytest

from tests.aws import arrange_services as svc
from tests.aws.arrange import by_id
from tests.helpers import envdeck_inproc
from tests.security.access_setup import access, audit_rows, write_config
from tui.core.errors import InvalidRequest
from tui.core.model import Drift, Role


def group(aws, name: str) -> dict:
    return aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def depth(aws, url: str) -> int:
    attrs = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


async def test_action_specs(aws, make_backend):
    svc.autoscaling_group(aws, "staging", "workers")
    svc.function(aws, "staging", "api")
    svc.queue(aws, "staging", "jobs")
    svc.table(aws, "staging", "orders")
    backend = make_backend()
    res = by_id(await backend.observe())
    [scale] = backend.actions(res["aws/autoscaling-group/workers"])
    assert (scale.name, scale.params, scale.role, scale.destructive) == (
        "set-desired-capacity", ("desired_capacity",), Role.OPERATOR, False)
    [concurrency] = backend.actions(res["aws/lambda-function/api"])
    assert (concurrency.name, concurrency.params, concurrency.role) == (
        "set-concurrency", ("reserved_concurrency",), Role.OPERATOR)
    [purge] = backend.actions(res["aws/sqs-queue/jobs"])
    assert (purge.name, purge.role, purge.destructive, purge.mutating) == ("purge", Role.ADMIN, True, True)
    assert backend.actions(res["aws/dynamodb-table/orders"]) == []


async def test_asg_set_desired_capacity(aws, make_backend):
    svc.autoscaling_group(aws, "staging", "workers", desired=2, min_size=1, max_size=4)
    backend = make_backend()
    res = by_id(await backend.observe())["aws/autoscaling-group/workers"]
    result = await backend.perform(res, "set-desired-capacity", {"desired_capacity": "4"})
    assert result.ok and result.data == {"desired_capacity": 4}
    assert group(aws, "workers")["DesiredCapacity"] == 4
    assert len(group(aws, "workers")["Instances"]) == 4
    assert by_id(await backend.observe())["aws/autoscaling-group/workers"].attributes["in_service"] == 4


@pytest.mark.parametrize("bad,words", [
    ({}, "needs desired_capacity=N"), ({"desired_capacity": "many"}, "a whole number"),
    ({"desired_capacity": "2.5"}, "a whole number"), ({"desired_capacity": "5"}, "between 1 and 4"),
    ({"desired_capacity": "0"}, "between 1 and 4"), ({"desired_capacity": str(2**31)}, "between 1 and 4"),
])
async def test_asg_set_desired_capacity_refuses_bad_values(aws, make_backend, bad, words):
    svc.autoscaling_group(aws, "staging", "workers", desired=2, min_size=1, max_size=4)
    backend = make_backend()
    res = by_id(await backend.observe())["aws/autoscaling-group/workers"]
    with pytest.raises(InvalidRequest) as err:
        await backend.perform(res, "set-desired-capacity", bad)
    assert words in str(err.value)
    assert group(aws, "workers")["DesiredCapacity"] == 2


async def test_lambda_set_concurrency(aws, make_backend):
    svc.function(aws, "staging", "api")
    backend = make_backend()
    res = by_id(await backend.observe())["aws/lambda-function/api"]
    assert (await backend.perform(res, "set-concurrency", {"reserved_concurrency": "7"})).data == \
        {"reserved_concurrency": 7}
    assert aws("lambda").get_function_concurrency(FunctionName="api")["ReservedConcurrentExecutions"] == 7
    with pytest.raises(InvalidRequest):
        await backend.perform(res, "set-concurrency", {"reserved_concurrency": "-1"})


def _config(tmp_path, moto_url: str, role: str, **aws_extra):
    return write_config(tmp_path / "envdeck.yaml", {"staging": {"access": access(role), "aws": {
        "region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "staging"}, **aws_extra}}})


def test_cli_purge_is_admin_only(aws, moto_url, tmp_path):
    url = svc.queue(aws, "staging", "jobs")
    svc.send(aws, url, 3)
    state = tmp_path / "state"
    cfg = _config(tmp_path, moto_url, "operator")
    proc = envdeck_inproc("act", "staging", "aws/sqs-queue/jobs", "purge", "--yes", "--json", "--config", str(cfg),
                   "--state-dir", str(state))
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("envdeck: denied: ") and "Traceback" not in proc.stderr
    assert depth(aws, url) == 3  # never reached the server
    [row] = [r for r in audit_rows(state) if r["action"] == "purge"]
    assert (row["result"], row["target"]) == ("denied", "aws/sqs-queue/jobs")

    cfg = _config(tmp_path, moto_url, "admin")
    proc = envdeck_inproc("act", "staging", "aws/sqs-queue/jobs", "purge", "--json", "--config", str(cfg),
                   "--state-dir", str(state))
    assert proc.returncode != 0 and "--yes" in proc.stderr  # destructive: never without a confirmation
    assert depth(aws, url) == 3
    proc = envdeck_inproc("act", "staging", "aws/sqs-queue/jobs", "purge", "--yes", "--json", "--config", str(cfg),
                   "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    assert depth(aws, url) == 0
    assert [r["result"] for r in audit_rows(state) if r["action"] == "purge"] == ["denied", "succeeded"]


async def test_asg_and_lambda_drift_and_repair_through_the_backend(aws, make_backend):
    svc.autoscaling_group(aws, "staging", "workers", desired=2, max_size=5)
    svc.function(aws, "staging", "api", concurrency=2)
    backend = make_backend(desired=[
        {"kind": "autoscaling-group", "name": "workers", "desired_capacity": 3},
        {"kind": "lambda-function", "name": "api", "reserved_concurrency": 10},
        {"kind": "autoscaling-group", "name": "absent"},
    ])
    obs = await backend.observe()
    items = sorted((d.resource, d.field, d.desired, d.actual) for d in backend.diff(obs))
    assert items == [("aws/autoscaling-group/absent", "exists", True, False),
                     ("aws/autoscaling-group/workers", "desired_capacity", 3, 2),
                     ("aws/lambda-function/api", "reserved_concurrency", 10, 2)]
    assert by_id(obs)["aws/autoscaling-group/workers"].drift == Drift.DRIFTED
    assert {d.field: backend.repair_action(d) for d in backend.diff(obs)} == {
        "exists": "repair", "desired_capacity": "set-desired-capacity", "reserved_concurrency": "set-concurrency"}
    for item in backend.diff(obs):
        if item.field != "exists":
            assert (await backend.repair(item)).ok
    assert group(aws, "workers")["DesiredCapacity"] == 3
    assert aws("lambda").get_function_concurrency(FunctionName="api")["ReservedConcurrentExecutions"] == 10
    obs = await backend.observe()
    assert [d.resource for d in backend.diff(obs)] == ["aws/autoscaling-group/absent"]
    assert by_id(obs)["aws/autoscaling-group/workers"].drift == Drift.IN_SYNC
    assert backend.action_effect(by_id(obs)["aws/autoscaling-group/workers"], "set-desired-capacity",
                                 {"desired_capacity": "4"}) == {"desired_capacity": 4}


def test_cli_reconcile_repairs_asg_desired_capacity_once(aws, moto_url, tmp_path):
    """Two reconcile passes with --repair: one SetDesiredCapacity, and the group on the server
    ends at exactly the desired capacity (no instance launched twice)."""
    svc.autoscaling_group(aws, "staging", "workers", desired=1, max_size=5)
    cfg = write_config(tmp_path / "envdeck.yaml", {"staging": {"repair": "propose", "aws": {
        "region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "staging"},
        "desired": [{"kind": "autoscaling-group", "name": "workers", "desired_capacity": 3}]}}})
    state = tmp_path / "state"
    proc = envdeck_inproc("reconcile", "--once", "--json", "--config", str(cfg), "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr
    [report] = json.loads(proc.stdout)["environments"]
    assert [(d["resource"], d["field"], d["desired"], d["actual"]) for d in report["drifts"]] == [
        ("aws/autoscaling-group/workers", "desired_capacity", 3, 1)]
    assert group(aws, "workers")["DesiredCapacity"] == 1
    for _ in range(2):
        proc = envdeck_inproc("reconcile", "--once", "--repair", "--json", "--config", str(cfg), "--state-dir", str(state))
        assert proc.returncode == 0, proc.stderr
    described = group(aws, "workers")
    assert described["DesiredCapacity"] == 3 and len(described["Instances"]) == 3
    live = aws("ec2").describe_instances(Filters=[
        {"Name": "tag:aws:autoscaling:groupName", "Values": ["workers"]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    assert sum(len(r["Instances"]) for r in live) == 3
    repairs = [r for r in audit_rows(state) if r["action"] == "set-desired-capacity"]
    assert [r["result"] for r in repairs] == ["succeeded"]
