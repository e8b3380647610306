"""Find, create, check and delete one AWS lifecycle step of each kind envdeck creates
(S3 buckets in `provision_s3`).

Every created thing carries the owner tags (`OwnerTags`) from its first moment where the API
allows it: EC2 instances (and their volumes) and security groups through
`TagSpecifications`; an S3 bucket cannot be tagged in `CreateBucket`, so `put_bucket_tagging`
follows at once (a crash in between leaves an untagged bucket that envdeck refuses to adopt
and says so, rather than risk adopting — and later emptying — a bucket that is not its own).

Adopting (`find`) completes what creating would have set and may be missing after a crash
between two calls: ingress rules of a security group, encryption and public access block of
a bucket. All of these calls are idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from backends.aws.arns import tags_to_dict
from backends.aws.clients import AwsClients
from backends.aws.error_mapping import error_code
from backends.aws.provision_fields import InstanceFields, SecurityGroupFields
from tui.core.errors import BackendError, ForeignResource
from tui.core.lifecycle.records import (
    AWS_ENV_TAG,
    AWS_INSTANCE_TAG,
    AWS_STEP_TAG,
    AWS_TEMPLATE_TAG,
    StepHealth,
)

LIVE_INSTANCE_STATES = ("pending", "running", "stopping", "stopped")
_WAIT = {"Delay": 5, "MaxAttempts": 24}  # botocore waiters: at most two minutes


@dataclass(frozen=True, slots=True)
class OwnerTags:
    """The tags that mark one step's thing as this environment's: env, template, step and the
    environment instance id (`envdeck:instance`; none for environments stored before it existed)."""

    env: str
    template: str
    base: tuple[tuple[str, str], ...] = ()  # the environment's config tags (what its observation filters on)
    instance: str = ""

    def for_step(self, step_id: str, name: str | None = None) -> dict[str, str]:
        tags = dict(self.base)
        tags.update({AWS_ENV_TAG: self.env, AWS_TEMPLATE_TAG: self.template, AWS_STEP_TAG: step_id})
        if self.instance:
            tags[AWS_INSTANCE_TAG] = self.instance
        if name is not None:
            tags["Name"] = name
        return tags

    def owns(self, tags: dict[str, str], step_id: str | None = None) -> bool:
        """Carries this environment's name AND instance id (and the step's tag when given)."""
        return (tags.get(AWS_ENV_TAG) == self.env and tags.get(AWS_INSTANCE_TAG, "") == self.instance
                and (step_id is None or tags.get(AWS_STEP_TAG) == step_id))

    def foreign(self, what: str, tags: dict[str, str], step_id: str | None = None, *,
                advice: str = "") -> ForeignResource:
        """The refusal of `what`, which exists and is not this environment's instance's."""
        if tags.get(AWS_ENV_TAG) == self.env:
            other = tags.get(AWS_INSTANCE_TAG) or "none"
            text = (f"{what} belongs to another envdeck environment named {self.env} (instance {other}), "
                    f"created elsewhere; this one is instance {self.instance or 'none'}: envdeck neither "
                    "adopts nor deletes it")
        else:
            marks = f"{AWS_ENV_TAG}={self.env}" + (f", {AWS_STEP_TAG}={step_id}" if step_id else "")
            text = f"{what} already exists and is not this environment's (no tags {marks}); envdeck does not adopt it"
        return ForeignResource(text + (f": {advice}" if advice else ""), backend="aws")

    def filters(self, step_id: str | None = None) -> list[dict[str, Any]]:
        """EC2 filters on the env (and step) tags: what carries the name, whichever instance (callers
        check `owns` or refuse with `foreign`)."""
        out = [{"Name": f"tag:{AWS_ENV_TAG}", "Values": [self.env]}]
        if step_id is not None:
            out.append({"Name": f"tag:{AWS_STEP_TAG}", "Values": [step_id]})
        return out


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def client_token(token: str) -> str:
    """EC2 takes at most 64 ASCII characters; a longer or non-ASCII token is hashed (stably)."""
    if token.isascii() and 0 < len(token) <= 64:
        return token
    return hashlib.sha256(token.encode()).hexdigest()


async def call_unless(clients: AwsClients, codes: Iterable[str], service: str, method: str, /,
                      **kwargs: Any) -> dict[str, Any] | None:
    """One API call; None when it fails with one of `codes` (e.g. already gone), else as `call`."""
    tolerated = frozenset(codes)

    def go() -> dict[str, Any] | None:
        try:
            return getattr(clients.client(service), method)(**kwargs)
        except ClientError as exc:
            if error_code(exc) in tolerated:
                return None
            raise

    return await clients.run(f"{service}.{method}", go)


# -- EC2 instances --------------------------------------------------------------------------

class InstanceSteps:
    def __init__(self, clients: AwsClients, owner: OwnerTags):
        self.clients = clients
        self.owner = owner

    async def find(self, step_id: str) -> str | None:
        reservations = await self.clients.paginate(
            "ec2", "describe_instances", "Reservations", Filters=[
                *self.owner.filters(step_id),
                {"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)}])
        found = sorted((i for r in reservations for i in r.get("Instances", [])),
                       key=lambda i: (str(i.get("LaunchTime", "")), i["InstanceId"]))
        ours = [i for i in found if self.owner.owns(tags_to_dict(i.get("Tags")))]
        if ours:
            return ours[0]["InstanceId"]
        if found:  # the env+step tags of another envdeck environment of this name
            raise self.owner.foreign(f"instance {found[0]['InstanceId']} of step {step_id}",
                                     tags_to_dict(found[0].get("Tags")), step_id)
        return None

    async def create(self, step_id: str, fields: InstanceFields, token: str) -> str:
        tags = tag_list(self.owner.for_step(step_id, fields.name))
        kwargs: dict[str, Any] = {
            "ImageId": fields.image_id, "InstanceType": fields.instance_type, "MinCount": 1, "MaxCount": 1,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags},
                                  {"ResourceType": "volume", "Tags": tags}]}
        if fields.security_groups:
            kwargs["SecurityGroupIds"] = list(fields.security_groups)
        if token:
            # Real EC2 returns the instance of an earlier call with the same ClientToken instead of
            # launching a second one. moto ignores the token, so a crash between this call and the
            # step row's update is covered by the engine calling find() (the step tag) first on resume.
            kwargs["ClientToken"] = client_token(token)
        answer = await self.clients.call("ec2", "run_instances", **kwargs)
        return answer["Instances"][0]["InstanceId"]

    async def _describe(self, instance_id: str) -> dict[str, Any] | None:
        answer = await call_unless(self.clients, ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"),
                                   "ec2", "describe_instances", InstanceIds=[instance_id])
        found = [i for r in (answer or {}).get("Reservations", []) for i in r.get("Instances", [])]
        return found[0] if found else None

    async def health(self, instance_id: str, fields: InstanceFields) -> StepHealth:
        inst = await self._describe(instance_id)
        if inst is None:
            return StepHealth(False, f"instance {instance_id} does not exist", terminal=True)
        state = inst.get("State", {}).get("Name", "")
        why = (inst.get("StateReason") or {}).get("Message") or inst.get("StateTransitionReason") or ""
        because = f": {why}" if why else ""
        if state == fields.state:
            return StepHealth(True, f"instance {state}")
        if state in ("shutting-down", "terminated"):
            return StepHealth(False, f"instance {state}{because}", terminal=True)
        if fields.state == "running":
            if state == "pending":
                return StepHealth(False, "instance pending")
            return StepHealth(False, f"instance {state}{because}", terminal=True)
        if state == "running":  # the template asks for a stopped instance: the one write health() makes
            await self.clients.call("ec2", "stop_instances", InstanceIds=[instance_id])
            return StepHealth(False, "instance stopping (the template asks for stopped)")
        return StepHealth(False, f"instance {state}")

    async def still_ours(self, instance_id: str) -> bool:
        """Exists and is not terminated (False: nothing to delete); ForeignResource when it does not
        carry this environment's env and instance tags (checked fresh before a sweep deletes)."""
        inst = await self._describe(instance_id)
        if inst is None or inst.get("State", {}).get("Name") not in LIVE_INSTANCE_STATES:
            return False
        tags = tags_to_dict(inst.get("Tags"))
        if not self.owner.owns(tags):
            raise self.owner.foreign(f"instance {instance_id}", tags)
        return True

    async def terminating(self, instance_id: str) -> bool:
        """Shutting down or terminated (or unknown): what it holds is released soon."""
        inst = await self._describe(instance_id)
        return inst is None or inst.get("State", {}).get("Name") in ("shutting-down", "terminated")

    async def delete(self, instance_id: str) -> None:
        await call_unless(self.clients, ("InvalidInstanceID.NotFound",), "ec2", "terminate_instances",
                          InstanceIds=[instance_id])

    async def gone(self, instance_id: str) -> bool:
        inst = await self._describe(instance_id)
        return inst is None or inst.get("State", {}).get("Name") == "terminated"


