"""Arrange Lambda functions, load balancers, Auto Scaling groups, DynamoDB tables and SQS queues on
the moto server (through boto3) for the services tests."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.aws.arrange import tags


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {'ok': True}\n")
    return buf.getvalue()


def role(aws) -> str:
    iam = aws("iam")
    try:
        return iam.get_role(RoleName="envdeck-test-fn")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName="envdeck-test-fn", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]


def function(aws, env: str, name: str, *, url_auth: str | None = None, concurrency: int | None = None) -> str:
    lam = aws("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role(aws), Handler="handler.handler",
                        Code={"ZipFile": _zip()}, Tags={"env": env},
                        Environment={"Variables": {"DB_PASSWORD": "hunter2-not-shown"}})
    if url_auth:
        lam.create_function_url_config(FunctionName=name, AuthType=url_auth)
    if concurrency is not None:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=concurrency)
    return name


def subnets(aws) -> tuple[str, list[str]]:
    ec2 = aws("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    found = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    return vpc, found[:2]


def load_balancer(aws, env: str, name: str, *, listener: str = "HTTPS", open_to_world: bool = True,
                  targets: list[str] | None = None, lb_type: str = "application") -> dict[str, Any]:
    """A load balancer with one security group (port 80/443 open to 0.0.0.0/0 or to 10.0.0.0/8),
    a target group `NAME-tg` with `targets` registered, and one listener forwarding to it."""
    ec2, elb = aws("ec2"), aws("elbv2")
    vpc, nets = subnets(aws)
    group = ec2.create_security_group(GroupName=f"{name}-lb", Description="lb", VpcId=vpc)["GroupId"]
    cidr = "0.0.0.0/0" if open_to_world else "10.0.0.0/8"
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": cidr}]} for p in (80, 443)])
    kwargs: dict[str, Any] = {"SecurityGroups": [group]} if lb_type == "application" else {}
    lb = elb.create_load_balancer(Name=name, Subnets=nets, Scheme="internet-facing", Type=lb_type,
                                  Tags=tags(env), **kwargs)["LoadBalancers"][0]
    tg = elb.create_target_group(Name=f"{name}-tg", Protocol="HTTP" if lb_type == "application" else "TCP",
                                 Port=80, VpcId=vpc, Tags=tags(env))["TargetGroups"][0]
    if targets:
        elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": t, "Port": 80} for t in targets])
    listen: dict[str, Any] = {"Protocol": listener, "Port": 443 if listener in ("HTTPS", "TLS") else 80}
    if listener in ("HTTPS", "TLS"):
        cert = aws("acm").request_certificate(DomainName=f"{name}.example.test")["CertificateArn"]
        listen["Certificates"] = [{"CertificateArn": cert}]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}], **listen)
    return {"lb": lb, "tg": tg, "security_group": group}


def autoscaling_group(aws, env: str, name: str, *, desired: int = 2, min_size: int = 1, max_size: int = 4) -> str:
    ec2 = aws("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName=f"{name}-lt",
                               LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.micro"})
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateName": f"{name}-lt"}, MinSize=min_size,
        MaxSize=max_size, DesiredCapacity=desired, AvailabilityZones=["us-east-1a"],
        Tags=[{"Key": "env", "Value": env, "PropagateAtLaunch": True, "ResourceId": name,
               "ResourceType": "auto-scaling-group"}])
    return name


def table(aws, env: str, name: str, *, kms: bool = False) -> str:
    extra: dict[str, Any] = {"SSESpecification": {"Enabled": True, "SSEType": "KMS"}} if kms else {}
    aws("dynamodb").create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
        Tags=tags(env), **extra)
    return name


def queue(aws, env: str, name: str, *, dead_letter: str | None = None, encrypted: bool = True,
          tagged: bool = True) -> str:
    sqs = aws("sqs")
    attributes = {"SqsManagedSseEnabled": "true" if encrypted else "false"}
    if dead_letter:
        dlq_url = sqs.get_queue_url(QueueName=dead_letter)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "3"})
    kwargs: dict[str, Any] = {"tags": {"env": env}} if tagged else {}
    return sqs.create_queue(QueueName=name, Attributes=attributes, **kwargs)["QueueUrl"]


def send(aws, queue_url: str, count: int) -> None:
    for i in range(count):
        aws("sqs").send_message(QueueUrl=queue_url, MessageBody=f"message {i}")


def instances(aws, env: str, count: int) -> list[str]:
    ec2 = aws("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    answer = ec2.run_instances(ImageId=ami, MinCount=count, MaxCount=count, InstanceType="t3.micro",
                               MetadataOptions={"HttpTokens": "required"},
                               TagSpecifications=[{"ResourceType": "instance", "Tags": tags(env, Name="web")}])
    return [i["InstanceId"] for i in answer["Instances"]]
