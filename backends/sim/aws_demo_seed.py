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
world), an unencrypted EBS volume, an hour of CPU/network metrics per instance,
an alarm in ALARM on `web-1`, and a log group `/envdeck/NAME/web` with a few lines.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

REGION = "us-east-1"
DUMMY_CREDENTIALS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _clients(endpoint_url: str, region: str) -> dict[str, Any]:
    session = boto3.Session(region_name=region, **_DUMMY)
    return {name: session.client(name, endpoint_url=endpoint_url)
            for name in ("ec2", "s3", "ecs", "rds", "cloudwatch", "logs")}


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


def _seed_metrics_and_alarm(cw: Any, env: str, ids: dict[str, str]) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    data = []
    for (name, iid), minute in itertools.product(sorted(ids.items()), range(60)):
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


def seed_demo(endpoint_url: str, envs: tuple[str, ...] = ("staging", "prod"), scale: int = 1,
              region: str = REGION) -> dict[str, Any]:
    """Create the demo environments; returns what the demo config should declare per env."""
    c = _clients(endpoint_url, region)
    out: dict[str, Any] = {"endpoint_url": endpoint_url, "region": region,
                           "credentials_env": dict(DUMMY_CREDENTIALS_ENV), "environments": {}}
    for env in envs:
        group = f"/envdeck/{env}/web"
        ids = _seed_instances(c["ec2"], env, max(1, scale), group)
        _seed_network_and_storage(c["ec2"], env)
        _seed_buckets(c["s3"], env)
        _seed_ecs_and_rds(c["ecs"], c["rds"], env)
        _seed_metrics_and_alarm(c["cloudwatch"], env, ids)
        _seed_logs(c["logs"], group, env)
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
