"""The actions each AWS kind supports, and performing them.

The core checks the access policy and writes the audit row; this module only
lists what applies to a resource in its current state and makes the API call.
Repairs of drift reuse the same actions (see `desired_state`).
"""

from __future__ import annotations

from typing import Any

from backends.aws.clients import AwsClients
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
    return [_SPECS[n] for n in names]


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


async def perform(clients: AwsClients, resource: Resource, action: str,
                  params: dict[str, str]) -> ActionResult:
    action = ALIASES.get(action, action)
    allowed = {"ec2-instance": {"start", "stop", "reboot", "terminate"},
               "ecs-service": {"scale", "force-new-deployment"},
               "rds-instance": {"start", "stop", "reboot"},
               "s3-bucket": {"enable-encryption", "disable-encryption", "block-public-access",
                             "unblock-public-access"}}.get(resource.kind, set())
    if action not in allowed:
        raise InvalidRequest(f"{resource.id} does not support {action!r}", backend="aws")
    native = _native_id(resource)
    data: dict[str, Any] = {}
    if resource.kind == "ec2-instance":
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
