"""Find, create, check and delete an S3 bucket step (see `provision_kinds` for the rules).

`CreateBucket` takes no tags: `put_bucket_tagging` follows at once. A bucket that exists
without this environment's tags is someone else's and is refused, never adopted (destroy
would empty it) — except the one our own create made before a crash between those two calls:
no tags at all, EMPTY, and created after this step's create began (the time in its token,
records.token_time). That one is tagged and adopted, so a create killed in that window resumes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from backends.aws.actions import FULL_PUBLIC_ACCESS_BLOCK, SSE_DEFAULT
from backends.aws.arns import tags_to_dict
from backends.aws.clients import AwsClients
from backends.aws.error_mapping import error_code
from backends.aws.provision_fields import BucketFields
from backends.aws.provision_kinds import OwnerTags, call_unless, tag_list
from tui.core.errors import BackendDenied, BackendError, InvalidRequest
from tui.core.lifecycle.records import AWS_ENV_TAG, StepHealth, token_time

_S3_MISSING = frozenset({"NoSuchBucket", "404", "NotFound"})
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


class BucketSteps:
    def __init__(self, clients: AwsClients, owner: OwnerTags, region: str):
        self.clients = clients
        self.owner = owner
        self.region = region

    async def tags(self, name: str) -> dict[str, str] | None:
        """The bucket's tags ({} when it has none), or None when there is no such bucket."""
        def go() -> dict[str, str] | None:
            try:
                answer = self.clients.client("s3").get_bucket_tagging(Bucket=name)
            except ClientError as exc:
                code = error_code(exc)
                if code in _S3_MISSING:
                    return None
                if code == "NoSuchTagSet":
                    return {}
                raise
            return tags_to_dict(answer.get("TagSet"))

        return await self.clients.run("s3.get_bucket_tagging", go)

    async def find(self, step_id: str, fields: BucketFields) -> str | None:
        try:
            tags = await self.tags(fields.name)
        except BackendDenied:  # another account's bucket: not ours (create says so clearly)
            return None
        if tags is None or tags.get(AWS_ENV_TAG) != self.owner.env:
            return None  # not an envdeck bucket of this name (create refuses it clearly)
        if not self.owner.owns(tags, step_id):  # this name's, another instance's (or step's)
            raise self.owner.foreign(f"the S3 bucket {fields.name!r}", tags, step_id)
        await self._configure(fields)
        return fields.name

    async def create(self, step_id: str, fields: BucketFields, token: str = "") -> str:
        name = fields.name
        try:
            existing = await self.tags(name)
        except BackendDenied:
            existing = None  # CreateBucket below answers BucketAlreadyExists for another account's
        if existing == {} and await self._made_by_our_crashed_create(name, token):
            await self._tag(name, step_id)
        elif existing is not None:
            self._refuse_unless_ours(name, existing, step_id)
        else:
            kwargs: dict[str, Any] = {"Bucket": name}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}

            def go() -> str:
                try:
                    self.clients.client("s3").create_bucket(**kwargs)
                except ClientError as exc:
                    code = error_code(exc)
                    if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        return code
                    raise
                return "created"

            outcome = await self.clients.run("s3.create_bucket", go)
            if outcome == "BucketAlreadyExists":
                raise InvalidRequest(f"the S3 bucket name {name!r} is taken (bucket names are global): "
                                     "choose another name", backend="aws")
            if outcome == "BucketAlreadyOwnedByYou":  # appeared since the look-up above
                self._refuse_unless_ours(name, await self.tags(name) or {}, step_id)
            else:
                await self._tag(name, step_id)
        await self._configure(fields)
        return name

    async def _tag(self, name: str, step_id: str) -> None:
        await self.clients.call("s3", "put_bucket_tagging", Bucket=name, Tagging={
            "TagSet": tag_list(self.owner.for_step(step_id))})

    async def _made_by_our_crashed_create(self, name: str, token: str) -> bool:
        """An untagged bucket is the one this step's own create made (killed before tagging it)
        when it is empty and was created after that create began (a minute's clock skew allowed)."""
        began = token_time(token)
        if began is None:
            return False

        def go() -> bool:
            s3 = self.clients.client("s3")
            if s3.list_objects_v2(Bucket=name, MaxKeys=1).get("KeyCount", 0):
                return False
            created = next((b.get("CreationDate") for b in s3.list_buckets().get("Buckets", [])
                            if b.get("Name") == name), None)
            return created is not None and created >= began - timedelta(minutes=1)

        return await self.clients.run("s3.list_buckets", go)

    def _refuse_unless_ours(self, name: str, tags: dict[str, str], step_id: str) -> None:
        if not self.owner.owns(tags, step_id):
            raise self.owner.foreign(f"the S3 bucket {name!r}", tags, step_id)

    async def _configure(self, fields: BucketFields) -> None:
        if fields.encryption:
            await self.clients.call("s3", "put_bucket_encryption", Bucket=fields.name,
                                    ServerSideEncryptionConfiguration=SSE_DEFAULT)
        if fields.public_access_blocked:
            await self.clients.call("s3", "put_public_access_block", Bucket=fields.name,
                                    PublicAccessBlockConfiguration=FULL_PUBLIC_ACCESS_BLOCK)
        else:
            await call_unless(self.clients, ("NoSuchPublicAccessBlockConfiguration",), "s3",
                              "delete_public_access_block", Bucket=fields.name)

    async def health(self, name: str, step_id: str, fields: BucketFields) -> StepHealth:
        """The tags, the encryption and the public access block read at once (three reads, one
        round trip's time: a dependent step waits for this answer); judged in that order, so
        the answer is the one the reads made one after the other would give."""
        async def encryption() -> Any:
            if not fields.encryption:
                return None
            return await call_unless(self.clients, ("ServerSideEncryptionConfigurationNotFoundError",), "s3",
                                     "get_bucket_encryption", Bucket=name)

        tags, enc, pab = await asyncio.gather(
            self.tags(name), encryption(),
            call_unless(self.clients, ("NoSuchPublicAccessBlockConfiguration",), "s3", "get_public_access_block",
                        Bucket=name), return_exceptions=True)
        if isinstance(tags, BaseException):
            raise tags
        if tags is None:
            return StepHealth(False, f"bucket {name} does not exist", terminal=True)
        if not self.owner.owns(tags, step_id):
            return StepHealth(False, f"bucket {name} lost its owner tags", terminal=True)
        if isinstance(enc, BaseException):
            raise enc
        if fields.encryption and not ((enc or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules"):
            return StepHealth(False, "default encryption not set yet")
        if isinstance(pab, BaseException):
            raise pab
        flags = (pab or {}).get("PublicAccessBlockConfiguration") or {}
        blocked = bool(flags) and all(flags.get(k) for k in FULL_PUBLIC_ACCESS_BLOCK)
        if blocked != fields.public_access_blocked:
            return StepHealth(False, "public access block not as asked yet")
        return StepHealth(True, "bucket exists")

    async def delete(self, name: str, step_id: str | None = None) -> None:
        """Empty the bucket (every object version, delete marker and unfinished upload) and delete
        it. Refuses a bucket that does not carry this environment's tags (it would empty it)."""
        tags = await self.tags(name)
        if tags is None:
            return
        if not self.owner.owns(tags, step_id):
            raise self.owner.foreign(f"the S3 bucket {name!r}", tags, step_id,
                                     advice="envdeck does not empty or delete it")
        await self.clients.run("s3.delete_bucket", self._empty_and_delete, name)

    def _empty_and_delete(self, name: str) -> None:  # runs in a worker thread
        s3 = self.clients.client("s3")
        for _attempt in range(3):  # objects written while emptying: empty again
            try:
                for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                    keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                            for v in (page.get("Versions") or []) + (page.get("DeleteMarkers") or [])]
                    for i in range(0, len(keys), _DELETE_BATCH):
                        answer = s3.delete_objects(Bucket=name, Delete={"Objects": keys[i:i + _DELETE_BATCH],
                                                                       "Quiet": True})
                        errors = answer.get("Errors") or []
                        if errors:
                            first = errors[0]
                            raise BackendError(f"cannot delete {first.get('Key')!r} of bucket {name}: "
                                               f"{first.get('Code')}", backend="aws")
                for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
                    for upload in page.get("Uploads") or []:
                        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
                s3.delete_bucket(Bucket=name)
                return
            except ClientError as exc:
                code = error_code(exc)
                if code in _S3_MISSING:
                    return
                if code != "BucketNotEmpty":
                    raise
        raise BackendError(f"bucket {name} is still being written to: not empty after three passes",
                           backend="aws")

    async def gone(self, name: str) -> bool:
        answer = await call_unless(self.clients, _S3_MISSING, "s3", "head_bucket", Bucket=name)
        return answer is None
