"""Small helpers that arrange AWS resources on the moto server for a test (through boto3)."""

from __future__ import annotations

from typing import Any

from tests.moto_server import REGION
from tui.core.config import AwsConfig


def tags(env: str, **extra: str) -> list[dict[str, str]]:
    return [{"Key": "env", "Value": env}] + [{"Key": k, "Value": v} for k, v in extra.items()]


def instance(aws, env: str, name: str, *, imds_required: bool = True, **extra_tags: str) -> str:
    ec2 = aws("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    answer = ec2.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro",
        MetadataOptions={"HttpTokens": "required" if imds_required else "optional"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags(env, Name=name, **extra_tags)}])
    return answer["Instances"][0]["InstanceId"]


def bucket(aws, env: str, name: str, *, encrypted: bool = False, blocked: bool = False) -> str:
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags(env)})
    if encrypted:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    if blocked:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
    return name


def ecs_service(aws, env: str, cluster: str, name: str, desired: int = 2, *, settle: bool = True) -> str:
    ecs = aws("ecs")
    ecs.create_cluster(clusterName=cluster, tags=[{"key": "env", "value": env}])
    ecs.register_task_definition(family=name, containerDefinitions=[{"name": name, "image": "nginx", "memory": 128}])
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=name, desiredCount=desired,
                       tags=[{"key": "env", "value": env}])
    if settle:  # moto: runningCount follows desiredCount only after an update_service
        ecs.update_service(cluster=cluster, service=name, desiredCount=desired)
    return f"{cluster}/{name}"


def db_instance(aws, env: str, name: str, *, public: bool = False, encrypted: bool = True) -> str:
    aws("rds").create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="app",
        MasterUserPassword="not-a-secret-123", AllocatedStorage=20, PubliclyAccessible=public,
        StorageEncrypted=encrypted, Tags=tags(env))
    return name


def security_group(aws, env: str, name: str, permissions: list[dict[str, Any]] | None = None) -> str:
    ec2 = aws("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc, TagSpecifications=[
        {"ResourceType": "security-group", "Tags": tags(env)}])["GroupId"]
    if permissions:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=permissions)
    return gid


def volume(aws, env: str, *, encrypted: bool) -> str:
    return aws("ec2").create_volume(Size=1, AvailabilityZone="us-east-1a", Encrypted=encrypted, TagSpecifications=[
        {"ResourceType": "volume", "Tags": tags(env)}])["VolumeId"]


def alarm(aws, name: str, dims: list[dict] | None, *, state: str = "ALARM", namespace: str = "AWS/EC2",
          tags: list[dict] | None = None) -> None:
    """A CPU alarm on `dims`, forced into `state` (moto evaluates no alarm by itself)."""
    cw = aws("cloudwatch")
    kwargs = {"Dimensions": dims} if dims else {}
    cw.put_metric_alarm(AlarmName=name, MetricName="CPUUtilization", Namespace=namespace, Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=80, ComparisonOperator="GreaterThanThreshold",
                        Tags=tags or [], **kwargs)
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"{name} says {state}")


def by_id(observation) -> dict[str, Any]:
    return {r.id: r for r in observation.resources}


def aws_config(endpoint_url: str, env: str = "staging", **extra) -> AwsConfig:
    data = {"region": REGION, "endpoint_url": endpoint_url, "tags": {"env": env}}
    data.update(extra)
    return AwsConfig.model_validate(data)
