"""AWS console deep links, in the partition and region of the environment."""

from __future__ import annotations

from urllib.parse import quote


def _host(region: str, service_prefix: str | None = None) -> str:
    """Console host for a region: commercial, China and GovCloud partitions differ."""
    if region.startswith("cn-"):
        base = "console.amazonaws.cn"
    elif region.startswith("us-gov-"):
        base = "console.amazonaws-us-gov.com"
    else:
        base = "console.aws.amazon.com"
    return f"https://{service_prefix or region}.{base}"


def ec2_instance(region: str, instance_id: str) -> str:
    return f"{_host(region)}/ec2/home?region={region}#InstanceDetails:instanceId={quote(instance_id, safe='')}"


def security_group(region: str, group_id: str) -> str:
    return f"{_host(region)}/ec2/home?region={region}#SecurityGroup:groupId={quote(group_id, safe='')}"


def ebs_volume(region: str, volume_id: str) -> str:
    return f"{_host(region)}/ec2/home?region={region}#VolumeDetails:volumeId={quote(volume_id, safe='')}"


def s3_bucket(region: str, bucket: str) -> str:
    return f"{_host(region, 's3')}/s3/buckets/{quote(bucket, safe='')}?region={region}&tab=objects"


def rds_instance(region: str, db_id: str) -> str:
    return f"{_host(region)}/rds/home?region={region}#database:id={quote(db_id, safe='')};is-cluster=false"


def ecs_service(region: str, cluster: str, service: str) -> str:
    return (f"{_host(region)}/ecs/v2/clusters/{quote(cluster, safe='')}/services/"
            f"{quote(service, safe='')}/health?region={region}")


def _console_path_escape(text: str) -> str:
    """The CloudWatch console's own escaping of names inside its '#' route: URL-encode
    twice with '$' in place of '%' (as its address bar shows)."""
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def log_group(region: str, group: str) -> str:
    return (f"{_host(region)}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
            f"{_console_path_escape(group)}")


def alarm(region: str, alarm_name: str) -> str:
    return f"{_host(region)}/cloudwatch/home?region={region}#alarmsV2:alarm/{quote(alarm_name, safe='')}"


def lambda_function(region: str, name: str) -> str:
    return f"{_host(region)}/lambda/home?region={region}#/functions/{quote(name, safe='')}?tab=monitoring"


def load_balancer(region: str, arn: str) -> str:
    return f"{_host(region)}/ec2/home?region={region}#LoadBalancer:loadBalancerArn={quote(arn, safe='')}"


def target_group(region: str, arn: str) -> str:
    return f"{_host(region)}/ec2/home?region={region}#TargetGroup:targetGroupArn={quote(arn, safe='')}"


def autoscaling_group(region: str, name: str) -> str:
    return f"{_host(region)}/ec2/home?region={region}#AutoScalingGroupDetails:id={quote(name, safe='')};view=details"


def dynamodb_table(region: str, name: str) -> str:
    return f"{_host(region)}/dynamodbv2/home?region={region}#table?name={quote(name, safe='')}"


def sqs_queue(region: str, queue_url: str) -> str:
    return f"{_host(region)}/sqs/v3/home?region={region}#/queues/{quote(queue_url, safe='')}"


def for_resource(region: str, kind: str, native_id: str) -> str | None:
    """Deep link for an envdeck kind and native id (`CLUSTER/NAME` for ecs-service)."""
    if kind == "ec2-instance":
        return ec2_instance(region, native_id)
    if kind == "security-group":
        return security_group(region, native_id)
    if kind == "ebs-volume":
        return ebs_volume(region, native_id)
    if kind == "s3-bucket":
        return s3_bucket(region, native_id)
    if kind == "rds-instance":
        return rds_instance(region, native_id)
    if kind == "ecs-service":
        cluster, _, name = native_id.partition("/")
        return ecs_service(region, cluster, name)
    if kind == "lambda-function":
        return lambda_function(region, native_id)
    if kind == "autoscaling-group":
        return autoscaling_group(region, native_id)
    if kind == "dynamodb-table":
        return dynamodb_table(region, native_id)
    return None  # load balancers, target groups and queues are linked by their ARN / URL
