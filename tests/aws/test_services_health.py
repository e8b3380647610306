"""Health, faults and compliance of Lambda functions, load balancers, target groups, Auto Scaling
groups, DynamoDB tables and SQS queues: on the moto server where moto can show the state, and on
records shaped like moto's answers for the states moto 5.2.5 never produces (each such test says
what moto cannot do)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backends.aws import health_services as hs
from backends.aws.faults_services import service_faults
from backends.aws.inventory_services import FunctionRecord, QueueRecord, ServicesInventory
from backends.aws.resource_builder_services import build_service_resources
from tests.aws import arrange_services as svc
from tests.aws.arrange import by_id
from tests.aws.test_inventory_services import count_calls
from tui.core.model import Health, Resource, Severity


def faults_of(obs, rid: str) -> list:
    return [f for f in obs.faults if f.resource == rid]


# -- Lambda -----------------------------------------------------------------------------------

async def test_lambda_healthy_and_errors_from_cloudwatch(aws, make_backend):
    """moto runs no function (invoking needs Docker), so its errors are seeded the way Lambda
    reports them: AWS/Lambda Errors and Throttles per FunctionName in CloudWatch."""
    svc.function(aws, "staging", "api")
    svc.function(aws, "staging", "quiet")
    backend = make_backend()
    backend.sampler.interval_s = 0  # CloudWatch is asked at most once a minute; here on every pass
    obs = await backend.observe()
    assert by_id(obs)["aws/lambda-function/api"].health == Health.HEALTHY
    now = datetime.now(UTC)
    aws("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": "api"}], "Timestamp": now,
         "Value": value, "Unit": "Count"} for name, value in (("Errors", 4), ("Throttles", 2), ("Invocations", 9))])
    await backend.sampler.wait_idle()
    await backend.observe()
    await backend.sampler.wait_idle()
    obs = await backend.observe()
    fn = by_id(obs)["aws/lambda-function/api"]
    assert fn.metrics == {"invocations": 9, "errors": 4, "throttles": 2}
    assert fn.health == Health.DEGRADED and "4 invocation errors" in fn.health_reason
    assert fn.status == "4 errors/min"  # STATUS carries the cause, as an ASG's `1/2 in service` does
    assert {f.reason for f in faults_of(obs, fn.id)} == {"LambdaErrors", "LambdaThrottles"}
    assert by_id(obs)["aws/lambda-function/quiet"].health == Health.HEALTHY
    assert faults_of(obs, "aws/lambda-function/quiet") == []
    assert by_id(obs)["aws/lambda-function/quiet"].status == "Active"


@pytest.mark.parametrize("config,health,words", [
    ({"State": "Active", "LastUpdateStatus": "Successful"}, Health.HEALTHY, "active"),
    ({"State": "Pending", "LastUpdateStatus": "InProgress"}, Health.PROGRESSING, "pending"),
    ({"State": "Active", "LastUpdateStatus": "InProgress"}, Health.PROGRESSING, "update in progress"),
    ({"State": "Inactive", "LastUpdateStatus": "Successful"}, Health.SUSPENDED, "inactive"),
    ({"State": "Failed", "StateReasonCode": "SubnetOutOfIPAddresses", "StateReason": "no free IP"},
     Health.DEGRADED, "failed: SubnetOutOfIPAddresses: no free IP"),
    ({"State": "Active", "LastUpdateStatus": "Failed", "LastUpdateStatusReasonCode": "ImageAccessDenied",
      "LastUpdateStatusReason": "cannot pull image"}, Health.DEGRADED,
     "last update failed: ImageAccessDenied: cannot pull image"),
])
def test_lambda_states(config, health, words):
    """moto creates every function Active/Successful at once: Pending, Inactive and Failed
    (state or last update) are checked on GetFunction answers with those fields set."""
    h, reason = hs.lambda_function_health({"FunctionName": "f", **config})
    assert h == health and words in reason


async def test_a_failed_function_is_a_fault_with_its_reason(aws, make_backend):
    """moto cannot fail a function: its moto record is observed, then its state is read as a
    failed one through the same builder and fault code the backend uses."""
    svc.function(aws, "staging", "api")
    backend = make_backend()
    await backend.observe()
    answer = aws("lambda").get_function(FunctionName="api")
    answer["Configuration"].update(LastUpdateStatus="Failed", LastUpdateStatusReason="KMS key disabled")
    apps = ServicesInventory(functions=[FunctionRecord(answer["Configuration"], None, None, {"env": "staging"})])
    resources = build_service_resources(apps, "us-east-1", datetime.now(UTC))
    [fault] = service_faults(resources, apps)
    assert (fault.resource, fault.reason) == ("aws/lambda-function/api", "LambdaUpdateFailed")
    assert "KMS key disabled" in fault.message and resources[0].health == Health.DEGRADED


# -- load balancers and target health --------------------------------------------------------

async def test_target_health_drives_the_load_balancer_and_the_instance(aws, make_backend):
    """moto reports a registered instance `healthy` while it runs and `unused`
    (Target.InvalidState) once it is stopped; it never fails a health check by itself."""
    ids = svc.instances(aws, "staging", 2)
    svc.load_balancer(aws, "staging", "web", targets=ids)
    backend = make_backend()
    obs = await backend.observe()
    res = by_id(obs)
    assert res["aws/load-balancer/web"].health == Health.HEALTHY
    assert res["aws/target-group/web-tg"].health_reason == "2/2 targets healthy"
    aws("ec2").stop_instances(InstanceIds=[ids[1]])
    obs = await backend.observe()
    res = by_id(obs)
    lb, tg = res["aws/load-balancer/web"], res["aws/target-group/web-tg"]
    assert lb.health == Health.DEGRADED and "target group web-tg: 1/2 targets not serving" in lb.health_reason
    assert tg.health == Health.DEGRADED and ids[1] in tg.health_reason and "Target.InvalidState" in tg.health_reason
    [instance_fault] = faults_of(obs, f"aws/ec2-instance/{ids[1]}")
    assert instance_fault.reason == "TargetUnhealthy" and "target of web-tg" in instance_fault.message
    assert "Target is in the stopped state" in instance_fault.message
    [lb_fault] = faults_of(obs, lb.id)
    assert lb_fault.reason == "TargetsNotServing" and lb_fault.severity == Severity.HIGH
    assert res[f"aws/ec2-instance/{ids[1]}"].health == Health.SUSPENDED  # stopped says more than the target
    assert faults_of(obs, f"aws/ec2-instance/{ids[0]}") == []


def _instance(iid: str) -> Resource:
    return Resource(id=f"aws/ec2-instance/{iid}", backend="aws", kind="ec2-instance", name=iid,
                    health=Health.HEALTHY, health_reason="running; status checks ok")


def test_an_unhealthy_target_lowers_its_running_instance():
    """moto never fails a target's health check: the DescribeTargetHealth answer of a failing
    check (state unhealthy, Target.ResponseCodeMismatch) is given as AWS documents it."""
    lb_arn = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/abc"
    tg = {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg/def",
          "TargetGroupName": "web-tg", "LoadBalancerArns": [lb_arn], "_targets": [
              {"Target": {"Id": "i-1", "Port": 80}, "TargetHealth": {"State": "healthy"}},
              {"Target": {"Id": "i-2", "Port": 80}, "TargetHealth": {
                  "State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                  "Description": "Health checks failed with these codes: [502]"}},
              {"Target": {"Id": "10.0.0.9", "Port": 80}, "TargetHealth": {
                  "State": "unhealthy", "Reason": "Target.Timeout", "Description": "Request timed out"}}]}
    lb = {"LoadBalancerArn": lb_arn, "LoadBalancerName": "web", "State": {"Code": "active"}}
    resources = [_instance("i-1"), _instance("i-2"),
                 Resource(id="aws/load-balancer/web", backend="aws", kind="load-balancer", name="web",
                          health=Health.DEGRADED)]
    faults = service_faults(resources, ServicesInventory(load_balancers=[lb], target_groups=[tg]))
    by_resource = {f.resource: f for f in faults}
    assert resources[1].health == Health.DEGRADED and "Target.ResponseCodeMismatch" in resources[1].health_reason
    assert resources[0].health == Health.HEALTHY
    assert "web-tg" in by_resource["aws/ec2-instance/i-2"].message
    assert by_resource["aws/target-group/web-tg"].message.startswith("10.0.0.9 ")  # not an instance of ours
    assert by_resource["aws/load-balancer/web"].count == 2
    assert hs.load_balancer_health(lb, [tg])[0] == Health.DEGRADED
    assert hs.load_balancer_health({"State": {"Code": "provisioning"}}, [])[0] == Health.PROGRESSING
    assert hs.load_balancer_health({"State": {"Code": "failed", "Reason": "no capacity"}}, [])[1] == \
        "failed: no capacity"


def test_target_group_states():
    initial = {"LoadBalancerArns": ["x"], "_targets": [{"Target": {"Id": "i-1"}, "TargetHealth": {"State": "initial"}}]}
    assert hs.target_group_health(initial)[0] == Health.PROGRESSING
    assert hs.target_group_health({"LoadBalancerArns": ["x"], "_targets": []}) == \
        (Health.DEGRADED, "no registered targets")
    assert hs.target_group_health({"_targets": []})[0] == Health.SUSPENDED


# -- Auto Scaling groups ---------------------------------------------------------------------

async def test_asg_in_service_unhealthy_and_scaled_to_zero(aws, make_backend):
    """moto replaces detached or standby instances at once and ignores a suspended Launch process,
    so a group cannot stay short of instances; an instance marked Unhealthy (SetInstanceHealth)
    stays, which leaves fewer healthy instances in service than desired."""
    svc.autoscaling_group(aws, "staging", "workers", desired=3, max_size=5)
    svc.autoscaling_group(aws, "staging", "idle", desired=0, min_size=0)
    backend = make_backend()
    obs = await backend.observe()
    res = by_id(obs)
    assert (res["aws/autoscaling-group/workers"].health, res["aws/autoscaling-group/workers"].health_reason) == \
        (Health.HEALTHY, "3/3 in service")
    assert res["aws/autoscaling-group/idle"].health == Health.SUSPENDED
    asg = aws("autoscaling")
    victim = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])["AutoScalingGroups"][0][
        "Instances"][0]["InstanceId"]
    asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
    obs = await backend.observe()
    group = by_id(obs)["aws/autoscaling-group/workers"]
    assert group.health == Health.DEGRADED and group.health_reason == f"2/3 in service; unhealthy: {victim}"
    [fault] = faults_of(obs, group.id)
    assert fault.reason == "BelowDesiredCapacity" and victim in fault.message


async def test_instance_refresh_unknown_to_moto_is_not_asked_again(aws, make_backend):
    """moto 5.2.5 does not implement DescribeInstanceRefreshes (an HTML 500): the group is
    observed all the same, and the operation is not asked again on later passes."""
    svc.autoscaling_group(aws, "staging", "workers", desired=1)
    backend = make_backend()
    calls = count_calls(backend)
    assert by_id(await backend.observe())["aws/autoscaling-group/workers"].health == Health.HEALTHY
    asked = calls["autoscaling.DescribeInstanceRefreshes"]
    assert asked >= 1
    assert by_id(await backend.observe())["aws/autoscaling-group/workers"].health == Health.HEALTHY
    assert calls["autoscaling.DescribeInstanceRefreshes"] == asked


@pytest.mark.parametrize("group,health,words", [
    ({"DesiredCapacity": 2, "_refresh": {"Status": "InProgress", "PercentageComplete": 50},
      "Instances": [{"InstanceId": "i-1", "LifecycleState": "InService", "HealthStatus": "Healthy"}] * 2},
     Health.PROGRESSING, "2/2 in service; instance refresh InProgress, 50% done"),
    ({"DesiredCapacity": 2, "_refresh": {"Status": "Successful"},
      "Instances": [{"InstanceId": "i-1", "LifecycleState": "InService", "HealthStatus": "Healthy"}] * 2},
     Health.HEALTHY, "2/2 in service"),
    ({"DesiredCapacity": 3, "Instances": [
        {"InstanceId": "i-1", "LifecycleState": "InService", "HealthStatus": "Healthy"},
        {"InstanceId": "i-2", "LifecycleState": "Pending", "HealthStatus": "Healthy"}]},
     Health.PROGRESSING, "1/3 in service; 1 launching"),
    ({"DesiredCapacity": 2, "Instances": [
        {"InstanceId": "i-1", "LifecycleState": "InService", "HealthStatus": "Healthy"}]},
     Health.DEGRADED, "1/2 in service; below desired capacity 2, none launching"),
    ({"DesiredCapacity": 2, "Status": "Delete in progress", "Instances": []}, Health.PROGRESSING, "delete in progress"),
])
def test_asg_states(group, health, words):
    """moto implements no instance refresh, launches instances InService at once and never
    fails a launch: those groups are DescribeAutoScalingGroups answers as AWS documents them."""
    assert hs.autoscaling_group_health({"AutoScalingGroupName": "g", **group}) == (health, words)


# -- DynamoDB and SQS ------------------------------------------------------------------------

@pytest.mark.parametrize("status,health", [
    ("ACTIVE", Health.HEALTHY), ("CREATING", Health.PROGRESSING), ("UPDATING", Health.PROGRESSING),
    ("INACCESSIBLE_ENCRYPTION_CREDENTIALS", Health.DEGRADED), ("ARCHIVED", Health.DEGRADED),
])
def test_table_statuses(status, health):
    """moto creates tables ACTIVE at once; the other statuses are DescribeTable answers."""
    assert hs.dynamodb_table_health({"TableStatus": status})[0] == health


def test_a_table_building_an_index_is_progressing():
    table = {"TableStatus": "ACTIVE", "GlobalSecondaryIndexes": [{"IndexName": "by-user", "IndexStatus": "CREATING"}]}
    assert hs.dynamodb_table_health(table) == (Health.PROGRESSING, "active; index by-user creating")


async def test_a_dead_letter_queue_with_messages_is_a_fault_on_its_source(aws, make_backend):
    dlq = svc.queue(aws, "staging", "jobs-dlq")
    queue = svc.queue(aws, "staging", "jobs", dead_letter="jobs-dlq")
    svc.send(aws, queue, 5)
    backend = make_backend()
    obs = await backend.observe()
    res = by_id(obs)
    assert res["aws/sqs-queue/jobs"].health == Health.HEALTHY
    assert res["aws/sqs-queue/jobs"].attributes["messages"] == 5
    assert faults_of(obs, "aws/sqs-queue/jobs") == []
    svc.send(aws, dlq, 2)
    obs = await backend.observe()
    source = by_id(obs)["aws/sqs-queue/jobs"]
    assert source.health == Health.DEGRADED
    assert source.health_reason == "5 messages; dead-letter queue jobs-dlq holds 2 messages"
    [fault] = faults_of(obs, source.id)
    assert (fault.reason, fault.count, fault.severity) == ("DeadLetterMessages", 2, Severity.HIGH)
    assert faults_of(obs, "aws/sqs-queue/jobs-dlq") == []  # the fault is on the queue that failed


def test_a_queue_without_depth_is_not_called_empty():
    q = QueueRecord(name="q", url="u", attributes={}, tags={})
    assert hs.sqs_queue_health(q) == (Health.HEALTHY, "depth unknown")


# -- compliance ------------------------------------------------------------------------------

async def test_compliance_findings(aws, make_backend):
    svc.function(aws, "staging", "public-fn", url_auth="NONE")
    svc.function(aws, "staging", "iam-fn", url_auth="AWS_IAM")
    svc.function(aws, "staging", "no-url-fn")
    svc.table(aws, "staging", "plain-table")
    svc.table(aws, "staging", "kms-table", kms=True)
    svc.queue(aws, "staging", "plain-q", encrypted=False)
    svc.queue(aws, "staging", "sse-q")
    svc.load_balancer(aws, "staging", "open-http", listener="HTTP")
    svc.load_balancer(aws, "staging", "inner-http", listener="HTTP", open_to_world=False)
    svc.load_balancer(aws, "staging", "tls", listener="HTTPS")
    svc.load_balancer(aws, "staging", "nlb-tcp", listener="TCP", lb_type="network")
    redirect = svc.load_balancer(aws, "staging", "redirect", listener="HTTPS")
    aws("elbv2").create_listener(LoadBalancerArn=redirect["lb"]["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                 DefaultActions=[{"Type": "redirect", "RedirectConfig": {
                                     "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}])
    res = by_id(await make_backend().observe())

    def rules(rid: str) -> list[str]:
        return sorted(f.rule for f in res[rid].findings)

    assert rules("aws/lambda-function/public-fn") == ["lambda-public-url"]
    assert "is public (AuthType NONE)" in res["aws/lambda-function/public-fn"].findings[0].message
    assert rules("aws/lambda-function/iam-fn") == rules("aws/lambda-function/no-url-fn") == []
    assert rules("aws/dynamodb-table/plain-table") == ["dynamodb-kms"] and rules("aws/dynamodb-table/kms-table") == []
    assert rules("aws/sqs-queue/plain-q") == ["sqs-encryption"] and rules("aws/sqs-queue/sse-q") == []
    [open_http] = res["aws/load-balancer/open-http"].findings
    assert open_http.rule == "elb-open-plaintext-listener" and open_http.severity == Severity.HIGH
    assert open_http.message == "listener without TLS open to the internet: HTTP:80 from 0.0.0.0/0"
    assert rules("aws/load-balancer/inner-http") == rules("aws/load-balancer/tls") == []
    assert rules("aws/load-balancer/redirect") == []  # HTTP only redirects to HTTPS
    [nlb] = res["aws/load-balancer/nlb-tcp"].findings
    assert nlb.message == "listener without TLS open to the internet: TCP:80 (no security group)"


# -- what the Resources table and the instance's detail say (on-call finding 6) ----------------

async def test_an_instance_its_asg_marks_unhealthy_says_so_itself(aws, make_backend):
    """The group's detail ("unhealthy: i-…") and the instance's may not contradict each other:
    the instance is Degraded with a fault naming the group."""
    svc.autoscaling_group(aws, "staging", "workers", desired=2, max_size=4)
    backend = make_backend()
    asg = aws("autoscaling")
    members = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])["AutoScalingGroups"][0]["Instances"]
    victim, other = members[0]["InstanceId"], members[1]["InstanceId"]
    asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
    obs = await backend.observe()
    res = by_id(obs)
    assert victim in res["aws/autoscaling-group/workers"].health_reason
    instance = res[f"aws/ec2-instance/{victim}"]
    assert instance.health == Health.DEGRADED
    assert "Auto Scaling group workers marks it Unhealthy" in instance.health_reason
    [fault] = faults_of(obs, instance.id)
    assert fault.reason == "AsgUnhealthy" and "workers" in fault.message and fault.severity == Severity.HIGH
    assert res[f"aws/ec2-instance/{other}"].health == Health.HEALTHY
    assert faults_of(obs, f"aws/ec2-instance/{other}") == []


async def test_status_of_the_service_kinds_carries_the_cause(aws, make_backend):
    """STATUS reads like a Deployment's `1/2 ready`: in service, targets healthy, DLQ, depth."""
    svc.autoscaling_group(aws, "staging", "workers", desired=2, max_size=4)
    ids = svc.instances(aws, "staging", 2)
    svc.load_balancer(aws, "staging", "web", targets=ids)
    dlq = svc.queue(aws, "staging", "jobs-dlq")
    queue = svc.queue(aws, "staging", "jobs", dead_letter="jobs-dlq")
    svc.send(aws, queue, 4)
    svc.table(aws, "staging", "orders")
    svc.function(aws, "staging", "api")
    backend = make_backend()
    res = by_id(await backend.observe())
    assert res["aws/autoscaling-group/workers"].status == "2/2 in service"
    assert res["aws/load-balancer/web"].status == "2/2 targets healthy"
    assert res["aws/target-group/web-tg"].status == "2/2 targets healthy"
    assert res["aws/sqs-queue/jobs"].status == "4 messages"
    assert res["aws/dynamodb-table/orders"].status == "ACTIVE"
    assert res["aws/lambda-function/api"].status == "Active"
    asg = aws("autoscaling")
    victim = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])["AutoScalingGroups"][0][
        "Instances"][0]["InstanceId"]
    asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
    aws("ec2").stop_instances(InstanceIds=[ids[1]])
    svc.send(aws, dlq, 3)
    res = by_id(await backend.observe())
    assert res["aws/autoscaling-group/workers"].status == "1/2 in service"
    assert res["aws/load-balancer/web"].status == "1/2 targets healthy"
    assert res["aws/sqs-queue/jobs"].status == "3 in DLQ"