# -- security groups ----------------------------------------------------------------------------

class SecurityGroupSteps:
    def __init__(self, clients: AwsClients, owner: OwnerTags):
        self.clients = clients
        self.owner = owner
        self._held: set[str] = set()  # groups whose delete met DependencyViolation: gone() asks again

    async def find(self, step_id: str, fields: SecurityGroupFields | None = None) -> str | None:
        groups = await self.clients.paginate("ec2", "describe_security_groups", "SecurityGroups",
                                             Filters=self.owner.filters(step_id))
        if not groups:
            return None
        groups = sorted(groups, key=lambda g: g["GroupId"])
        ours = [g for g in groups if self.owner.owns(tags_to_dict(g.get("Tags")))]
        if not ours:  # the env+step tags of another envdeck environment of this name
            raise self.owner.foreign(f"security group {groups[0]['GroupId']} of step {step_id}",
                                     tags_to_dict(groups[0].get("Tags")), step_id)
        group = ours[0]
        if fields is not None:
            await self._ensure_ingress(group, fields)
        return group["GroupId"]

    async def create(self, step_id: str, fields: SecurityGroupFields) -> str:
        description = fields.description or f"envdeck environment {self.owner.env}, step {step_id}"
        answer = await call_unless(
            self.clients, ("InvalidGroup.Duplicate",), "ec2", "create_security_group",
            GroupName=fields.name, Description=description, TagSpecifications=[
                {"ResourceType": "security-group", "Tags": tag_list(self.owner.for_step(step_id, fields.name))}])
        if answer is None:  # the name is taken: ours (adopt) or someone else's (refuse)
            named = await self.clients.paginate("ec2", "describe_security_groups", "SecurityGroups",
                                                Filters=[{"Name": "group-name", "Values": [fields.name]}])
            ours = [g for g in named if self.owner.owns(tags_to_dict(g.get("Tags")), step_id)]
            if not ours:
                raise self.owner.foreign(f"a security group named {fields.name!r}",
                                         tags_to_dict(named[0].get("Tags")) if named else {}, step_id,
                                         advice="choose another name")
            group = ours[0]
        else:
            group = {"GroupId": answer["GroupId"], "IpPermissions": []}
        await self._ensure_ingress(group, fields)
        return group["GroupId"]

    async def _ensure_ingress(self, group: dict[str, Any], fields: SecurityGroupFields) -> None:
        have = group.get("IpPermissions") or []
        for rule in fields.ingress:
            wanted = rule.permission()
            if not _permission_present(wanted, have):
                await call_unless(self.clients, ("InvalidPermission.Duplicate",), "ec2",
                                  "authorize_security_group_ingress", GroupId=group["GroupId"],
                                  IpPermissions=[wanted])

    async def _describe(self, group_id: str) -> dict[str, Any] | None:
        answer = await call_unless(self.clients, ("InvalidGroup.NotFound", "InvalidGroupId.Malformed"),
                                   "ec2", "describe_security_groups", GroupIds=[group_id])
        groups = (answer or {}).get("SecurityGroups") or []
        return groups[0] if groups else None

    async def health(self, group_id: str, fields: SecurityGroupFields) -> StepHealth:
        group = await self._describe(group_id)
        if group is None:
            return StepHealth(False, f"security group {group_id} does not exist", terminal=True)
        missing = [r for r in fields.ingress if not _permission_present(r.permission(), group.get("IpPermissions"))]
        if missing:
            return StepHealth(False, f"{len(missing)} ingress rule(s) not authorized yet")
        return StepHealth(True, "security group exists")

    async def still_ours(self, group_id: str) -> bool:
        """Exists (False: nothing to delete); ForeignResource when it does not carry this environment's
        env and instance tags."""
        group = await self._describe(group_id)
        if group is None:
            return False
        tags = tags_to_dict(group.get("Tags"))
        if not self.owner.owns(tags):
            raise self.owner.foreign(f"security group {group_id}", tags)
        return True

    async def delete(self, group_id: str) -> None:
        """A group still used by an instance that is shutting down answers DependencyViolation: then
        this returns without error and `gone()` says False (and asks again) until EC2 lets it go or
        the step times out. (Raising would make the engine record an orphan at once; after a restart
        the engine calls delete() again for a step that was deleting.)"""
        if await self._try_delete(group_id):
            self._held.discard(group_id)
        else:
            self._held.add(group_id)

    async def _try_delete(self, group_id: str) -> bool:
        """True when the group is gone after this call, False while DependencyViolation holds it."""
        def go() -> bool:
            try:
                self.clients.client("ec2").delete_security_group(GroupId=group_id)
            except ClientError as exc:
                code = error_code(exc)
                if code == "DependencyViolation":
                    return False
                if code != "InvalidGroup.NotFound":
                    raise
            return True

        return await self.clients.run("ec2.delete_security_group", go)

    async def gone(self, group_id: str) -> bool:
        """Fresh: gone when EC2 no longer knows it. For a group whose `delete()` met a
        DependencyViolation, the delete is asked again (idempotent) while it exists: the violation
        clears once the instance using it has terminated, and nobody else would retry it."""
        if await self._describe(group_id) is None:
            self._held.discard(group_id)
            return True
        if group_id in self._held and await self._try_delete(group_id):
            self._held.discard(group_id)
            return True
        return False

    async def delete_checked(self, group_id: str) -> None:
        """Delete a leftover. Instances that still hold it while shutting down (the sweep has just
        terminated them) are waited for; a group still used by anything else is an error with that
        reason (it becomes an orphan)."""
        if await self._try_delete(group_id):
            return
        reservations = await self.clients.paginate("ec2", "describe_instances", "Reservations", Filters=[
            {"Name": "instance.group-id", "Values": [group_id]},
            {"Name": "instance-state-name", "Values": [*LIVE_INSTANCE_STATES, "shutting-down"]}])
        users = {i["InstanceId"]: i.get("State", {}).get("Name") for r in reservations for i in r.get("Instances", [])}
        live = sorted(i for i, state in users.items() if state != "shutting-down")
        if live:
            raise BackendError(f"security group {group_id} is still used by {', '.join(live)} "
                               "(DependencyViolation)", backend="aws")
        if users:
            await self.clients.run("ec2.wait_instance_terminated", lambda: self.clients.client("ec2").get_waiter(
                "instance_terminated").wait(InstanceIds=sorted(users), WaiterConfig=_WAIT))
        if not await self._try_delete(group_id):
            raise BackendError(f"security group {group_id} is still in use (DependencyViolation: a network "
                               "interface or another group's rule refers to it)", backend="aws")


def _permission_present(wanted: dict[str, Any], have: list[dict[str, Any]] | None) -> bool:
    cidrs = {r["CidrIp"] for r in wanted.get("IpRanges", [])} | {r["CidrIpv6"] for r in wanted.get("Ipv6Ranges", [])}
    for perm in have or []:
        if (perm.get("IpProtocol") == wanted["IpProtocol"] and perm.get("FromPort") == wanted.get("FromPort")
                and perm.get("ToPort") == wanted.get("ToPort")):
            present = {r.get("CidrIp") for r in perm.get("IpRanges") or []} | \
                {r.get("CidrIpv6") for r in perm.get("Ipv6Ranges") or []}
            if cidrs <= present:
                return True
    return False
