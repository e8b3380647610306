"""Inventory of Lambda functions, load balancers, target groups, Auto Scaling groups, DynamoDB
tables and SQS queues on the moto server: found by the environment's tags (another environment's
stay out), ids `aws/KIND/NAME`, the detail's attributes (never a function's environment), console
links, and batched calls."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import boto3

from tests.aws import arrange_services as svc
from tests.aws.arrange import by_id
from tui.core.model import Health

NEW_KINDS = {"lambda-function", "load-balancer", "target-group", "autoscaling-group", "dynamodb-table", "sqs-queue"}


def arrange_world(aws, env: str) -> dict:
    ids = svc.instances(aws, env, 2)
    return {
        "fn": svc.function(aws, env, f"{env}-api", url_auth="AWS_IAM", concurrency=4),
        "lb": svc.load_balancer(aws, env, f"{env}-web", targets=ids),
        "asg": svc.autoscaling_group(aws, env, f"{env}-workers", desired=2),
        "table": svc.table(aws, env, f"{env}-orders", kms=True),
        "dlq": svc.queue(aws, env, f"{env}-jobs-dlq"),
        "queue": svc.queue(aws, env, f"{env}-jobs", dead_letter=f"{env}-jobs-dlq"),
        "instances": ids,
    }


def count_calls(backend) -> Counter:
    """Every API call the backend's clients make, by service.operation (botocore's own event)."""
    calls: Counter = Counter()
    for service in ("lambda", "elbv2", "autoscaling", "dynamodb", "sqs", "ec2"):
        backend.clients.client(service).meta.events.register(
            "before-call", lambda model, **_: calls.update([f"{model.service_model.service_name}.{model.name}"]))
    return calls


async def test_each_kind_is_found_by_the_environment_tags(aws, make_backend):
    arrange_world(aws, "staging")
    arrange_world(aws, "prod")
    obs = await make_backend("staging").observe()
    found = {r.id for r in obs.resources if r.kind in NEW_KINDS}
    assert found == {
        "aws/lambda-function/staging-api", "aws/load-balancer/staging-web", "aws/target-group/staging-web-tg",
        "aws/autoscaling-group/staging-workers", "aws/dynamodb-table/staging-orders",
        "aws/sqs-queue/staging-jobs", "aws/sqs-queue/staging-jobs-dlq"}
    res = by_id(obs)
    assert all(r.health == Health.HEALTHY for r in res.values() if r.kind in NEW_KINDS), \
        [(r.id, r.health, r.health_reason) for r in res.values() if r.kind in NEW_KINDS]
    # the ASG's instances carry the propagated tag: they are the environment's instances too
    asg = res["aws/autoscaling-group/staging-workers"]
    for row in asg.attributes["instances"]:
        assert f"aws/ec2-instance/{row['id']}" in res


async def test_attributes_of_the_detail_and_nothing_secret(aws, make_backend):
    world = arrange_world(aws, "staging")
    res = by_id(await make_backend().observe())
    fn = res["aws/lambda-function/staging-api"]
    assert fn.attributes["runtime"] == "python3.12" and fn.attributes["reserved_concurrency"] == 4
    assert fn.attributes["function_url_auth"] == "AWS_IAM" and fn.attributes["state"] == "Active"
    assert "hunter2-not-shown" not in json.dumps(fn.to_json(), default=str)  # environment variables never shown
    lb = res["aws/load-balancer/staging-web"]
    assert lb.attributes["type"] == "application" and lb.attributes["scheme"] == "internet-facing"
    assert lb.attributes["listeners"] == [{"protocol": "HTTPS", "port": 443, "tls": True,
                                           "ssl_policy": lb.attributes["listeners"][0]["ssl_policy"],
                                           "default_actions": ["forward"]}]
    assert lb.attributes["target_groups"] == ["staging-web-tg"]
    assert lb.attributes["security_groups"] == [world["lb"]["security_group"]]
    tg = res["aws/target-group/staging-web-tg"]
    assert tg.attributes["load_balancers"] == ["staging-web"]
    assert sorted(t["id"] for t in tg.attributes["targets"]) == sorted(world["instances"])
    assert {t["state"] for t in tg.attributes["targets"]} == {"healthy"}
    asg = res["aws/autoscaling-group/staging-workers"]
    assert (asg.attributes["min_size"], asg.attributes["max_size"], asg.attributes["desired_capacity"],
            asg.attributes["in_service"]) == (1, 4, 2, 2)
    assert asg.attributes["launch_template"] == "staging-workers-lt"
    table = res["aws/dynamodb-table/staging-orders"]
    assert table.attributes["status"] == "ACTIVE" and table.attributes["encryption"] == "KMS"
    assert table.attributes["billing_mode"] == "PAY_PER_REQUEST"
    queue, dlq = res["aws/sqs-queue/staging-jobs"], res["aws/sqs-queue/staging-jobs-dlq"]
    assert queue.attributes["dead_letter_queue"] == "staging-jobs-dlq" and queue.attributes["messages"] == 0
    assert dlq.attributes["dead_letter_of"] == ["staging-jobs"]
    assert queue.attributes["encryption"] == "SSE-SQS"


async def test_console_links(aws, make_backend):
    world = arrange_world(aws, "staging")
    res = by_id(await make_backend().observe())
    base = "https://us-east-1.console.aws.amazon.com"
    assert res["aws/lambda-function/staging-api"].console_url == \
        f"{base}/lambda/home?region=us-east-1#/functions/staging-api?tab=monitoring"
    assert res["aws/autoscaling-group/staging-workers"].console_url == \
        f"{base}/ec2/home?region=us-east-1#AutoScalingGroupDetails:id=staging-workers;view=details"
    assert res["aws/dynamodb-table/staging-orders"].console_url == \
        f"{base}/dynamodbv2/home?region=us-east-1#table?name=staging-orders"
    lb_arn = world["lb"]["lb"]["LoadBalancerArn"]
    assert res["aws/load-balancer/staging-web"].console_url == \
        f"{base}/ec2/home?region=us-east-1#LoadBalancer:loadBalancerArn={lb_arn.replace(':', '%3A').replace('/', '%2F')}"
    assert "#TargetGroup:targetGroupArn=arn%3Aaws%3Aelasticloadbalancing" in \
        res["aws/target-group/staging-web-tg"].console_url
    assert res["aws/sqs-queue/staging-jobs"].console_url.startswith(f"{base}/sqs/v3/home?region=us-east-1#/queues/http")


async def test_an_untagged_target_group_behind_the_environment_load_balancer_is_shown(aws, make_backend):
    ids = svc.instances(aws, "staging", 1)
    world = svc.load_balancer(aws, "staging", "web", targets=ids)
    elb = aws("elbv2")
    vpc, _ = svc.subnets(aws)
    extra = elb.create_target_group(Name="web-admin", Protocol="HTTP", Port=8080, VpcId=vpc)["TargetGroups"][0]
    [listener] = elb.describe_listeners(LoadBalancerArn=world["lb"]["LoadBalancerArn"])["Listeners"]
    elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=10, Conditions=[
        {"Field": "path-pattern", "Values": ["/admin/*"]}], Actions=[
        {"Type": "forward", "TargetGroupArn": extra["TargetGroupArn"]}])
    elb.create_target_group(Name="someone-elses", Protocol="HTTP", Port=80, VpcId=vpc)
    res = by_id(await make_backend().observe())
    assert "aws/target-group/web-admin" in res and "aws/target-group/someone-elses" not in res
    assert res["aws/target-group/web-admin"].attributes["load_balancers"] == ["web"]


async def test_calls_are_batched_where_the_api_allows(aws, make_backend):
    """Load balancers and target groups are listed once region-wide (not per name), queue URLs
    once; per-resource calls are only those without a batch form (one each)."""
    for i in range(4):
        svc.load_balancer(aws, "staging", f"web-{i}")
        svc.queue(aws, "staging", f"jobs-{i}")
        svc.table(aws, "staging", f"orders-{i}")
    backend = make_backend()
    calls = count_calls(backend)
    res = by_id(await backend.observe())
    assert sum(r.kind == "load-balancer" for r in res.values()) == 4
    assert sum(r.kind == "sqs-queue" for r in res.values()) == 4
    assert calls["elbv2.DescribeLoadBalancers"] == 1 and calls["elbv2.DescribeTargetGroups"] == 1
    assert calls["elbv2.DescribeListeners"] == 4 and calls["elbv2.DescribeTargetHealth"] == 4
    assert calls["sqs.ListQueues"] == 1 and calls["sqs.GetQueueAttributes"] == 4
    assert calls["dynamodb.DescribeTable"] == 4
    assert calls["ec2.DescribeSecurityGroups"] == 1  # the 4 load balancers' groups, in one call


async def test_a_dead_letter_queue_outside_the_environment_is_still_read(aws, make_backend):
    dlq = svc.queue(aws, "staging", "shared-dlq", tagged=False)
    svc.queue(aws, "staging", "jobs", dead_letter="shared-dlq")
    svc.send(aws, dlq, 3)
    res = by_id(await make_backend().observe())
    assert "aws/sqs-queue/shared-dlq" not in res
    assert res["aws/sqs-queue/jobs"].attributes["dead_letter_messages"] == 3


def test_the_jump_line_knows_the_short_names():
    from screens.jump import parse_jump
    for word, kind in (("asg", "autoscaling-group"), ("lambda", "lambda-function"), ("alb", "load-balancer"),
                       ("tg", "target-group"), ("ddb", "dynamodb-table"), ("sqs", "sqs-queue")):
        assert parse_jump(f"staging {word}", ["staging"], set()).kind == kind


def test_check_points_at_a_bad_desired_field(tmp_path):
    from tests.helpers import envdeck_inproc
    path = tmp_path / "envdeck.yaml"
    path.write_text("environments:\n  staging:\n    aws:\n      region: us-east-1\n      tags: {env: staging}\n"
                    "      desired:\n"
                    "        - {kind: autoscaling-group, name: workers, desired_capacity: 2147483648}\n"
                    "        - {kind: lambda-function, name: api, reserved_concurrency: -1}\n")
    proc = envdeck_inproc("check", "--config", str(path))
    assert proc.returncode == 2
    assert f"{path}:7:52: environments.staging.aws.desired.0.desired_capacity" in proc.stderr + proc.stdout
    assert f"{path}:8:46: environments.staging.aws.desired.1.reserved_concurrency" in proc.stderr + proc.stdout


async def test_a_service_the_credentials_may_not_describe_is_skipped_and_named(auth_moto, make_backend, monkeypatch):
    """IAM on moto (the signature-checking server): a user denied autoscaling:* and sqs:* still
    sees the rest of the environment; the two services are named by doctor_notes."""
    url, users = auth_moto
    env = f"denied-{uuid.uuid4().hex[:8]}"
    admin = boto3.Session(*users["no-metrics"], region_name="us-east-1")
    iam = admin.client("iam", endpoint_url=url)
    user = f"no-asg-{env}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="no-asg", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["autoscaling:*", "sqs:*"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]

    def aws(name):
        return admin.client(name, endpoint_url=url)

    svc.table(aws, env, f"{env}-orders")
    svc.queue(aws, env, f"{env}-jobs")
    svc.autoscaling_group(aws, env, f"{env}-workers", desired=1)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    backend = make_backend(env, endpoint_url=url)
    res = by_id(await backend.observe())
    assert f"aws/dynamodb-table/{env}-orders" in res
    assert not any(r.kind in ("sqs-queue", "autoscaling-group") for r in res.values())
    assert backend.doctor_notes() == ["aws: not allowed to describe: autoscaling (groups), sqs (queues) (skipped)"]
