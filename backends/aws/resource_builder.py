"""Native AWS records → envdeck `Resource`s (id, health, status, findings, console link).

Attributes are a curated subset of the describe output: what an on-call engineer
reads (addresses, counts, settings) and nothing secret (no user data, no task
definition environment, no credentials).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backends.aws import compliance, console_links, health
from backends.aws.arns import tags_to_dict
from backends.aws.inventory import BucketRecord, Inventory
from backends.aws.resource_builder_services import build_service_resources
from tui.core.model import Resource, resource_id

LOG_GROUP_TAG = "envdeck:log-group"


def _resource(kind: str, native_id: str, name: str, region: str, observed_at: datetime,
              health_and_reason: tuple[Any, str], status: str, attributes: dict[str, Any],
              created_at: datetime | None = None) -> Resource:
    h, reason = health_and_reason
    return Resource(
        id=resource_id("aws", kind, native_id), backend="aws", kind=kind, name=name, health=h,
        health_reason=reason, status=status, observed_at=observed_at,
        console_url=console_links.for_resource(region, kind, native_id), attributes=attributes,
        created_at=created_at,
    )


def status_check_conditions(status: dict[str, Any]) -> list[dict[str, str]]:
    """EC2 system and instance status checks as conditions (the detail's shape, as
    Kubernetes': type, status True/False, reason, message): `impaired` with the failed
    check (`reachability: failed`) reads like `kubectl describe`'s Ready False."""
    out = []
    for key, label in (("SystemStatus", "SystemStatusCheck"), ("InstanceStatus", "InstanceStatusCheck")):
        check = status.get(key) or {}
        value = check.get("Status")
        if not value:
            continue
        failed = [f"{d.get('Name')}: {d.get('Status')}" for d in check.get("Details") or []
                  if d.get("Status") not in (None, "passed")]
        cond = {"type": label, "status": "True" if value == "ok" else "False", "reason": value}
        if failed:
            cond["message"] = "; ".join(failed)
        out.append(cond)
    return out


def ec2_instance(inst: dict[str, Any], status: dict[str, Any] | None, region: str,
                 observed_at: datetime) -> Resource:
    iid = inst["InstanceId"]
    tags = tags_to_dict(inst.get("Tags"))
    state = inst.get("State", {}).get("Name", "")
    checks = {}
    conditions = []
    if status:
        checks = {"system": status.get("SystemStatus", {}).get("Status"),
                  "instance": status.get("InstanceStatus", {}).get("Status")}
        conditions = status_check_conditions(status)
    attributes = {
        "instance_id": iid,
        "instance_type": inst.get("InstanceType"),
        "state": state,
        "availability_zone": inst.get("Placement", {}).get("AvailabilityZone"),
        "private_ip": inst.get("PrivateIpAddress"),
        "public_ip": inst.get("PublicIpAddress"),
        "private_dns": inst.get("PrivateDnsName") or None,
        "public_dns": inst.get("PublicDnsName") or None,
        "image_id": inst.get("ImageId"),
        "vpc_id": inst.get("VpcId"),
        "subnet_id": inst.get("SubnetId"),
        "key_name": inst.get("KeyName"),
        "security_groups": [g.get("GroupId") for g in inst.get("SecurityGroups") or []],
        "metadata_http_tokens": (inst.get("MetadataOptions") or {}).get("HttpTokens"),
        "status_checks": checks,
        "tags": tags,
    }
    if conditions:
        attributes["conditions"] = conditions
    res = _resource("ec2-instance", iid, tags.get("Name") or iid, region, observed_at,
                    health.ec2_instance_health(inst, status), state, attributes,
                    created_at=inst.get("LaunchTime"))
    res.findings = compliance.ec2_instance_findings(res.id, inst)
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def s3_bucket(bucket: BucketRecord, region: str, observed_at: datetime) -> Resource:
    pab = bucket.public_access_block
    attributes = {
        "encryption": bucket.encryption is not None,
        "encryption_algorithm": ((bucket.encryption or {}).get("ApplyServerSideEncryptionByDefault") or {})
        .get("SSEAlgorithm"),
        "public_access_blocked": pab is not None and all(pab.get(f) for f in compliance.PUBLIC_ACCESS_FLAGS),
        "public_access_block": pab,
        "tags": bucket.tags,
    }
    res = _resource("s3-bucket", bucket.name, bucket.name, region, observed_at,
                    (health.Health.HEALTHY, "exists"), "exists", attributes)
    res.findings = compliance.s3_bucket_findings(res.id, bucket.encryption, pab)
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def rds_instance(db: dict[str, Any], region: str, observed_at: datetime) -> Resource:
    dbid = db["DBInstanceIdentifier"]
    endpoint = db.get("Endpoint") or {}
    attributes = {
        "engine": db.get("Engine"),
        "engine_version": db.get("EngineVersion"),
        "instance_class": db.get("DBInstanceClass"),
        "status": db.get("DBInstanceStatus"),
        "address": endpoint.get("Address"),
        "port": endpoint.get("Port"),
        "multi_az": db.get("MultiAZ"),
        "publicly_accessible": bool(db.get("PubliclyAccessible")),
        "storage_encrypted": bool(db.get("StorageEncrypted")),
        "allocated_storage_gb": db.get("AllocatedStorage"),
        "tags": tags_to_dict(db.get("TagList")),
    }
    res = _resource("rds-instance", dbid, dbid, region, observed_at, health.rds_instance_health(db),
                    db.get("DBInstanceStatus", ""), attributes, created_at=db.get("InstanceCreateTime"))
    res.findings = compliance.rds_instance_findings(res.id, db)
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def ecs_service(svc: dict[str, Any], region: str, observed_at: datetime) -> Resource:
    cluster = svc["_cluster"]
    name = svc["serviceName"]
    primary = next((d for d in svc.get("deployments") or [] if d.get("status") == "PRIMARY"), {})
    attributes = {
        "cluster": cluster,
        "service": name,
        "desired_count": svc.get("desiredCount"),
        "running_count": svc.get("runningCount"),
        "pending_count": svc.get("pendingCount"),
        "task_definition": svc.get("taskDefinition"),
        "launch_type": svc.get("launchType"),
        "rollout_state": primary.get("rolloutState"),
        "deployments": len(svc.get("deployments") or []),
        "tags": tags_to_dict(svc.get("tags")),
    }
    return _resource("ecs-service", f"{cluster}/{name}", name, region, observed_at,
                     health.ecs_service_health(svc), svc.get("status", ""), attributes,
                     created_at=svc.get("createdAt"))


def security_group(group: dict[str, Any], region: str, observed_at: datetime) -> Resource:
    gid = group["GroupId"]
    ingress = []
    for perm in group.get("IpPermissions") or []:
        sources = [r.get("CidrIp") for r in perm.get("IpRanges") or []]
        sources += [r.get("CidrIpv6") for r in perm.get("Ipv6Ranges") or []]
        sources += [p.get("GroupId") for p in perm.get("UserIdGroupPairs") or []]
        ingress.append({"protocol": perm.get("IpProtocol"), "from_port": perm.get("FromPort"),
                        "to_port": perm.get("ToPort"), "sources": [s for s in sources if s]})
    attributes = {"group_id": gid, "group_name": group.get("GroupName"), "vpc_id": group.get("VpcId"),
                  "description": group.get("Description"), "ingress": ingress,
                  "tags": tags_to_dict(group.get("Tags"))}
    res = _resource("security-group", gid, group.get("GroupName") or gid, region, observed_at,
                    (health.Health.HEALTHY, "exists"), "exists", attributes)
    res.findings = compliance.security_group_findings(res.id, group)
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def ebs_volume(volume: dict[str, Any], region: str, observed_at: datetime) -> Resource:
    vid = volume["VolumeId"]
    tags = tags_to_dict(volume.get("Tags"))
    attributes = {
        "volume_id": vid, "size_gb": volume.get("Size"), "volume_type": volume.get("VolumeType"),
        "state": volume.get("State"), "encrypted": bool(volume.get("Encrypted")),
        "availability_zone": volume.get("AvailabilityZone"),
        "attached_to": [a.get("InstanceId") for a in volume.get("Attachments") or []], "tags": tags,
    }
    res = _resource("ebs-volume", vid, tags.get("Name") or vid, region, observed_at,
                    health.ebs_volume_health(volume), volume.get("State", ""), attributes,
                    created_at=volume.get("CreateTime"))
    res.findings = compliance.ebs_volume_findings(res.id, volume)
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def build_resources(inv: Inventory, region: str, observed_at: datetime) -> list[Resource]:
    out: list[Resource] = []
    for inst in inv.instances:
        if inst.get("State", {}).get("Name") == "terminated":
            continue  # listed by tagging for a while after termination; gone for the user
        out.append(ec2_instance(inst, inv.instance_status.get(inst["InstanceId"]), region, observed_at))
    out += [s3_bucket(b, region, observed_at) for b in inv.buckets]
    out += [rds_instance(db, region, observed_at) for db in inv.db_instances]
    out += [ecs_service(s, region, observed_at) for s in inv.services]
    out += [security_group(g, region, observed_at) for g in inv.security_groups]
    out += [ebs_volume(v, region, observed_at) for v in inv.volumes]
    out += build_service_resources(inv.apps, region, observed_at)
    out.sort(key=lambda r: (r.kind, r.name, r.id))
    return out
