"""Seed a moto server with two tagged environments for the demo (and for tests).

    info = seed_demo("http://127.0.0.1:PORT")            # blocking; run it in a thread from async code
    info["environments"]["staging"]["desired"]            # entries for `aws.desired`
    await feed_logs("http://127.0.0.1:PORT", info["environments"]["staging"]["log_group"], stop)

moto accepts any credentials; the seeder passes its own dummy ones, and the backend
finds whatever the AWS CLI chain finds (the demo should export
`AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing`, which `DUMMY_CREDENTIALS_ENV` holds).

Each environment gets (tag `env: NAME`): EC2 instances with Name tags (`web-1`… and
`worker-1`, which is stopped although the returned desired state wants it running),
two buckets (`NAME-assets` compliant, `NAME-uploads` without encryption or public
access block, desired with both), an ECS cluster `NAME` with service `api` running 2
(desired 3), an RDS instance `NAME-db`, security groups (one with SSH open to the
world), an unencrypted EBS volume, an hour of CPU/network metrics per instance (a bounded number of them at a large
--scale: `metric_instances`),
an alarm in ALARM on `web-1`, and a log group `/envdeck/NAME/web` with a few lines.

And the services (`_seed_services`): an application load balancer `NAME-web` whose target group
`NAME-web-tg` holds the web instances (the first 8 at a large --scale) and the stopped `worker-1`
(a target not serving: the load balancer, the target group and worker-1 show it), listening on HTTP open to the world in staging
(a compliance finding) and HTTPS in prod; Lambda functions `NAME-thumbnailer` (reserved
concurrency 5, desired 10 in prod) and `NAME-webhook` (a public function URL, and errors in
CloudWatch); an Auto Scaling group `NAME-workers` (desired 2) with one instance marked Unhealthy
in staging (2 desired, 1 healthy in service) and desired 3 in prod's config (drift); DynamoDB
tables `NAME-orders` (no KMS key) and `NAME-sessions` (KMS); SQS queues `NAME-jobs` whose
dead-letter queue `NAME-jobs-dlq` holds messages in staging, and `NAME-events` unencrypted.
moto runs no Lambda code and fails no function, so no function is in the Failed state.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import math
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

REGION = "us-east-1"
DUMMY_CREDENTIALS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _clients(endpoint_url: str, region: str) -> dict[str, Any]:
    session = boto3.Session(region_name=region, **_DUMMY)
    return {name: session.client(name, endpoint_url=endpoint_url)
            for name in ("ec2", "s3", "ecs", "rds", "cloudwatch", "logs", "lambda", "iam", "elbv2", "acm",
                         "autoscaling", "dynamodb", "sqs")}


def _tags(env: str, **extra: str) -> list[dict[str, str]]:
    return [{"Key": "env", "Value": env}] + [{"Key": k, "Value": v} for k, v in extra.items()]


def _seed_instances(ec2: Any, env: str, scale: int, log_group: str) -> dict[str, str]:
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    names = [f"web-{i}" for i in range(1, 2 * scale + 1)] + [f"worker-{i}" for i in range(1, scale + 1)]
    ids: dict[str, str] = {}
    for n, name in enumerate(names):
        extra = {"Name": name, "role": name.split("-")[0]}
        if name == "web-1":
            extra["envdeck:log-group"] = log_group
        answer = ec2.run_instances(
            ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro",
            MetadataOptions={"HttpTokens": "required" if n % 2 == 0 else "optional", "HttpEndpoint": "enabled"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(env, **extra)}])
        ids[name] = answer["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[ids["worker-1"]])  # drift: desired running
    return ids


def _seed_network_and_storage(ec2: Any, env: str) -> None:
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    web = ec2.create_security_group(GroupName=f"{env}-web", Description="web", VpcId=vpc,
                                    TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(env)}])
    ec2.authorize_security_group_ingress(GroupId=web["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    admin = ec2.create_security_group(GroupName=f"{env}-admin", Description="admin", VpcId=vpc,
                                      TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(env)}])
    ec2.authorize_security_group_ingress(GroupId=admin["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    for encrypted in (True, False):
        ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a", Encrypted=encrypted, TagSpecifications=[
            {"ResourceType": "volume", "Tags": _tags(env, Name=f"{env}-data-{'enc' if encrypted else 'plain'}")}])


def _seed_buckets(s3: Any, env: str) -> None:
    for name in (f"{env}-assets", f"{env}-uploads"):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(env)})
    s3.put_bucket_encryption(Bucket=f"{env}-assets", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=f"{env}-assets", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})


def _seed_ecs_and_rds(ecs: Any, rds: Any, env: str) -> None:
    ecs_tags = [{"key": "env", "value": env}]
    ecs.create_cluster(clusterName=env, tags=ecs_tags)
    ecs.register_task_definition(family=f"{env}-api", containerDefinitions=[
        {"name": "api", "image": "public.ecr.aws/nginx/nginx:1.27", "memory": 256}])
    ecs.create_service(cluster=env, serviceName="api", taskDefinition=f"{env}-api", desiredCount=2,
                       tags=ecs_tags)
    ecs.update_service(cluster=env, service="api", desiredCount=2)  # moto: running follows desired
    rds.create_db_instance(DBInstanceIdentifier=f"{env}-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="envdeck", MasterUserPassword="demo-only-not-a-secret",
                           AllocatedStorage=20, StorageEncrypted=env != "staging", Tags=_tags(env))


METRIC_INSTANCES_PER_ROLE = 2  # web-1..web-4 and worker-1..worker-2 at most get an hour of metrics
LB_TARGETS = 8  # web instances in the load balancer's target group (with the stopped worker-1)


def metric_instances(ids: dict[str, str]) -> dict[str, str]:
    """The instances seeded with an hour of metrics: every one at scale 1 and 2, a bounded number
    (web-1, the alarm's, among them) beyond. moto's `get_metric_data` scans every stored point of
    the window for every period of every query (a backend asks one query per instance and
    metric): with every instance's hour seeded, the scale-100 demo's servers spent most of their
    CPU there (two thirds of a profile taken during one `envdeck status`), starving the emulator
    and the edge nodes that share their process. Instances without points show no sparkline."""
    keep = {f"web-{i}" for i in range(1, 2 * METRIC_INSTANCES_PER_ROLE + 1)}
    keep |= {f"worker-{i}" for i in range(1, METRIC_INSTANCES_PER_ROLE + 1)}
    return {name: iid for name, iid in ids.items() if name in keep}


def _seed_metrics_and_alarm(cw: Any, env: str, ids: dict[str, str]) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    data = []
    for (name, iid), minute in itertools.product(sorted(metric_instances(ids).items()), range(60)):
        base = 85.0 if name == "web-1" else 20.0 + 5 * (sum(map(ord, name)) % 5)
        cpu = base + 10 * math.sin(minute / 6)
        dims = [{"Name": "InstanceId", "Value": iid}]
        at = now - timedelta(minutes=minute)
        data += [{"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": at, "Value": cpu,
                  "Unit": "Percent"},
                 {"MetricName": "NetworkIn", "Dimensions": dims, "Timestamp": at, "Value": 1e5 + cpu * 1e3,
                  "Unit": "Bytes"}]
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=data[i:i + 500])
    alarm = f"{env}-web-1-cpu-high"
    cw.put_metric_alarm(AlarmName=alarm, MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=80, ComparisonOperator="GreaterThanThreshold",
                        Dimensions=[{"Name": "InstanceId", "Value": ids["web-1"]}], Tags=_tags(env))
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="CPU above 80% for 1 datapoint")


def _seed_logs(logs: Any, group: str, env: str, lines: int = 20) -> None:
    # the group carries the environment's tags: a group named by a resource's tag counts only then
    logs.create_log_group(logGroupName=group, tags={"env": env})
    logs.create_log_stream(logGroupName=group, logStreamName="web-1/app")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="web-1/app", logEvents=[
        {"timestamp": now_ms - (lines - i) * 1000, "message": f"GET /health 200 ({i})"} for i in range(lines)])


def _function_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
    return buf.getvalue()


def _seed_functions(c: dict[str, Any], env: str) -> None:
    iam, lam = c["iam"], c["lambda"]
    try:
        role = iam.get_role(RoleName="envdeck-demo-fn")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="envdeck-demo-fn", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    for name in (f"{env}-thumbnailer", f"{env}-webhook"):
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                            Code={"ZipFile": _function_zip()}, Tags={"env": env}, MemorySize=256, Timeout=10)
    lam.put_function_concurrency(FunctionName=f"{env}-thumbnailer", ReservedConcurrentExecutions=5)
    lam.create_function_url_config(FunctionName=f"{env}-webhook", AuthType="NONE")  # public: a finding
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    dims = [{"Name": "FunctionName", "Value": f"{env}-webhook"}]
    c["cloudwatch"].put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": metric, "Dimensions": dims, "Timestamp": now - timedelta(minutes=m), "Value": value,
         "Unit": "Count"}
        for m in range(15) for metric, value in (("Invocations", 40.0), ("Errors", 3.0 if m < 5 else 0.0))])


def _seed_load_balancer(c: dict[str, Any], env: str, ids: dict[str, str]) -> None:
    ec2, elb = c["ec2"], c["elbv2"]
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    group = ec2.create_security_group(GroupName=f"{env}-lb", Description="load balancer", VpcId=vpc,
                                      TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(env)}])
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]} for p in (80, 443)])
    lb = elb.create_load_balancer(Name=f"{env}-web", Subnets=subnets[:2], SecurityGroups=[group["GroupId"]],
                                  Scheme="internet-facing", Type="application", Tags=_tags(env))["LoadBalancers"][0]
    tg = elb.create_target_group(Name=f"{env}-web-tg", Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckPath="/health",
                                 Tags=_tags(env))["TargetGroups"][0]
    # the first web instances only: moto's describe_target_health looks every target up among all
    # instances (a profile of the scale-100 demo found it next after get_metric_data)
    web = [f"web-{i}" for i in range(1, LB_TARGETS + 1) if f"web-{i}" in ids]
    targets = [ids[name] for name in web] + [ids["worker-1"]]
    # registered while it ran, then stopped (only running instances can be registered)
    ec2.start_instances(InstanceIds=[ids["worker-1"]])
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": t, "Port": 80} for t in targets])
    ec2.stop_instances(InstanceIds=[ids["worker-1"]])
    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    if env == "staging":  # plain HTTP open to the world: a finding
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=forward)
        return
    cert = c["acm"].request_certificate(DomainName=f"{env}.demo.example")["CertificateArn"]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443, DefaultActions=forward,
                        Certificates=[{"CertificateArn": cert}])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}])


def _seed_autoscaling(c: dict[str, Any], env: str) -> None:
    ami = c["ec2"].describe_images()["Images"][0]["ImageId"]
    c["ec2"].create_launch_template(LaunchTemplateName=f"{env}-workers", LaunchTemplateData={
        "ImageId": ami, "InstanceType": "t3.small", "MetadataOptions": {"HttpTokens": "required"}})
    asg = c["autoscaling"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=f"{env}-workers", LaunchTemplate={"LaunchTemplateName": f"{env}-workers"},
        MinSize=1, MaxSize=6, DesiredCapacity=2, AvailabilityZones=[f"{REGION}a", f"{REGION}b"],
        Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": f"{env}-workers",
               "ResourceType": "auto-scaling-group"} for k, v in (("env", env), ("Name", f"{env}-asg-worker"))])
    if env == "staging":  # one of two instances Unhealthy: 1/2 healthy in service
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{env}-workers"])["AutoScalingGroups"][0]
        asg.set_instance_health(InstanceId=group["Instances"][0]["InstanceId"], HealthStatus="Unhealthy",
                                ShouldRespectGracePeriod=False)


def _seed_tables_and_queues(c: dict[str, Any], env: str) -> None:
    for name, kms in ((f"{env}-orders", False), (f"{env}-sessions", True)):
        c["dynamodb"].create_table(
            TableName=name, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST", Tags=_tags(env),
            **({"SSESpecification": {"Enabled": True, "SSEType": "KMS"}} if kms else {}))
    sqs = c["sqs"]
    dlq = sqs.create_queue(QueueName=f"{env}-jobs-dlq", tags={"env": env},
                           Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    jobs = sqs.create_queue(QueueName=f"{env}-jobs", tags={"env": env}, Attributes={
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    sqs.create_queue(QueueName=f"{env}-events", tags={"env": env}, Attributes={"SqsManagedSseEnabled": "false"})
    for i in range(12):
        sqs.send_message(QueueUrl=jobs, MessageBody=json.dumps({"job": i}))
    if env == "staging":  # jobs that failed 5 times: a fault on NAME-jobs
        for i in range(3):
            sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"job": 100 + i, "error": "timeout"}))


def _seed_services(c: dict[str, Any], env: str, ids: dict[str, str]) -> None:
    _seed_functions(c, env)
    _seed_load_balancer(c, env, ids)
    _seed_autoscaling(c, env)
    _seed_tables_and_queues(c, env)


def seed_demo(endpoint_url: str, envs: tuple[str, ...] = ("staging", "prod"), scale: int = 1,
              region: str = REGION, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Create the demo environments; returns what the demo config should declare per env.
    `progress` hears how far the seeding got (the demo says it when its servers start too slowly)."""
    say = progress or (lambda _text: None)
    c = _clients(endpoint_url, region)
    out: dict[str, Any] = {"endpoint_url": endpoint_url, "region": region,
                           "credentials_env": dict(DUMMY_CREDENTIALS_ENV), "environments": {}}
    for env in envs:
        group = f"/envdeck/{env}/web"
        say(f"seeding {env}")
        ids = _seed_instances(c["ec2"], env, max(1, scale), group)
        say(f"seeding {env}: {len(ids)} instances created")
        _seed_network_and_storage(c["ec2"], env)
        _seed_buckets(c["s3"], env)
        _seed_ecs_and_rds(c["ecs"], c["rds"], env)
        _seed_metrics_and_alarm(c["cloudwatch"], env, ids)
        _seed_logs(c["logs"], group, env)
        _seed_services(c, env, ids)
        say(f"{env} seeded")
        out["environments"][env] = {
            "tags": {"env": env},
            "instances": ids,
            "log_group": group,
            "logs": [{"resource": "web-1", "group": group, "stream_prefix": "web-1/"}],
            "desired": [
                {"kind": "ec2-instance", "name": "web-1", "state": "running"},
                {"kind": "ec2-instance", "name": "worker-1", "state": "running"},
                {"kind": "ecs-service", "cluster": env, "name": "api", "desired_count": 3},
                {"kind": "s3-bucket", "name": f"{env}-assets", "encryption": True, "public_access_blocked": True},
                {"kind": "s3-bucket", "name": f"{env}-uploads", "encryption": True, "public_access_blocked": True},
                {"kind": "autoscaling-group", "name": f"{env}-workers", "desired_capacity": 3 if env == "prod" else 2},
                {"kind": "lambda-function", "name": f"{env}-thumbnailer",
                 "reserved_concurrency": 10 if env == "prod" else 5},
            ],
        }
    return out


async def feed_logs(endpoint_url: str, group: str, stop_event: asyncio.Event | threading.Event, *,
                    stream: str = "web-1/app", interval_s: float = 1.0, region: str = REGION) -> int:
    """Put a log line into `group` every `interval_s` until `stop_event` is set; returns the count."""
    logs = await asyncio.to_thread(lambda: _clients(endpoint_url, region)["logs"])

    def ensure_stream() -> None:
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass

    await asyncio.to_thread(ensure_stream)
    sent = 0
    paths = itertools.cycle(["/health 200", "/api/orders 200", "/api/orders 201", "/api/users 404",
                             "/api/orders 500"])
    while not stop_event.is_set():
        sent += 1
        line = f"{datetime.now(UTC).isoformat(timespec='milliseconds')} GET {next(paths)} req={sent}"
        event = {"timestamp": int(time.time() * 1000), "message": line}
        await asyncio.to_thread(logs.put_log_events, logGroupName=group, logStreamName=stream, logEvents=[event])
        if isinstance(stop_event, asyncio.Event):
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=interval_s)
            except TimeoutError:
                pass
        else:
            await asyncio.sleep(interval_s)
    return sent
