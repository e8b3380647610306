"""`AwsProvisioner`: creates, checks and deletes the AWS steps of a lifecycle template
(s3-bucket, security-group, ec2-instance), sweeps what is still tagged with the environment
after a teardown, and sleeps/wakes its instances and ECS services.

The clients are the observing backend's (`AwsClients`: the profile's credentials, botocore
adaptive retries, per-call connect/read timeouts from `defaults.timeout`, blocking boto3 in a
bounded worker pool) and so are the error types (`error_mapping`: BackendUnreachable,
BackendDenied, InvalidRequest, NotFound with the operation and code in the message).

Per kind (details in `provision_kinds`):

| kind | find | create | health | delete / gone |
|---|---|---|---|---|
| ec2-instance | tags env+step, not terminated/shutting-down | run_instances, ClientToken, TagSpecifications | state as asked (pending: not yet; stopped/terminated: terminal) | terminate / terminated or unknown |
| security-group | tags env+step | create with TagSpecifications (a taken name is adopted only when it is ours), ingress authorized idempotently | exists with its ingress | delete; DependencyViolation: delete returns, gone() says False and asks again |
| s3-bucket | the name exists carrying env+step tags | create_bucket (LocationConstraint outside us-east-1), tags at once, encryption, public access block | exists, ours, encryption and block as asked | every version emptied, then deleted / head_bucket 404 |
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from backends.aws import provision_sleep
from backends.aws.arns import RESOURCE_TYPE_FILTERS, parse_arn, tags_to_dict
from backends.aws.clients import AwsClients
from backends.aws.error_mapping import error_code
from backends.aws.provision_fields import InstanceFields, SecurityGroupFields, parse_fields
from backends.aws.provision_kinds import (
    LIVE_INSTANCE_STATES,
    InstanceSteps,
    OwnerTags,
    SecurityGroupSteps,
    call_unless,
)
from backends.aws.provision_s3 import BucketSteps
from backends.base import Provisioner
from tui.core.config import AwsConfig, Defaults
from tui.core.errors import BackendError, InvalidRequest
from tui.core.lifecycle.records import (
    AWS_ENV_TAG,
    AWS_INSTANCE_TAG,
    AWS_STEP_TAG,
    Leftover,
    StepHealth,
    StepSpec,
)

# Answers of GetBucketTagging that mean "not a bucket of this sweep" (untagged, gone, another
# account's, another region's).
_BUCKET_NOT_OURS = frozenset({"NoSuchTagSet", "NoSuchBucket", "AccessDenied", "PermanentRedirect",
                              "AuthorizationHeaderMalformed", "IllegalLocationConstraintException", "404"})
DELETABLE_KINDS = ("ec2-instance", "security-group", "s3-bucket", "ebs-volume")
_SWEEP_ORDER = {"ec2-instance": 0, "ebs-volume": 1, "security-group": 2, "s3-bucket": 3}
_VOLUME_WAIT = {"Delay": 5, "MaxAttempts": 24}
#: the sweep's own listings and the step kinds whose deletion each waits for (volumes go with instances)
_LISTINGS = {"instances": frozenset({"ec2-instance"}), "groups": frozenset({"security-group"}),
             "buckets": frozenset({"s3-bucket"})}


class AwsProvisioner(Provisioner):
    name: ClassVar[str] = "aws"

    def __init__(self, env: str, config: AwsConfig, defaults: Defaults, *, template: str, instance: str = "",
                 workers: int = 8):
        super().__init__(env, config, defaults, template=template, instance=instance)
        self.config: AwsConfig = config
        self.clients = AwsClients(config, timeout_s=defaults.timeout, workers=workers)
        self._sweep_client: asyncio.Future[Any] | None = None
        #: a destroy's early read of the tags of the region's other buckets (`_prepare_sweep`)
        self._early_buckets: asyncio.Future[dict[str, dict[str, str]]] | None = None
        #: the buckets whose deletion was asked (never read early: their steps delete them meanwhile)
        self._deleting_buckets: set[str] = set()
        #: the sweep's listings begun before it, as their kinds' steps were gone (`steps_gone`)
        self._listings: dict[str, asyncio.Future[Any]] = {}
        self.bind_instance(instance)

    def bind_instance(self, instance: str) -> None:
        super().bind_instance(instance)
        base = tuple(sorted((k, v) for k, v in self.config.tags.items() if k != AWS_INSTANCE_TAG))
        self.owner = OwnerTags(env=self.env, template=self.template, base=base, instance=instance)
        self.instances = InstanceSteps(self.clients, self.owner)
        self.groups = SecurityGroupSteps(self.clients, self.owner)
        self.buckets = BucketSteps(self.clients, self.owner, self.config.region)

    # -- steps -------------------------------------------------------------------------------
    async def find(self, step: StepSpec) -> str | None:
        # Instances and groups are found by their tags alone: at destroy the engine may hold fields
        # with a reference it could not resolve (`{web-sg}` of a group never created).
        if step.kind == "ec2-instance":
            return await self.instances.find(step.id)
        if step.kind == "security-group":
            try:
                group_fields: SecurityGroupFields | None = parse_fields(step)
            except InvalidRequest:
                group_fields = None  # adopt without completing the ingress; create() names the problem
            return await self.groups.find(step.id, group_fields)
        return await self.buckets.find(step.id, parse_fields(step))

    async def create(self, step: StepSpec, token: str) -> str:
        fields = parse_fields(step)
        if isinstance(fields, InstanceFields):
            return await self.instances.create(step.id, fields, token)
        if isinstance(fields, SecurityGroupFields):
            return await self.groups.create(step.id, fields)
        return await self.buckets.create(step.id, fields, token)

    async def health(self, step: StepSpec, native_id: str) -> StepHealth:
        fields = parse_fields(step)
        if isinstance(fields, InstanceFields):
            return await self.instances.health(native_id, fields)
        if isinstance(fields, SecurityGroupFields):
            return await self.groups.health(native_id, fields)
        return await self.buckets.health(native_id, step.id, fields)

    async def delete(self, step: StepSpec, native_id: str) -> None:
        if step.kind == "s3-bucket":
            self._deleting_buckets.add(native_id)
        self._prepare_sweep()
        if step.kind == "ec2-instance":
            await self.instances.delete(native_id)
        elif step.kind == "security-group":
            await self.groups.delete(native_id)
        elif step.kind == "s3-bucket":
            await self.buckets.delete(native_id, step.id)
        else:
            parse_fields(step)  # raises the clear "not a kind envdeck creates"

    async def gone(self, step: StepSpec, native_id: str) -> bool:
        if step.kind == "ec2-instance":
            return await self.instances.gone(native_id)
        if step.kind == "security-group":
            return await self.groups.gone(native_id)
        if step.kind == "s3-bucket":
            return await self.buckets.gone(native_id)
        parse_fields(step)
        return True

    # -- sweep -------------------------------------------------------------------------------
    def _prepare_sweep(self) -> None:
        """A destroy's sweep follows its deletes: the tagging API's client (a new session's client
        takes 5-30 ms of CPU to build) is built in the worker pool now, while the deletes wait on
        AWS, instead of after the last of them. A failure here is the sweep's to report."""
        if self._sweep_client is None:
            self._sweep_client = asyncio.ensure_future(self.clients.run(
                "resourcegroupstaggingapi client", self.clients.client, "resourcegroupstaggingapi"))
            self._sweep_client.add_done_callback(lambda f: f.cancelled() or f.exception())
        if self._early_buckets is None:
            # the tags of the buckets no step of this environment deletes (its rendered desired
            # buckets, and any whose deletion was asked): read now, while the deletes wait on AWS;
            # after the bucket steps the sweep lists the buckets again and reads only the others
            skip = self._deleting_buckets | {d.name for d in self.config.desired if d.kind == "s3-bucket"}
            self._early_buckets = asyncio.ensure_future(self._bucket_tags(skip=frozenset(skip)))
            self._early_buckets.add_done_callback(lambda f: f.cancelled() or f.exception())

    def steps_gone(self, kinds: frozenset[str]) -> None:
        """Begin the sweep's listings that wait only for these kinds' steps (instances and their
        volumes once the instance steps are gone, security groups once theirs are, the tagged
        buckets once the bucket steps are), while the other steps still run; `sweep()` takes them
        and asks the tagging API, which lists every kind envdeck knows, only after the backend's last step."""
        for listing, waits_for in _LISTINGS.items():
            if listing not in self._listings and waits_for <= kinds:
                self._listings[listing] = self._begin_listing(listing)

    def _begin_listing(self, listing: str) -> asyncio.Future[Any]:
        coro = {"instances": self._instances_and_volumes, "groups": self._groups, "buckets": self._tagged_buckets}
        future = asyncio.ensure_future(coro[listing]())
        future.add_done_callback(lambda f: f.cancelled() or f.exception())   # the sweep reports it
        return future

    async def _instances_and_volumes(self) -> tuple[list[Any], list[Any]]:
        reservations, volumes = await asyncio.gather(
            self.clients.paginate("ec2", "describe_instances", "Reservations", Filters=[
                *self.owner.filters(), {"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)}]),
            self.clients.paginate("ec2", "describe_volumes", "Volumes", Filters=self.owner.filters()))
        return reservations, volumes

    async def _groups(self) -> list[Any]:
        return await self.clients.paginate("ec2", "describe_security_groups", "SecurityGroups",
                                           Filters=self.owner.filters())

    async def sweep(self) -> list[Leftover]:
        """Everything still tagged `envdeck:env=<env>`: the tagging API across the kinds envdeck
        knows (`RESOURCE_TYPE_FILTERS`, the observing backend's: instances, groups, volumes,
        buckets, databases, services, alarms, functions, load balancers, target groups, tables,
        queues; as issue 15 asks; on moto a call with no type filter costs 5x more), plus direct
        describes of the kinds envdeck creates, because the tagging API lags behind and does not
        list every type (moto's lists no security groups). Instances that are terminated or
        shutting down are not leftovers; for instances and security groups the describe is the
        fresher answer and wins over the tagging API. A kind's describe may have begun when its
        last step was gone (`steps_gone`); the tagging API is asked now, after the last step."""
        listings = {name: self._listings.pop(name, None) or self._begin_listing(name) for name in _LISTINGS}
        try:
            mappings, (reservations, volumes), groups, buckets = await asyncio.gather(
                self.clients.paginate("resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList",
                                      TagFilters=[{"Key": AWS_ENV_TAG, "Values": [self.env]}],
                                      ResourceTypeFilters=list(RESOURCE_TYPE_FILTERS)),
                listings["instances"], listings["groups"], listings["buckets"])
        finally:
            for future in listings.values():
                future.cancel()
        instances = [i for r in reservations for i in r.get("Instances", [])]
        # a volume that goes with a leftover instance (DeleteOnTermination) is not a leftover itself
        with_instances = {(m.get("Ebs") or {}).get("VolumeId") for i in instances
                          for m in i.get("BlockDeviceMappings") or [] if (m.get("Ebs") or {}).get("DeleteOnTermination")}
        described = {
            "ec2-instance": {i["InstanceId"] for i in instances},
            "security-group": {g["GroupId"] for g in groups},
            "ebs-volume": {v["VolumeId"] for v in volumes if v["VolumeId"] not in with_instances},
        }
        tags_of: dict[tuple[str, str], dict[str, str]] = {}
        for i in instances:
            tags_of[("ec2-instance", i["InstanceId"])] = tags_to_dict(i.get("Tags"))
        for g in groups:
            tags_of[("security-group", g["GroupId"])] = tags_to_dict(g.get("Tags"))
        for v in volumes:
            tags_of[("ebs-volume", v["VolumeId"])] = tags_to_dict(v.get("Tags"))
        for name, tags in buckets.items():
            tags_of[("s3-bucket", name)] = tags

        def leftover(kind: str, native: str, arn: str = "", tags: dict[str, str] | None = None) -> Leftover:
            marks = tags_of.get((kind, native)) or tags or {}
            return Leftover("aws", kind, native, arn, instance=marks.get(AWS_INSTANCE_TAG, ""),
                            step=marks.get(AWS_STEP_TAG, ""))

        found: dict[tuple[str, str], Leftover] = {}
        for m in mappings:
            arn = m["ResourceARN"]
            parsed = parse_arn(arn)
            mapped = tags_to_dict(m.get("Tags"))
            if parsed is None:
                kind = _arn_kind(arn)
                found[(kind, arn)] = leftover(kind, arn, arn, mapped)
            elif parsed.kind not in described or parsed.native_id in described[parsed.kind]:
                found[(parsed.kind, parsed.native_id)] = leftover(parsed.kind, parsed.native_id, arn, mapped)
        for kind, ids in described.items():
            for native in ids:
                found.setdefault((kind, native), leftover(kind, native))
        for name in buckets:
            found.setdefault(("s3-bucket", name), leftover("s3-bucket", name, f"arn:aws:s3:::{name}"))
        # instances first: their volumes and groups can go only after them
        return [found[k] for k in sorted(found, key=lambda k: (_SWEEP_ORDER.get(k[0], len(_SWEEP_ORDER)), k))]

    async def _bucket_tags(self, *, skip: frozenset[str] = frozenset(),
                           known: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
        """Every bucket of the region with its tags (`{}`: untagged, gone, not readable here),
        but those of `skip`; a bucket of `known` (read before, by name) is not read again."""
        names = [b["Name"] for b in await self.clients.paginate("s3", "list_buckets", "Buckets",
                                                                 BucketRegion=self.config.region)]
        known = known or {}
        unread = [n for n in names if n not in skip and n not in known]
        found = dict(zip(unread, await asyncio.gather(*(self._tags_of_bucket(n) for n in unread)), strict=True))
        return {n: known[n] if n in known else found[n] for n in names if n not in skip}

    async def _tags_of_bucket(self, name: str) -> dict[str, str]:
        def tags() -> dict[str, str]:
            try:
                return tags_to_dict(self.clients.client("s3").get_bucket_tagging(Bucket=name).get("TagSet"))
            except ClientError as exc:
                if error_code(exc) in _BUCKET_NOT_OURS:
                    return {}
                raise

        return await self.clients.run("s3.get_bucket_tagging", tags)

    async def _tagged_buckets(self) -> dict[str, dict[str, str]]:
        """The region's buckets carrying `envdeck:env=<env>` (whichever instance), with their tags:
        the buckets listed once the bucket steps are gone; the tags of those a destroy read early
        (`_prepare_sweep`: none a step deletes, so a bucket being deleted is never asked for its
        tags) are taken from then, the others' read now. A bucket tagged with the name during the
        destroy is found by the tagging API, which the sweep asks after the last step."""
        early: dict[str, dict[str, str]] = {}
        if self._early_buckets is not None:
            try:
                early = await self._early_buckets
            except Exception:   # noqa: BLE001 - read again below
                early = {}
        tagged = await self._bucket_tags(known=early)
        return {n: t for n, t in tagged.items() if t.get(AWS_ENV_TAG) == self.env}

    async def delete_leftover(self, leftover: Leftover) -> None:
        """Delete what the sweep found, by kind, after checking again (fresh) that it carries this
        environment's env and instance tags (ForeignResource otherwise: left alone); a kind envdeck
        does not create is an InvalidRequest (the engine records an orphan)."""
        kind, native = leftover.kind, leftover.native_id
        if kind == "ec2-instance":
            if await self.instances.still_ours(native):
                await self.instances.delete(native)
        elif kind == "security-group":
            if await self.groups.still_ours(native):
                await self.groups.delete_checked(native)
        elif kind == "s3-bucket":
            await self.buckets.delete(native)
        elif kind == "ebs-volume":
            await self._delete_volume(native)
        else:
            raise InvalidRequest(f"envdeck cannot delete {kind} {native}: it creates only "
                                 f"{', '.join(DELETABLE_KINDS[:3])}; delete it by hand", backend="aws")

    async def _delete_volume(self, volume_id: str) -> None:
        found = await call_unless(self.clients, ("InvalidVolume.NotFound",), "ec2", "describe_volumes",
                                  VolumeIds=[volume_id])
        volumes = (found or {}).get("Volumes") or []
        if not volumes:
            return
        if not self.owner.owns(tags_to_dict(volumes[0].get("Tags"))):
            raise self.owner.foreign(f"volume {volume_id}", tags_to_dict(volumes[0].get("Tags")))
        attached = [a["InstanceId"] for a in volumes[0].get("Attachments") or [] if a.get("InstanceId")]
        if attached:
            if not all([await self.instances.terminating(i) for i in attached]):
                raise BackendError(f"volume {volume_id} is attached to {', '.join(attached)}", backend="aws")
            await self.clients.run("ec2.wait_volume_available", lambda: self.clients.client("ec2").get_waiter(
                "volume_available").wait(VolumeIds=[volume_id], WaiterConfig=_VOLUME_WAIT))
        await call_unless(self.clients, ("InvalidVolume.NotFound",), "ec2", "delete_volume", VolumeId=volume_id)

    # -- sleep / wake ------------------------------------------------------------------------
    async def sleep(self) -> dict[str, dict[str, Any]]:
        """Stop the environment's running instances, scale its ECS services to 0; returns
        `{"aws/ec2-instance/i-…": {"state": "running"}, "aws/ecs-service/C/S": {"desired_count": N}}`."""
        return await provision_sleep.sleep(self.clients, self.owner)

    async def wake(self, memory: dict[str, dict[str, Any]]) -> None:
        await provision_sleep.wake(self.clients, memory)

    async def close(self) -> None:
        if self._sweep_client is not None:
            self._sweep_client.cancel()
        if self._early_buckets is not None:
            self._early_buckets.cancel()
        for future in self._listings.values():
            future.cancel()
        self._listings.clear()
        self.clients.close()


def _arn_kind(arn: str) -> str:
    """`sqs`, `dynamodb:table`, …: the service and resource type of an ARN envdeck does not parse."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "unknown"
    service, rest = parts[2], parts[5]
    rtype = rest.split("/", 1)[0].split(":", 1)[0] if ("/" in rest or ":" in rest) else ""
    return f"{service}:{rtype}" if rtype else service
