"""Sleep and wake of an environment's AWS part: EC2 instances stopped, ECS services at desired
count 0, and back. Only the things of this environment instance are touched (`OwnerTags.owns`:
the env name AND the `envdeck:instance` id), ECS services as well as EC2 instances.

Memory is keyed by the observing backend's resource ids (`aws/ec2-instance/i-…`,
`aws/ecs-service/CLUSTER/NAME`): `{"state": "running"}` and `{"desired_count": N}`.
Before stopping or scaling down, the value is also written onto the resource as a tag
(`envdeck:asleep`), so a sleep interrupted after its calls and before the engine stored
the memory still remembers them when it runs again (the instances are stopped by then,
the services at 0: without the tag they would look as if they had always been).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from backends.aws.arns import parse_arn, tags_to_dict
from backends.aws.clients import AwsClients
from backends.aws.provision_kinds import LIVE_INSTANCE_STATES, OwnerTags, call_unless
from tui.core.lifecycle.records import AWS_ENV_TAG
from tui.core.model import resource_id

ASLEEP_TAG = "envdeck:asleep"
_ECS_CHUNK = 10
_WAIT = {"Delay": 5, "MaxAttempts": 60}


async def sleep(clients: AwsClients, owner: OwnerTags) -> dict[str, dict[str, Any]]:
    memory: dict[str, dict[str, Any]] = {}
    await _stop_instances(clients, owner, memory)
    await _scale_down_services(clients, owner, memory)
    return memory


async def wake(clients: AwsClients, memory: dict[str, dict[str, Any]]) -> None:
    instances: list[str] = []
    services: list[tuple[str, str, int]] = []
    for rid, fields in sorted(memory.items()):
        _backend, kind, native = (rid.split("/", 2) + ["", ""])[:3]
        if kind == "ec2-instance" and fields.get("state") == "running":
            instances.append(native)
        elif kind == "ecs-service" and "desired_count" in fields:
            cluster, _, name = native.partition("/")
            services.append((cluster, name, int(fields["desired_count"])))
    await _start_instances(clients, instances)
    for cluster, name, count in services:
        await _restore_service(clients, cluster, name, count)


# -- EC2 ----------------------------------------------------------------------------------------

async def _stop_instances(clients: AwsClients, owner: OwnerTags, memory: dict[str, dict[str, Any]]) -> None:
    reservations = await clients.paginate("ec2", "describe_instances", "Reservations", Filters=[
        *owner.filters(), {"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)}])
    # only this environment instance's (a thing merely tagged with its name is left alone)
    instances = [i for r in reservations for i in r.get("Instances", []) if owner.owns(tags_to_dict(i.get("Tags")))]
    to_stop: list[str] = []
    pending: list[str] = []
    for inst in instances:
        iid = inst["InstanceId"]
        state = inst.get("State", {}).get("Name")
        if state in ("pending", "running") or tags_to_dict(inst.get("Tags")).get(ASLEEP_TAG) == "running":
            memory[resource_id("aws", "ec2-instance", iid)] = {"state": "running"}
        if state in ("pending", "running"):
            to_stop.append(iid)
            if state == "pending":
                pending.append(iid)
    if not to_stop:
        return
    await clients.call("ec2", "create_tags", Resources=to_stop, Tags=[{"Key": ASLEEP_TAG, "Value": "running"}])
    if pending:  # EC2 cannot stop a pending instance
        await clients.run("ec2.wait_instance_running", lambda: clients.client("ec2").get_waiter(
            "instance_running").wait(InstanceIds=pending, WaiterConfig=_WAIT))
    await clients.call("ec2", "stop_instances", InstanceIds=to_stop)


async def _start_instances(clients: AwsClients, instance_ids: list[str]) -> None:
    if not instance_ids:
        return
    reservations = await clients.paginate("ec2", "describe_instances", "Reservations", Filters=[
        {"Name": "instance-id", "Values": instance_ids}])
    states = {i["InstanceId"]: i.get("State", {}).get("Name") for r in reservations for i in r.get("Instances", [])}
    stopping = [i for i, s in states.items() if s == "stopping"]
    if stopping:  # EC2 cannot start an instance that is still stopping
        await clients.run("ec2.wait_instance_stopped", lambda: clients.client("ec2").get_waiter(
            "instance_stopped").wait(InstanceIds=stopping, WaiterConfig=_WAIT))
    to_start = sorted(i for i, s in states.items() if s in ("stopped", "stopping"))
    if to_start:
        await clients.call("ec2", "start_instances", InstanceIds=to_start)
    live = sorted(i for i, s in states.items() if s not in ("terminated", "shutting-down"))
    if live:  # terminated or vanished instances cannot be restored; the step health says so
        await clients.call("ec2", "delete_tags", Resources=live, Tags=[{"Key": ASLEEP_TAG}])


# -- ECS ----------------------------------------------------------------------------------------

async def _scale_down_services(clients: AwsClients, owner: OwnerTags,
                               memory: dict[str, dict[str, Any]]) -> None:
    mappings = await clients.paginate("resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList",
                                      TagFilters=[{"Key": AWS_ENV_TAG, "Values": [owner.env]}],
                                      ResourceTypeFilters=["ecs:service"])
    by_cluster: dict[str, list[str]] = defaultdict(list)
    for m in mappings:
        parsed = parse_arn(m["ResourceARN"])
        if parsed is not None and parsed.kind == "ecs-service":
            cluster, _, name = parsed.native_id.partition("/")
            by_cluster[cluster].append(name)
    described = await asyncio.gather(*(
        clients.call("ecs", "describe_services", cluster=cluster, services=names[i:i + _ECS_CHUNK], include=["TAGS"])
        for cluster, names in sorted(by_cluster.items()) for i in range(0, len(names), _ECS_CHUNK)))
    for answer in described:
        for svc in answer.get("services", []):
            tags = tags_to_dict(svc.get("tags"))
            # only this environment instance's, as for EC2: a service merely tagged with the name (or
            # with another instance's id) is neither scaled down nor has its asleep tag believed
            if svc.get("status") == "INACTIVE" or not owner.owns(tags):
                continue
            cluster = svc["clusterArn"].rsplit("/", 1)[-1]
            rid = resource_id("aws", "ecs-service", f"{cluster}/{svc['serviceName']}")
            desired = int(svc.get("desiredCount") or 0)
            remembered = tags.get(ASLEEP_TAG)
            if desired > 0:
                memory[rid] = {"desired_count": desired}
                await clients.call("ecs", "tag_resource", resourceArn=svc["serviceArn"],
                                   tags=[{"key": ASLEEP_TAG, "value": str(desired)}])
                await clients.call("ecs", "update_service", cluster=cluster, service=svc["serviceName"],
                                   desiredCount=0)
            elif remembered is not None and remembered.isdigit():
                memory[rid] = {"desired_count": int(remembered)}


async def _restore_service(clients: AwsClients, cluster: str, name: str, count: int) -> None:
    answer = await call_unless(clients, ("ServiceNotFoundException", "ServiceNotActiveException",
                                         "ClusterNotFoundException"),
                               "ecs", "update_service", cluster=cluster, service=name, desiredCount=count)
    if answer is not None:
        await clients.call("ecs", "untag_resource", resourceArn=answer["service"]["serviceArn"],
                           tagKeys=[ASLEEP_TAG])
