"""ARNs returned by the Resource Groups Tagging API → envdeck kinds and native ids."""

from __future__ import annotations

from typing import NamedTuple

# Resource type filters of the tagging API for the kinds envdeck shows, and alarms
# (tagged alarms belong to the environment even when their dimensions name nothing of it).
RESOURCE_TYPE_FILTERS = (
    "ec2:instance", "ec2:security-group", "ec2:volume", "s3", "rds:db", "ecs:service", "cloudwatch:alarm",
    "lambda:function", "elasticloadbalancing:loadbalancer", "elasticloadbalancing:targetgroup",
    "dynamodb:table", "sqs",
)

# Auto Scaling groups are not in the tagging API's GetResources (AWS documents it): they are
# found by `describe_auto_scaling_groups` with tag filters instead.
KINDS = ("ec2-instance", "s3-bucket", "rds-instance", "ecs-service", "security-group", "ebs-volume",
         "lambda-function", "load-balancer", "target-group", "autoscaling-group", "dynamodb-table", "sqs-queue")


class ParsedArn(NamedTuple):
    kind: str  # an envdeck kind, or "cloudwatch-alarm"
    native_id: str  # i-…, bucket name, DB identifier, "cluster/service", sg-…, vol-…, alarm name, or the
    # name of a function, load balancer, target group, table or queue
    region: str


def parse_arn(arn: str) -> ParsedArn | None:
    """Kind and native id of an ARN, or None for a type envdeck does not show."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    _, _, service, region, _, rest = parts
    if service == "s3" and "/" not in rest:
        return ParsedArn("s3-bucket", rest, region)
    if service == "ec2":
        rtype, _, rid = rest.partition("/")
        kind = {"instance": "ec2-instance", "security-group": "security-group", "volume": "ebs-volume"}.get(rtype)
        return ParsedArn(kind, rid, region) if kind and rid else None
    if service == "rds" and rest.startswith("db:"):
        return ParsedArn("rds-instance", rest[3:], region)
    if service == "ecs" and rest.startswith("service/"):
        path = rest[len("service/"):]
        if "/" in path:  # new ARN format: service/CLUSTER/NAME (the old one has no cluster)
            return ParsedArn("ecs-service", path, region)
        return None
    if service == "lambda" and rest.startswith("function:"):
        name = rest[len("function:"):].split(":", 1)[0]  # a qualified ARN names a version or alias
        return ParsedArn("lambda-function", name, region)
    if service == "elasticloadbalancing":
        # loadbalancer/app|net|gwy/NAME/ID and targetgroup/NAME/ID: names are unique per region
        path = rest.split("/")
        if path[0] == "loadbalancer" and len(path) == 4:
            return ParsedArn("load-balancer", path[2], region)
        if path[0] == "targetgroup" and len(path) == 3:
            return ParsedArn("target-group", path[1], region)
        return None
    if service == "dynamodb" and rest.startswith("table/") and rest.count("/") == 1:
        return ParsedArn("dynamodb-table", rest[len("table/"):], region)
    if service == "sqs" and rest and "/" not in rest and ":" not in rest:
        return ParsedArn("sqs-queue", rest, region)
    if service == "cloudwatch" and rest.startswith("alarm:"):
        return ParsedArn("cloudwatch-alarm", rest[len("alarm:"):], region)
    return None


def tags_to_dict(tags: list[dict] | None) -> dict[str, str]:
    """AWS tag lists (`Key`/`Value` or ECS's `key`/`value`) as a dict."""
    out: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return out
