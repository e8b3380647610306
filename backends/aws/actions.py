"""The actions each AWS kind supports, and performing them.

The core checks the access policy and writes the audit row; this module only
lists what applies to a resource in its current state and makes the API call.
Repairs of drift reuse the same actions (see `desired_state`).
"""

from __future__ import annotations

from typing import Any

from backends.aws.clients import AwsClients
from tui.core.config import INT32_MAX
from tui.core.errors import InvalidRequest
from tui.core.model import ActionResult, ActionSpec, Resource, Role

SSE_DEFAULT = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
FULL_PUBLIC_ACCESS_BLOCK = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                            "BlockPublicPolicy": True, "RestrictPublicBuckets": True}

_SPECS = {
    "start": ActionSpec("start", "Start"),
    "stop": ActionSpec("stop", "Stop"),
    "reboot": ActionSpec("reboot", "Reboot"),
    "terminate": ActionSpec("terminate", "Terminate instance", role=Role.ADMIN, destructive=True),
    "shell": ActionSpec("shell", "Shell (ssh / SSM)", mutating=False),
    "scale": ActionSpec("scale", "Scale service", params=("desired_count",)),
    "force-new-deployment": ActionSpec("force-new-deployment", "Restart (force new deployment)"),
    "enable-encryption": ActionSpec("enable-encryption", "Enable default encryption (SSE-S3)", role=Role.ADMIN),
    "disable-encryption": ActionSpec("disable-encryption", "Remove default encryption", role=Role.ADMIN,
                                     destructive=True),
    "block-public-access": ActionSpec("block-public-access", "Block all public access", role=Role.ADMIN),
    "unblock-public-access": ActionSpec("unblock-public-access", "Remove the public access block",
                                        role=Role.ADMIN, destructive=True),
    "set-desired-capacity": ActionSpec("set-desired-capacity", "Set desired capacity",
                                       params=("desired_capacity",)),
    "set-concurrency": ActionSpec("set-concurrency", "Set reserved concurrency", params=("reserved_concurrency",)),
    "purge": ActionSpec("purge", "Purge all messages", role=Role.ADMIN, destructive=True),
}
# Other names users type for the same action.
ALIASES = {"restart": "force-new-deployment", "redeploy": "force-new-deployment"}


def specs_for(resource: Resource) -> list[ActionSpec]:
    a = resource.attributes
    names: list[str] = []
    if resource.kind == "ec2-instance":
        state = a.get("state")
        if state == "stopped":
            names.append("start")
        if state in ("running", "pending"):
            names += ["stop", "reboot"] if state == "running" else ["stop"]
        if state == "running":
            names.append("shell")
        if state not in ("terminated", "shutting-down", None):
            names.append("terminate")
    elif resource.kind == "ecs-service":
        names = ["scale", "force-new-deployment"]
    elif resource.kind == "rds-instance":
        status = a.get("status")
        names = ["start"] if status == "stopped" else ["stop", "reboot"] if status == "available" else []
    elif resource.kind == "s3-bucket":
        names.append("disable-encryption" if a.get("encryption") else "enable-encryption")
        names.append("unblock-public-access" if a.get("public_access_blocked") else "block-public-access")
    elif resource.kind in _SERVICE_ACTIONS and not a.get("placeholder"):
        names = sorted(_SERVICE_ACTIONS[resource.kind])
    return [_SPECS[n] for n in names]


_SERVICE_ACTIONS = {"autoscaling-group": {"set-desired-capacity"}, "lambda-function": {"set-concurrency"},
                    "sqs-queue": {"purge"}}


def _native_id(resource: Resource) -> str:
    return resource.id.split("/", 2)[2]


def _desired_count(params: dict[str, str]) -> int:
    raw = params.get("desired_count")
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        raise InvalidRequest(f"scale needs desired_count=N (a whole number), got {raw!r}",
                             backend="aws") from None
    if value < 0:
        raise InvalidRequest("desired_count must be 0 or more", backend="aws")
    return value



def _whole(params: dict[str, str], name: str, low: int, high: int, what: str) -> int:
    """A whole-number parameter within [low, high], or InvalidRequest naming it."""
    raw = params.get(name)
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise InvalidRequest(f"{what} needs {name}=N (a whole number), got {raw!r}", backend="aws") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}{_range_note(what)}, got {value}",
                             backend="aws")
    return value


