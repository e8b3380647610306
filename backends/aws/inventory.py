"""Membership by tags (Resource Groups Tagging API), then per-service describes for detail.

`collect_inventory()` returns the raw native records of one environment; turning them
into `Resource`s is `resource_builder`'s job. Every describe is batched (filters of up
to 200 ids, ECS 10 services per call) and the batches run concurrently in the
backend's bounded worker pool.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from backends.aws.arns import RESOURCE_TYPE_FILTERS, parse_arn, tags_to_dict
from backends.aws.clients import AwsClients
from backends.aws.error_mapping import error_code
from backends.aws.inventory_services import ServicesInventory, collect_services
from tui.core.errors import NotFound

_FILTER_CHUNK = 200
_STATUS_CHUNK = 100
_ECS_CHUNK = 10


@dataclass(slots=True)
class BucketRecord:
    name: str
    tags: dict[str, str]
    encryption: dict[str, Any] | None  # the default-encryption rule, or None when absent
    public_access_block: dict[str, bool] | None  # the four flags, or None when absent


@dataclass(slots=True)
class Inventory:
    tags_by_arn: dict[str, dict[str, str]] = field(default_factory=dict)
    instances: list[dict[str, Any]] = field(default_factory=list)
    instance_status: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: list[BucketRecord] = field(default_factory=list)
    db_instances: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    security_groups: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)  # alarms in ALARM (all of the region)
    tagged_alarm_names: set[str] = field(default_factory=set)
    apps: ServicesInventory = field(default_factory=ServicesInventory)  # Lambda, ELB, ASG, DynamoDB, SQS


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


async def tagged_arns(clients: AwsClients, tags: dict[str, str]) -> dict[str, dict[str, str]]:
    """ARN → tags of every resource carrying all of `tags` (tag filters are ANDed)."""
    mappings = await clients.paginate(
        "resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList",
        TagFilters=[{"Key": k, "Values": [v]} for k, v in tags.items()],
        ResourceTypeFilters=list(RESOURCE_TYPE_FILTERS),
    )
    return {m["ResourceARN"]: tags_to_dict(m.get("Tags")) for m in mappings}


async def collect_inventory(clients: AwsClients, tags: dict[str, str],
                            unavailable: set[str] | None = None) -> Inventory:
    """`unavailable`: optional operations found missing (no permission, not implemented) on
    earlier passes; grown in place, so the caller keeps it between passes."""
    inv = Inventory(tags_by_arn=await tagged_arns(clients, tags))
    ids: dict[str, list[str]] = defaultdict(list)
    for arn in inv.tags_by_arn:
        parsed = parse_arn(arn)
        if parsed is not None:
            ids[parsed.kind].append(parsed.native_id)
    inv.tagged_alarm_names = set(ids.get("cloudwatch-alarm", []))
    bucket_tags: dict[str, dict[str, str]] = {}
    for arn, arn_tags in inv.tags_by_arn.items():
        parsed = parse_arn(arn)
        if parsed is not None and parsed.kind == "s3-bucket":
            bucket_tags[parsed.native_id] = arn_tags

    (inv.instances, inv.security_groups, inv.volumes, inv.db_instances, inv.services, inv.buckets,
     inv.alarms, inv.apps) = await asyncio.gather(
        _describe_filtered(clients, "ec2", "describe_instances", "Reservations", "instance-id",
                           ids.get("ec2-instance", [])),
        _describe_filtered(clients, "ec2", "describe_security_groups", "SecurityGroups", "group-id",
                           ids.get("security-group", [])),
        _describe_filtered(clients, "ec2", "describe_volumes", "Volumes", "volume-id",
                           ids.get("ebs-volume", [])),
        _describe_filtered(clients, "rds", "describe_db_instances", "DBInstances", "db-instance-id",
                           ids.get("rds-instance", [])),
        _describe_services(clients, ids.get("ecs-service", [])),
        asyncio.gather(*(_describe_bucket(clients, name, t) for name, t in sorted(bucket_tags.items()))),
        clients.paginate("cloudwatch", "describe_alarms", "MetricAlarms", StateValue="ALARM"),
        collect_services(clients, tags, inv.tags_by_arn, set() if unavailable is None else unavailable),
    )
    inv.instances = [i for r in inv.instances for i in r.get("Instances", [])]
    inv.buckets = [b for b in inv.buckets if b is not None]
    live = [i["InstanceId"] for i in inv.instances
            if i.get("State", {}).get("Name") in ("pending", "running")]
    inv.instance_status = await _instance_status(clients, live)
    return inv


async def _describe_filtered(clients: AwsClients, service: str, method: str, key: str,
                             filter_name: str, ids: list[str]) -> list[dict[str, Any]]:
    """Describe by an id filter: ids that vanished since tagging listed them are simply absent
    (an `InstanceIds=[...]` list would fail the whole call instead)."""
    if not ids:
        return []
    pages = await asyncio.gather(*(
        clients.paginate(service, method, key, Filters=[{"Name": filter_name, "Values": chunk}])
        for chunk in _chunks(sorted(ids), _FILTER_CHUNK)))
    return [item for page in pages for item in page]


async def _instance_status(clients: AwsClients, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    async def one(chunk: list[str]) -> list[dict[str, Any]]:
        try:
            return await clients.paginate("ec2", "describe_instance_status", "InstanceStatuses",
                                          InstanceIds=chunk, IncludeAllInstances=True)
        except NotFound:  # an instance vanished between the two calls: its checks are unknown
            return []

    pages = await asyncio.gather(*(one(c) for c in _chunks(sorted(instance_ids), _STATUS_CHUNK)))
    return {s["InstanceId"]: s for page in pages for s in page}


async def _describe_services(clients: AwsClients, paths: list[str]) -> list[dict[str, Any]]:
    by_cluster: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        cluster, _, name = path.partition("/")
        by_cluster[cluster].append(name)

    async def one(cluster: str, names: list[str]) -> list[dict[str, Any]]:
        found = await clients.call("ecs", "describe_services", cluster=cluster, services=names,
                                   include=["TAGS"])
        for svc in found.get("services", []):
            svc["_cluster"] = cluster
        return found.get("services", [])

    pages = await asyncio.gather(*(one(cluster, chunk) for cluster, names in sorted(by_cluster.items())
                                   for chunk in _chunks(sorted(names), _ECS_CHUNK)))
    return [svc for page in pages for svc in page if svc.get("status") != "INACTIVE"]


async def _describe_bucket(clients: AwsClients, name: str, tags: dict[str, str]) -> BucketRecord | None:
    def optional(method: str, missing_code: str) -> dict[str, Any] | None:
        try:
            return getattr(clients.client("s3"), method)(Bucket=name)
        except ClientError as exc:
            if error_code(exc) == missing_code:
                return None
            raise

    def describe() -> BucketRecord | None:
        try:
            enc = optional("get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError")
            pab = optional("get_public_access_block", "NoSuchPublicAccessBlockConfiguration")
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket":  # deleted since the tagging API listed it
                return None
            raise
        rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules") or []
        flags = (pab or {}).get("PublicAccessBlockConfiguration")
        return BucketRecord(name=name, tags=tags, encryption=rules[0] if rules else None,
                            public_access_block=dict(flags) if flags is not None else None)

    return await clients.run("s3.GetBucketEncryption/GetPublicAccessBlock", describe)