def test_a_failed_lambda_update_shows_in_status():
    """moto never fails an update: the configuration is given as Lambda answers it."""
    failed = {"State": "Active", "LastUpdateStatus": "Failed", "LastUpdateStatusReasonCode": "ImageAccessDenied"}
    assert hs.lambda_function_status(failed) == "update Failed"
    assert hs.lambda_function_status({"State": "Failed", "LastUpdateStatus": "Failed"}) == "Failed"
    assert hs.lambda_function_status({"State": "Active", "LastUpdateStatus": "Successful"}) == "Active"


async def test_logs_and_shell_are_offered_only_where_there_are_some(aws, make_backend):
    """A queue, a group or a table has no log group unless one is mapped under aws.logs or
    tagged; `l` and `s` are not offered on them (on-call finding 8). The refusal says how to map one."""
    from tui.core.errors import InvalidRequest

    svc.queue(aws, "staging", "jobs")
    svc.autoscaling_group(aws, "staging", "workers", desired=1)
    svc.function(aws, "staging", "api")
    backend = make_backend(logs=[{"resource": "api", "group": "/aws/lambda/api"}])
    res = by_id(await backend.observe())
    queue, group, fn = res["aws/sqs-queue/jobs"], res["aws/autoscaling-group/workers"], res["aws/lambda-function/api"]
    assert [backend.has_logs(r) for r in (queue, group, fn)] == [False, False, True]
    assert all(backend.shell_command(r) is None and "shell" not in {s.name for s in backend.actions(r)}
               for r in (queue, group, fn))
    with pytest.raises(InvalidRequest, match="has no log group: map one under aws.logs"):
        await backend.log_source(queue.id)
