"""Lambda functions, load balancers, target groups, Auto Scaling groups, DynamoDB tables and SQS
queues → envdeck `Resource`s (ids `aws/KIND/NAME`).

Attributes are what an on-call engineer reads; never a function's environment variables, a
queue's policy or a launch template's user data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backends.aws import compliance, console_links, health_services
from backends.aws.arns import tags_to_dict
from backends.aws.inventory_services import FunctionRecord, QueueRecord, ServicesInventory
from tui.core.model import Health, Resource, resource_id


def _resource(kind: str, name: str, region: str, observed_at: datetime, health_and_reason: tuple[Health, str],
              status: str, attributes: dict[str, Any], *, console_url: str | None = None,
              created_at: datetime | None = None) -> Resource:
    h, reason = health_and_reason
    return Resource(
        id=resource_id("aws", kind, name), backend="aws", kind=kind, name=name, health=h, health_reason=reason,
        status=status, observed_at=observed_at, attributes=attributes, created_at=created_at,
        console_url=console_url or console_links.for_resource(region, kind, name))


def _name_of_arn(arn: str) -> str:
    """NAME of a load balancer (…:loadbalancer/app/NAME/ID) or target group (…:targetgroup/NAME/ID)."""
    parts = arn.rsplit(":", 1)[-1].split("/")
    return parts[-2] if len(parts) >= 3 else arn


def lambda_function(fn: FunctionRecord, region: str, observed_at: datetime) -> Resource:
    c = fn.configuration
    name = str(c.get("FunctionName"))
    attributes = {
        "function_arn": c.get("FunctionArn"),
        "runtime": c.get("Runtime"),
        "version": c.get("Version"),
        "code_sha256": c.get("CodeSha256"),
        "handler": c.get("Handler"),
        "package_type": c.get("PackageType"),
        "memory_mb": c.get("MemorySize"),
        "timeout_s": c.get("Timeout"),
        "architectures": c.get("Architectures") or [],
        "state": c.get("State"),
        "state_reason": c.get("StateReason"),
        "last_update_status": c.get("LastUpdateStatus"),
        "last_update_reason": c.get("LastUpdateStatusReason"),
        "last_modified": c.get("LastModified"),
        "reserved_concurrency": fn.reserved_concurrency,
        "function_url": (fn.url or {}).get("FunctionUrl"),
        "function_url_auth": (fn.url or {}).get("AuthType"),
        "role": c.get("Role"),
        "tags": fn.tags,
    }
    res = _resource("lambda-function", name, region, observed_at, health_services.lambda_function_health(c),
                    health_services.lambda_function_status(c), attributes)
    res.findings = compliance.lambda_function_findings(res.id, fn.url)
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def _listener_row(listener: dict[str, Any]) -> dict[str, Any]:
    actions = listener.get("DefaultActions") or []
    return {"protocol": listener.get("Protocol"), "port": listener.get("Port"),
            "tls": listener.get("Protocol") in ("HTTPS", "TLS"), "ssl_policy": listener.get("SslPolicy")
            if listener.get("Protocol") in ("HTTPS", "TLS") else None,
            "default_actions": [a.get("Type") for a in actions]}


def load_balancer(lb: dict[str, Any], target_groups: list[dict[str, Any]], region: str,
                  observed_at: datetime) -> Resource:
    arn = lb["LoadBalancerArn"]
    name = str(lb.get("LoadBalancerName") or _name_of_arn(arn))
    listeners = lb.get("_listeners") or []
    state = (lb.get("State") or {}).get("Code", "")
    attributes = {
        "arn": arn, "type": lb.get("Type"), "scheme": lb.get("Scheme"), "state": state,
        "dns_name": lb.get("DNSName"), "vpc_id": lb.get("VpcId"),
        "availability_zones": [z.get("ZoneName") for z in lb.get("AvailabilityZones") or []],
        "security_groups": list(lb.get("SecurityGroups") or []),
        "listeners": [_listener_row(li) for li in listeners],
        "target_groups": sorted(str(tg.get("TargetGroupName")) for tg in target_groups),
        "tags": lb.get("_tags") or {},
    }
    res = _resource("load-balancer", name, region, observed_at,
                    health_services.load_balancer_health(lb, target_groups),
                    health_services.load_balancer_status(lb, target_groups), attributes,
                    console_url=console_links.load_balancer(region, arn), created_at=lb.get("CreatedTime"))
    res.findings = compliance.load_balancer_findings(res.id, lb, listeners, lb.get("_security_groups"))
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def target_group(tg: dict[str, Any], lb_names: dict[str, str], region: str, observed_at: datetime) -> Resource:
    arn = tg["TargetGroupArn"]
    name = str(tg.get("TargetGroupName") or _name_of_arn(arn))
    targets = []
    for desc in tg.get("_targets") or []:
        health = desc.get("TargetHealth") or {}
        targets.append({"id": (desc.get("Target") or {}).get("Id"), "port": (desc.get("Target") or {}).get("Port"),
                        "state": health.get("State"), "reason": health.get("Reason"),
                        "description": health.get("Description")})
    attributes = {
        "arn": arn, "protocol": tg.get("Protocol"), "port": tg.get("Port"), "target_type": tg.get("TargetType"),
        "vpc_id": tg.get("VpcId"),
        "load_balancers": sorted(lb_names.get(a) or _name_of_arn(a) for a in tg.get("LoadBalancerArns") or []),
        "health_check": {"protocol": tg.get("HealthCheckProtocol"), "port": tg.get("HealthCheckPort"),
                         "path": tg.get("HealthCheckPath")},
        "targets": targets, "tags": tg.get("_tags") or {},
    }
    h = health_services.target_group_health(tg)
    return _resource("target-group", name, region, observed_at, h, health_services.target_group_status(tg), attributes,
                     console_url=console_links.target_group(region, arn))


def autoscaling_group(group: dict[str, Any], region: str, observed_at: datetime) -> Resource:
    name = str(group["AutoScalingGroupName"])
    instances = group.get("Instances") or []
    template = group.get("LaunchTemplate") or (group.get("MixedInstancesPolicy") or {}).get(
        "LaunchTemplate", {}).get("LaunchTemplateSpecification") or {}
    refresh = group.get("_refresh") or {}
    attributes = {
        "min_size": group.get("MinSize"), "max_size": group.get("MaxSize"),
        "desired_capacity": group.get("DesiredCapacity"),
        "in_service": sum(1 for i in instances if i.get("LifecycleState") == "InService"),
        "instances": [{"id": i.get("InstanceId"), "lifecycle_state": i.get("LifecycleState"),
                       "health_status": i.get("HealthStatus"), "availability_zone": i.get("AvailabilityZone")}
                      for i in instances],
        "launch_template": template.get("LaunchTemplateName") or group.get("LaunchConfigurationName"),
        "health_check_type": group.get("HealthCheckType"),
        "target_groups": sorted(_name_of_arn(a) for a in group.get("TargetGroupARNs") or []),
        "availability_zones": list(group.get("AvailabilityZones") or []),
        "instance_refresh": {"status": refresh.get("Status"), "percentage": refresh.get("PercentageComplete")}
        if refresh else None,
        "tags": tags_to_dict(group.get("Tags")),
    }
    h = health_services.autoscaling_group_health(group)
    return _resource("autoscaling-group", name, region, observed_at, h, health_services.autoscaling_group_status(group),
                     attributes, created_at=group.get("CreatedTime"))


def dynamodb_table(table: dict[str, Any], region: str, observed_at: datetime) -> Resource:
    name = str(table["TableName"])
    sse = table.get("SSEDescription") or {}
    attributes = {
        "arn": table.get("TableArn"), "status": table.get("TableStatus"),
        "billing_mode": (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED",
        "item_count": table.get("ItemCount"), "size_bytes": table.get("TableSizeBytes"),
        "encryption": sse.get("SSEType") or "AWS owned key", "kms_key": sse.get("KMSMasterKeyArn"),
        "deletion_protection": bool(table.get("DeletionProtectionEnabled")),
        "stream_enabled": bool((table.get("StreamSpecification") or {}).get("StreamEnabled")),
        "global_secondary_indexes": [{"name": i.get("IndexName"), "status": i.get("IndexStatus")}
                                     for i in table.get("GlobalSecondaryIndexes") or []],
        "tags": table.get("_tags") or {},
    }
    res = _resource("dynamodb-table", name, region, observed_at, health_services.dynamodb_table_health(table),
                    str(table.get("TableStatus", "")), attributes, created_at=table.get("CreationDateTime"))
    res.findings = compliance.dynamodb_table_findings(res.id, table)
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def sqs_queue(queue: QueueRecord, dead_letter_of: list[str], region: str, observed_at: datetime) -> Resource:
    a = queue.attributes
    encryption = "SSE-KMS" if a.get("KmsMasterKeyId") else \
        "SSE-SQS" if str(a.get("SqsManagedSseEnabled", "")).lower() == "true" else None
    attributes = {
        "url": queue.url, "arn": a.get("QueueArn"), "fifo": a.get("FifoQueue") == "true",
        "messages": health_services.queue_depth(queue),
        "messages_in_flight": _int(a.get("ApproximateNumberOfMessagesNotVisible")),
        "messages_delayed": _int(a.get("ApproximateNumberOfMessagesDelayed")),
        "visibility_timeout_s": _int(a.get("VisibilityTimeout")),
        "retention_s": _int(a.get("MessageRetentionPeriod")),
        "encryption": encryption,
        "dead_letter_queue": queue.dead_letter.name if queue.dead_letter else None,
        "dead_letter_messages": queue.dead_letter.messages if queue.dead_letter else None,
        "dead_letter_of": dead_letter_of,
        "tags": queue.tags,
    }
    res = _resource("sqs-queue", queue.name, region, observed_at, health_services.sqs_queue_health(queue),
                    health_services.sqs_queue_status(queue), attributes,
                    console_url=console_links.sqs_queue(region, queue.url))
    res.findings = compliance.sqs_queue_findings(res.id, a)
    res.assessed = True
    res.controls = compliance.controls_for(res.kind)
    return res


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def build_service_resources(apps: ServicesInventory, region: str, observed_at: datetime) -> list[Resource]:
    out = [lambda_function(fn, region, observed_at) for fn in apps.functions]
    lb_names = {lb["LoadBalancerArn"]: str(lb.get("LoadBalancerName")) for lb in apps.load_balancers}
    for lb in apps.load_balancers:
        attached = [tg for tg in apps.target_groups if lb["LoadBalancerArn"] in (tg.get("LoadBalancerArns") or [])]
        out.append(load_balancer(lb, attached, region, observed_at))
    out += [target_group(tg, lb_names, region, observed_at) for tg in apps.target_groups]
    out += [autoscaling_group(g, region, observed_at) for g in apps.autoscaling_groups]
    out += [dynamodb_table(t, region, observed_at) for t in apps.tables]
    sources: dict[str, list[str]] = {}
    for q in apps.queues:
        if q.dead_letter is not None:
            sources.setdefault(q.dead_letter.name, []).append(q.name)
    out += [sqs_queue(q, sorted(sources.get(q.name, [])), region, observed_at) for q in apps.queues]
    return out
