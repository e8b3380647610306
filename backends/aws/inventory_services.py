"""Inventory of the application services an environment runs on: Lambda functions, ALB/NLB load
balancers with their listeners, target groups and target health, Auto Scaling groups, DynamoDB
tables and SQS queues.

Membership is by the environment's tags like the other kinds: the tagging API lists functions,
load balancers, target groups, tables and queues; Auto Scaling groups (which the tagging API's
GetResources does not cover) come from `describe_auto_scaling_groups` with `tag:` filters.
Batched where the API allows: load balancers and target groups are listed region-wide in pages
of 400 and matched by ARN (no call per name, and one that vanished since tagging listed it is
simply absent), queue URLs come from one paginated `list_queues`. The rest has no batch form
(GetFunction, GetFunctionUrlConfig, DescribeListeners, DescribeTargetHealth, DescribeTable,
GetQueueAttributes, DescribeInstanceRefreshes): those calls run concurrently in the backend's
bounded worker pool.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from backends.aws.arns import parse_arn
from backends.aws.clients import AwsClients
from tui.core.errors import BackendDenied, BackendError, NotFound

T = TypeVar("T")


@dataclass(slots=True)
class FunctionRecord:
    configuration: dict[str, Any]
    reserved_concurrency: int | None
    url: dict[str, Any] | None  # the unqualified function URL's config, None when it has none
    tags: dict[str, str]


@dataclass(slots=True)
class DeadLetterQueue:
    name: str
    messages: int | None  # None when its attributes could not be read


@dataclass(slots=True)
class QueueRecord:
    name: str
    url: str
    attributes: dict[str, str]
    tags: dict[str, str]
    dead_letter: DeadLetterQueue | None = None


@dataclass(slots=True)
class ServicesInventory:
    functions: list[FunctionRecord] = field(default_factory=list)
    load_balancers: list[dict[str, Any]] = field(default_factory=list)  # + "_listeners", "_tags"
    target_groups: list[dict[str, Any]] = field(default_factory=list)  # + "_targets", "_tags"
    autoscaling_groups: list[dict[str, Any]] = field(default_factory=list)  # + "_refresh"
    tables: list[dict[str, Any]] = field(default_factory=list)  # + "_tags"
    queues: list[QueueRecord] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)  # services the credentials may not describe


# Optional details whose failure (no permission, an endpoint without the operation) leaves the
# detail unknown instead of failing the inventory; such an operation is not asked again.
_OPTIONAL = "autoscaling.describe_instance_refreshes"


async def collect_services(clients: AwsClients, tags: dict[str, str], tags_by_arn: dict[str, dict[str, str]],
                           unavailable: set[str]) -> ServicesInventory:
    arns: dict[str, dict[str, dict[str, str]]] = {}
    for arn, arn_tags in tags_by_arn.items():
        parsed = parse_arn(arn)
        if parsed is not None:
            arns.setdefault(parsed.kind, {})[arn] = arn_tags
    out = ServicesInventory()

    async def allowed(label: str, work: Awaitable[T], empty: T) -> T:
        """A service the credentials may not describe is skipped (its kinds absent, named in
        `denied` for `envdeck doctor`) rather than failing the whole inventory."""
        try:
            return await work
        except BackendDenied:
            out.denied.append(label)
            return empty

    (out.functions, (out.load_balancers, out.target_groups), out.autoscaling_groups, out.tables,
     out.queues) = await asyncio.gather(
        allowed("lambda (functions)", _functions(clients, arns.get("lambda-function", {})), []),
        allowed("elasticloadbalancing (load balancers, target groups)",
                _load_balancers(clients, arns.get("load-balancer", {}), arns.get("target-group", {})), ([], [])),
        allowed("autoscaling (groups)", _autoscaling_groups(clients, tags, unavailable), []),
        allowed("dynamodb (tables)", _tables(clients, arns.get("dynamodb-table", {})), []),
        allowed("sqs (queues)", _queues(clients, arns.get("sqs-queue", {})), []),
    )
    out.denied.sort()
    return out


async def _functions(clients: AwsClients, arns: dict[str, dict[str, str]]) -> list[FunctionRecord]:
    async def one(name: str, arn_tags: dict[str, str]) -> FunctionRecord | None:
        try:
            answer, url = await asyncio.gather(
                clients.call("lambda", "get_function", FunctionName=name),
                _optional_url(clients, name))
        except NotFound:  # deleted since the tagging API listed it
            return None
        concurrency = (answer.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
        return FunctionRecord(configuration=answer.get("Configuration") or {}, reserved_concurrency=concurrency,
                              url=url, tags=dict(answer.get("Tags") or arn_tags))

    names = sorted({parse_arn(arn).native_id: t for arn, t in arns.items()}.items())  # type: ignore[union-attr]
    found = await asyncio.gather(*(one(name, t) for name, t in names))
    return [f for f in found if f is not None]


async def _optional_url(clients: AwsClients, name: str) -> dict[str, Any] | None:
    try:
        answer = await clients.call("lambda", "get_function_url_config", FunctionName=name)
    except NotFound:
        return None
    answer.pop("ResponseMetadata", None)
    return answer


async def _load_balancers(clients: AwsClients, lb_arns: dict[str, dict[str, str]],
                          tg_arns: dict[str, dict[str, str]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not lb_arns and not tg_arns:
        return [], []
    all_lbs, all_tgs = await asyncio.gather(
        clients.paginate("elbv2", "describe_load_balancers", "LoadBalancers") if lb_arns else _nothing(),
        clients.paginate("elbv2", "describe_target_groups", "TargetGroups"))
    lbs = [lb for lb in all_lbs if lb.get("LoadBalancerArn") in lb_arns]
    lb_set = {lb["LoadBalancerArn"] for lb in lbs}
    # a target group is the environment's when tagged, or when one of its load balancers is
    tgs = [tg for tg in all_tgs if tg.get("TargetGroupArn") in tg_arns
           or lb_set.intersection(tg.get("LoadBalancerArns") or [])]

    async def listeners(lb: dict[str, Any]) -> None:
        try:
            lb["_listeners"] = await clients.paginate("elbv2", "describe_listeners", "Listeners",
                                                      LoadBalancerArn=lb["LoadBalancerArn"])
        except NotFound:
            lb["_listeners"] = []
        lb["_tags"] = lb_arns.get(lb["LoadBalancerArn"], {})

    async def targets(tg: dict[str, Any]) -> None:
        try:
            answer = await clients.call("elbv2", "describe_target_health", TargetGroupArn=tg["TargetGroupArn"])
            tg["_targets"] = answer.get("TargetHealthDescriptions") or []
        except NotFound:
            tg["_targets"] = []
        tg["_tags"] = tg_arns.get(tg["TargetGroupArn"], {})

    group_ids = sorted({g for lb in lbs for g in lb.get("SecurityGroups") or []})
    *_, groups = await asyncio.gather(*(listeners(lb) for lb in lbs), *(targets(tg) for tg in tgs),
                                      _security_groups(clients, group_ids))
    by_id = {g["GroupId"]: g for g in groups}
    for lb in lbs:  # the rules of its groups, for the open-listener compliance rule
        lb["_security_groups"] = [by_id[g] for g in lb.get("SecurityGroups") or [] if g in by_id]
    return lbs, tgs


async def _security_groups(clients: AwsClients, group_ids: list[str]) -> list[dict[str, Any]]:
    pages = await asyncio.gather(*(
        clients.paginate("ec2", "describe_security_groups", "SecurityGroups",
                         Filters=[{"Name": "group-id", "Values": group_ids[i:i + 200]}])
        for i in range(0, len(group_ids), 200)))
    return [g for page in pages for g in page]


async def _nothing() -> list[Any]:
    return []


async def _autoscaling_groups(clients: AwsClients, tags: dict[str, str], unavailable: set[str]) -> list[dict[str, Any]]:
    groups = await clients.paginate(
        "autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups",
        Filters=[{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()])

    async def refresh(group: dict[str, Any]) -> None:
        group["_refresh"] = None
        if _OPTIONAL in unavailable:
            return
        try:
            answer = await clients.call("autoscaling", "describe_instance_refreshes",
                                        AutoScalingGroupName=group["AutoScalingGroupName"], MaxRecords=1)
        except NotFound:
            return
        except BackendDenied:
            unavailable.add(_OPTIONAL)
            return
        except BackendError as exc:
            if "ResponseParserError" in str(exc):  # an endpoint without the operation (moto: HTML 500)
                unavailable.add(_OPTIONAL)
            return  # throttled or unavailable this time: unknown this pass, asked again next
        found = answer.get("InstanceRefreshes") or []
        group["_refresh"] = found[0] if found else None

    await asyncio.gather(*(refresh(g) for g in groups))
    return groups


async def _tables(clients: AwsClients, arns: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    async def one(name: str, arn_tags: dict[str, str]) -> dict[str, Any] | None:
        try:
            table = (await clients.call("dynamodb", "describe_table", TableName=name)).get("Table") or {}
        except NotFound:
            return None
        table["_tags"] = arn_tags
        return table

    names = sorted({parse_arn(arn).native_id: t for arn, t in arns.items()}.items())  # type: ignore[union-attr]
    return [t for t in await asyncio.gather(*(one(n, t) for n, t in names)) if t is not None]


async def _queues(clients: AwsClients, arns: dict[str, dict[str, str]]) -> list[QueueRecord]:
    if not arns:
        return []
    # without MaxResults ListQueues stops at 1000 queues and gives no NextToken: ask for pages
    urls = {url.rstrip("/").rsplit("/", 1)[-1]: url
            for url in await clients.paginate("sqs", "list_queues", "QueueUrls",
                                              PaginationConfig={"PageSize": 1000})}

    async def attributes(url: str) -> dict[str, str] | None:
        try:
            answer = await clients.call("sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])
        except NotFound:
            return None
        return dict(answer.get("Attributes") or {})

    names = sorted({parse_arn(arn).native_id: t for arn, t in arns.items()}.items())  # type: ignore[union-attr]
    names = [(n, t) for n, t in names if n in urls]
    found = await asyncio.gather(*(attributes(urls[n]) for n, _ in names))
    queues = [QueueRecord(name=n, url=urls[n], attributes=a, tags=t)
              for (n, t), a in zip(names, found, strict=True) if a is not None]
    by_name = {q.name: q for q in queues}
    # dead-letter queues named by a redrive policy: their depth, read once each
    dlq_names = sorted({d for q in queues if (d := dead_letter_name(q.attributes))})
    missing = [n for n in dlq_names if n not in by_name and n in urls]
    extra = dict(zip(missing, await asyncio.gather(*(attributes(urls[n]) for n in missing)), strict=True))
    for q in queues:
        name = dead_letter_name(q.attributes)
        if not name:
            continue
        attrs = by_name[name].attributes if name in by_name else extra.get(name)
        q.dead_letter = DeadLetterQueue(name=name, messages=_int(attrs.get("ApproximateNumberOfMessages"))
                                        if attrs else None)
    return queues


def dead_letter_name(attributes: dict[str, str]) -> str | None:
    """The dead-letter queue's name from a queue's RedrivePolicy (JSON text), or None."""
    raw = attributes.get("RedrivePolicy")
    if not raw:
        return None
    try:
        target = str(json.loads(raw).get("deadLetterTargetArn") or "")
    except (ValueError, AttributeError):
        return None
    parsed = parse_arn(target)
    return parsed.native_id if parsed is not None and parsed.kind == "sqs-queue" else None


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