def _range_note(what: str) -> str:
    return " (the group's min and max size)" if what == "set-desired-capacity" else ""


async def _perform_service(clients: AwsClients, resource: Resource, action: str,
                           params: dict[str, str]) -> dict[str, Any]:
    a = resource.attributes
    native = _native_id(resource)
    if resource.kind == "autoscaling-group":
        low, high = int(a.get("min_size") or 0), int(a.get("max_size") if a.get("max_size") is not None
                                                      else INT32_MAX)
        count = _whole(params, "desired_capacity", low, min(high, INT32_MAX), action)
        await clients.call("autoscaling", "set_desired_capacity", AutoScalingGroupName=native,
                           DesiredCapacity=count, HonorCooldown=False)
        return {"desired_capacity": count}
    if resource.kind == "lambda-function":
        count = _whole(params, "reserved_concurrency", 0, INT32_MAX, action)
        answer = await clients.call("lambda", "put_function_concurrency", FunctionName=native,
                                    ReservedConcurrentExecutions=count)
        return {"reserved_concurrency": answer.get("ReservedConcurrentExecutions", count)}
    # purge (sqs-queue): deletes every message; AWS allows one purge per queue a minute
    await clients.call("sqs", "purge_queue", QueueUrl=str(a.get("url") or ""))
    return {"purged": a.get("messages")}


async def perform(clients: AwsClients, resource: Resource, action: str,
                  params: dict[str, str]) -> ActionResult:
    action = ALIASES.get(action, action)
    allowed = {"ec2-instance": {"start", "stop", "reboot", "terminate"},
               "ecs-service": {"scale", "force-new-deployment"},
               "rds-instance": {"start", "stop", "reboot"},
               "s3-bucket": {"enable-encryption", "disable-encryption", "block-public-access",
                             "unblock-public-access"}, **_SERVICE_ACTIONS}.get(resource.kind, set())
    if action not in allowed:
        raise InvalidRequest(f"{resource.id} does not support {action!r}", backend="aws")
    native = _native_id(resource)
    data: dict[str, Any] = {}
    if resource.kind in _SERVICE_ACTIONS:
        data = await _perform_service(clients, resource, action, params)
    elif resource.kind == "ec2-instance":
        method = {"start": "start_instances", "stop": "stop_instances", "reboot": "reboot_instances",
                  "terminate": "terminate_instances"}[action]
        answer = await clients.call("ec2", method, InstanceIds=[native])
        changes = answer.get("StartingInstances") or answer.get("StoppingInstances") or \
            answer.get("TerminatingInstances") or []
        if changes:
            data["state"] = changes[0].get("CurrentState", {}).get("Name")
    elif resource.kind == "ecs-service":
        cluster, _, service = native.partition("/")
        if action == "scale":
            count = _desired_count(params)
            await clients.call("ecs", "update_service", cluster=cluster, service=service, desiredCount=count)
            data["desired_count"] = count
        else:
            await clients.call("ecs", "update_service", cluster=cluster, service=service,
                               forceNewDeployment=True)
    elif resource.kind == "rds-instance":
        method = {"start": "start_db_instance", "stop": "stop_db_instance", "reboot": "reboot_db_instance"}[action]
        answer = await clients.call("rds", method, DBInstanceIdentifier=native)
        data["status"] = (answer.get("DBInstance") or {}).get("DBInstanceStatus")
    else:
        if action == "enable-encryption":
            await clients.call("s3", "put_bucket_encryption", Bucket=native,
                               ServerSideEncryptionConfiguration=SSE_DEFAULT)
        elif action == "disable-encryption":
            await clients.call("s3", "delete_bucket_encryption", Bucket=native)
        elif action == "block-public-access":
            await clients.call("s3", "put_public_access_block", Bucket=native,
                               PublicAccessBlockConfiguration=FULL_PUBLIC_ACCESS_BLOCK)
        else:
            await clients.call("s3", "delete_public_access_block", Bucket=native)
    suffix = f" ({', '.join(f'{k}: {v}' for k, v in data.items() if v is not None)})" if data else ""
    return ActionResult(ok=True, message=f"{action} requested for {resource.id}{suffix}", data=data)
