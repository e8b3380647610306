"""ARNs returned by the Resource Groups Tagging API → envdeck kinds and native ids."""

from __future__ import annotations

from typing import NamedTuple

# Resource type filters of the tagging API for the kinds envdeck shows, and alarms
# (tagged alarms belong to the environment even when their dimensions name nothing of it).
RESOURCE_TYPE_FILTERS = (
    "ec2:instance", "ec2:security-group", "ec2:volume", "s3", "rds:db", "ecs:service", "cloudwatch:alarm",
)

KINDS = ("ec2-instance", "s3-bucket", "rds-instance", "ecs-service", "security-group", "ebs-volume")


class ParsedArn(NamedTuple):
    kind: str  # an envdeck kind, or "cloudwatch-alarm"
    native_id: str  # i-…, bucket name, DB identifier, "cluster/service", sg-…, vol-…, alarm name
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
