"""AwsProvisioner against the moto server: owner tags at creation, find-or-create without
duplicates, fresh health, delete + gone, the sweep, sleep/wake, hostile names. Every claim
about what exists is counted on the SERVER (boto3 describes), not through envdeck."""

from __future__ import annotations

import pytest

from backends.aws.arns import tags_to_dict
from backends.aws.provision import AwsProvisioner
from backends.aws.provision_sleep import ASLEEP_TAG
from tests.aws.conftest import aws_config
from tests.moto_server import free_port
from tui.core.config import Defaults
from tui.core.errors import BackendError, BackendUnreachable, ForeignResource, InvalidRequest
from tui.core.lifecycle.records import Leftover, StepSpec

ENV = "pr-7"
AMI = "ami-12c6146b"


def step(step_id: str, kind: str, **fields) -> StepSpec:
    return StepSpec(id=step_id, backend="aws", kind=kind, fields=fields)


def bucket_step(name: str = f"{ENV}-assets", **extra) -> StepSpec:
    return step("assets", "s3-bucket", name=name, encryption=True, public_access_blocked=True, **extra)


def sg_step(name: str = f"{ENV}-web", ingress=None) -> StepSpec:
    return step("web-sg", "security-group", name=name,
                ingress=ingress if ingress is not None else [{"port": 443, "cidr": "10.0.0.0/8"}])


def instance_step(groups: list[str], **extra) -> StepSpec:
    return step("web", "ec2-instance", name=f"{ENV}-web-1", image_id=AMI, instance_type="t3.micro",
                security_groups=groups, **extra)


@pytest.fixture
async def make_provisioner(moto_url):
    made: list[AwsProvisioner] = []

    def factory(env: str = ENV, *, endpoint_url: str | None = None, timeout: float = 10.0,
                region: str | None = None) -> AwsProvisioner:
        extra = {"region": region} if region else {}
        config = aws_config(endpoint_url or moto_url, env, tags={"envdeck:env": env}, **extra)
        prov = AwsProvisioner(env, config, Defaults(timeout=timeout), template="preview")
        made.append(prov)
        return prov

    yield factory
    for prov in made:
        await prov.close()


def live_instances(aws, env: str = ENV, step_id: str | None = None) -> list[dict]:
    filters = [{"Name": "tag:envdeck:env", "Values": [env]},
               {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    if step_id:
        filters.append({"Name": "tag:envdeck:step", "Values": [step_id]})
    return [i for r in aws("ec2").describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]


def groups_named(aws, name: str) -> list[dict]:
    return aws("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]


def bucket_names(aws) -> list[str]:
    return [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]


OWNER = {"envdeck:env": ENV, "envdeck:template": "preview"}


async def test_create_each_kind_with_owner_tags(aws, make_provisioner):
    prov = make_provisioner()
    gid = await prov.create(sg_step(), "tok-sg")
    name = await prov.create(bucket_step(), "tok-b")
    iid = await prov.create(instance_step([gid]), "tok-i")

    group = aws("ec2").describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert tags_to_dict(group["Tags"]) == {**OWNER, "envdeck:step": "web-sg", "Name": f"{ENV}-web"}
    assert [(p["IpProtocol"], p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in group["IpPermissions"]] == \
        [("tcp", 443, "10.0.0.0/8")]

    [inst] = live_instances(aws)
    assert inst["InstanceId"] == iid and inst["InstanceType"] == "t3.micro" and inst["ImageId"] == AMI
    assert [g["GroupId"] for g in inst["SecurityGroups"]] == [gid]
    assert tags_to_dict(inst["Tags"]) == {**OWNER, "envdeck:step": "web", "Name": f"{ENV}-web-1"}
    volumes = aws("ec2").describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
    assert volumes and all(tags_to_dict(v["Tags"])["envdeck:env"] == ENV for v in volumes)

    s3 = aws("s3")
    assert bucket_names(aws) == [name] == [f"{ENV}-assets"]
    assert tags_to_dict(s3.get_bucket_tagging(Bucket=name)["TagSet"]) == {**OWNER, "envdeck:step": "assets"}
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())

    for spec, native in ((sg_step(), gid), (bucket_step(), name), (instance_step([gid]), iid)):
        health = await prov.health(spec, native)
        assert health.healthy, (spec.id, health.reason)


async def test_bucket_outside_us_east_1_has_its_location(aws, make_provisioner):
    prov = make_provisioner(region="eu-west-1")
    name = await prov.create(bucket_step(), "t")
    assert aws("s3").get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"


async def test_resume_finds_instead_of_duplicating(aws, make_provisioner):
    """A crash after each create call and before the step row was updated: on resume the engine asks
    find() first. moto ignores ClientToken, so only find() stands between the resume and a duplicate."""
    prov = make_provisioner()
    gid = await prov.create(sg_step(), "tok-sg")
    iid = await prov.create(instance_step([gid]), "tok-i")
    name = await prov.create(bucket_step(), "tok-b")

    resumed = make_provisioner()  # a new process
    assert await resumed.find(sg_step()) == gid
    assert await resumed.find(instance_step([gid])) == iid
    assert await resumed.find(bucket_step()) == name
    # at destroy the engine may not resolve a reference (its group never created): found by tags alone
    assert await resumed.find(instance_step(["{web-sg}"])) == iid
    # another environment's step of the same id is not found
    assert await make_provisioner("pr-8").find(instance_step([gid])) is None

    # creating the group and the bucket again adopts (name taken, tags ours) instead of failing
    assert await resumed.create(sg_step(), "tok-sg") == gid
    assert await resumed.create(bucket_step(), "tok-b") == name

    assert [i["InstanceId"] for i in live_instances(aws, step_id="web")] == [iid]
    assert [g["GroupId"] for g in groups_named(aws, f"{ENV}-web")] == [gid]
    assert bucket_names(aws) == [name]


async def test_adopting_completes_what_a_crash_left_out(aws, make_provisioner):
    """A crash between create_security_group and authorize_security_group_ingress (or between the
    bucket's tagging and its settings): find() adopts and completes the idempotent settings."""
    ec2, s3 = aws("ec2"), aws("s3")
    gid = ec2.create_security_group(GroupName=f"{ENV}-web", Description="d", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": [{"Key": "envdeck:env", "Value": ENV},
                                                    {"Key": "envdeck:step", "Value": "web-sg"}]}])["GroupId"]
    s3.create_bucket(Bucket=f"{ENV}-assets")
    s3.put_bucket_tagging(Bucket=f"{ENV}-assets", Tagging={"TagSet": [
        {"Key": "envdeck:env", "Value": ENV}, {"Key": "envdeck:step", "Value": "assets"}]})
    prov = make_provisioner()
    assert not (await prov.health(sg_step(), gid)).healthy
    assert await prov.find(sg_step()) == gid
    assert await prov.find(bucket_step()) == f"{ENV}-assets"
    perms = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    assert [(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in perms] == [(443, "10.0.0.0/8")]
    assert s3.get_bucket_encryption(Bucket=f"{ENV}-assets")["ServerSideEncryptionConfiguration"]["Rules"]
    assert (await prov.health(sg_step(), gid)).healthy
    assert (await prov.health(bucket_step(), f"{ENV}-assets")).healthy


async def test_names_taken_by_others_are_refused_not_adopted(aws, make_provisioner):
    ec2, s3 = aws("ec2"), aws("s3")
    foreign_gid = ec2.create_security_group(GroupName=f"{ENV}-web", Description="someone's")["GroupId"]
    s3.create_bucket(Bucket=f"{ENV}-assets")
    s3.put_object(Bucket=f"{ENV}-assets", Key="precious", Body=b"data")
    prov = make_provisioner()
    assert await prov.find(sg_step()) is None
    assert await prov.find(bucket_step()) is None
    with pytest.raises(InvalidRequest, match="already exists and is not this environment's"):
        await prov.create(sg_step(), "t")
    with pytest.raises(InvalidRequest, match="already exists and is not this environment's"):
        await prov.create(bucket_step(), "t")
    # and a delete of a bucket that is not ours refuses to empty it
    with pytest.raises(InvalidRequest, match="does not empty or delete it"):
        await prov.delete(bucket_step(), f"{ENV}-assets")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=f"{ENV}-assets")["Contents"]] == ["precious"]
    assert not tags_to_dict(ec2.describe_security_groups(GroupIds=[foreign_gid])["SecurityGroups"][0].get("Tags"))
    assert [g["GroupId"] for g in groups_named(aws, f"{ENV}-web")] == [foreign_gid]


async def test_a_bucket_our_killed_create_left_untagged_is_adopted_and_no_other(aws, make_provisioner):
    """A create killed between CreateBucket and its tagging leaves an untagged, empty bucket made
    after the step's create began (the time in its token): resuming the create tags and adopts it.
    An untagged bucket with data, or one older than the create, or a token without a time, is
    someone else's: refused, untouched."""
    import time

    from tui.core.lifecycle.engine import new_token

    s3 = aws("s3")
    prov = make_provisioner()
    token = new_token()                             # a create began…
    s3.create_bucket(Bucket=f"{ENV}-assets")        # …its CreateBucket ran, then the process died
    assert await prov.find(bucket_step()) is None   # untagged: find adopts nothing
    assert await prov.create(bucket_step(), token) == f"{ENV}-assets"
    assert tags_to_dict(s3.get_bucket_tagging(Bucket=f"{ENV}-assets")["TagSet"]) == {
        **OWNER, "envdeck:step": "assets"}
    assert bucket_names(aws) == [f"{ENV}-assets"]

    other = bucket_step(name=f"{ENV}-data")
    s3.create_bucket(Bucket=f"{ENV}-data")
    s3.put_object(Bucket=f"{ENV}-data", Key="precious", Body=b"data")
    for tok in (token, "plain-token-without-time"):
        with pytest.raises(InvalidRequest, match="already exists and is not this environment's"):
            await prov.create(other, tok)
    s3.delete_object(Bucket=f"{ENV}-data", Key="precious")  # empty now, but made before this create began:
    with pytest.raises(InvalidRequest, match="already exists and is not this environment's"):
        await prov.create(other, f"t{int(time.time()) + 3600}-later")
    assert _tags_of(s3, f"{ENV}-data") == {}, "a refused bucket is left untouched"


def _tags_of(s3, name: str) -> dict[str, str]:
    try:
        return tags_to_dict(s3.get_bucket_tagging(Bucket=name)["TagSet"])
    except s3.exceptions.ClientError:
        return {}


async def test_health_is_fresh_and_names_the_reason(aws, make_provisioner):
    prov = make_provisioner()
    gid = await prov.create(sg_step(), "t")
    iid = await prov.create(instance_step([gid]), "t")
    name = await prov.create(bucket_step(), "t")
    ec2, s3 = aws("ec2"), aws("s3")

    ec2.stop_instances(InstanceIds=[iid])
    health = await prov.health(instance_step([gid]), iid)
    assert not health.healthy and health.terminal and "stopped" in health.reason

    # a template asking for a stopped instance: running is not yet healthy, health() stops it
    asked_stopped = instance_step([gid], state="stopped")
    ec2.start_instances(InstanceIds=[iid])
    assert not (await prov.health(asked_stopped, iid)).healthy
    assert (await prov.health(asked_stopped, iid)).healthy

    s3.delete_public_access_block(Bucket=name)
    health = await prov.health(bucket_step(), name)
    assert not health.healthy and not health.terminal and "public access" in health.reason

    ec2.terminate_instances(InstanceIds=[iid])
    health = await prov.health(instance_step([gid]), iid)
    assert not health.healthy and health.terminal and "terminated" in health.reason

    ec2.delete_security_group(GroupId=gid)
    health = await prov.health(sg_step(), gid)
    assert health.terminal and "does not exist" in health.reason


async def test_delete_then_gone_for_each_kind(aws, make_provisioner):
    prov = make_provisioner()
    gid = await prov.create(sg_step(), "t")
    iid = await prov.create(instance_step([gid]), "t")
    name = await prov.create(bucket_step(), "t")
    s3 = aws("s3")
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket=name, Key="a/file", Body=body)
    s3.put_object(Bucket=name, Key="b", Body=b"x")
    s3.delete_object(Bucket=name, Key="b")  # a delete marker
    s3.create_multipart_upload(Bucket=name, Key="big")

    for spec, native in ((instance_step([gid]), iid), (sg_step(), gid), (bucket_step(), name)):
        assert not await prov.gone(spec, native)
        await prov.delete(spec, native)
        assert await prov.gone(spec, native), spec.id
        await prov.delete(spec, native)  # idempotent: gone already is done

    assert live_instances(aws) == []
    assert groups_named(aws, f"{ENV}-web") == []
    assert bucket_names(aws) == []


async def test_sweep_finds_tagged_leftovers_and_deletes_them(aws, make_provisioner):
    prov = make_provisioner()
    gid = await prov.create(sg_step(), "t")
    iid = await prov.create(instance_step([gid]), "t")
    name = await prov.create(bucket_step(), "t")
    aws("s3").put_object(Bucket=name, Key="k", Body=b"v")
    gone_iid = await prov.create(step("old", "ec2-instance", name="old", image_id=AMI, instance_type="t3.micro"), "")
    aws("ec2").terminate_instances(InstanceIds=[gone_iid])  # terminated: keeps its tags, is no leftover
    vol = aws("ec2").create_volume(Size=1, AvailabilityZone="us-east-1a", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "envdeck:env", "Value": ENV}]}])["VolumeId"]
    other = make_provisioner("pr-8")
    other_gid = await other.create(sg_step(name="pr-8-web"), "t")
    other_bucket = await other.create(bucket_step(name="pr-8-assets"), "t")
    other_iid = await other.create(instance_step([other_gid]), "t")

    leftovers = await prov.sweep()
    assert [(lo.kind, lo.native_id) for lo in leftovers] == [  # instances first: they hold the rest
        ("ec2-instance", iid), ("ebs-volume", vol), ("security-group", gid), ("s3-bucket", name)]
    for leftover in leftovers:
        await prov.delete_leftover(leftover)
    # a stale leftover naming another environment's things: checked again, refused (the engine
    # reports it as left alone), never deleted
    for kind, native in (("ec2-instance", other_iid), ("security-group", other_gid), ("s3-bucket", other_bucket)):
        with pytest.raises(ForeignResource):
            await prov.delete_leftover(Leftover("aws", kind, native))

    assert await prov.sweep() == []
    assert [i["InstanceId"] for i in live_instances(aws, "pr-8")] == [other_iid]
    assert aws("ec2").describe_volumes(Filters=[{"Name": "volume-id", "Values": [vol]}])["Volumes"] == []
    assert live_instances(aws) == []
    assert groups_named(aws, f"{ENV}-web") == []
    assert sorted(bucket_names(aws)) == [other_bucket]
    assert [g["GroupId"] for g in groups_named(aws, "pr-8-web")] == [other_gid]


async def test_a_destroys_sweep_lists_kinds_as_their_steps_go_and_still_finds_what_is_left(aws, make_provisioner):
    """A destroy's sweep may list a kind once its steps are gone (`steps_gone`): the deleted
    bucket is no leftover, what is still tagged is (a second bucket of ours, the group), and a
    bucket tagged with the name after the buckets were listed is found too (the tagging API,
    asked by sweep() itself)."""
    prov = make_provisioner()
    gid = await prov.create(sg_step(), "t")
    name = await prov.create(bucket_step(), "t")
    stray = await prov.create(bucket_step(name=f"{ENV}-stray"), "t")
    await prov.delete(bucket_step(), name)
    assert await prov.gone(bucket_step(), name)
    prov.steps_gone(frozenset({"s3-bucket"}))
    await prov._listings["buckets"]               # the buckets listed and their tags read
    s3 = aws("s3")
    s3.create_bucket(Bucket=f"{ENV}-late")
    s3.put_bucket_tagging(Bucket=f"{ENV}-late", Tagging={"TagSet": [{"Key": "envdeck:env", "Value": ENV}]})
    found = {(lo.kind, lo.native_id) for lo in await prov.sweep()}
    assert ("s3-bucket", name) not in found
    assert {("s3-bucket", stray), ("security-group", gid)} <= found, found
    assert ("s3-bucket", f"{ENV}-late") in found, found


async def test_a_leftover_envdeck_cannot_delete_is_an_error_with_the_reason(aws, make_provisioner):
    queue_url = aws("sqs").create_queue(QueueName="pr-7-jobs", tags={"envdeck:env": ENV})["QueueUrl"]
    prov = make_provisioner()
    [leftover] = await prov.sweep()
    # the kind is the observing backend's when it knows the type (sqs-queue), else the ARN's (sqs)
    assert leftover.kind.startswith("sqs") and leftover.arn.endswith(":pr-7-jobs")
    with pytest.raises(BackendError, match=r"envdeck cannot delete sqs.*pr-7-jobs"):
        await prov.delete_leftover(leftover)
    assert aws("sqs").list_queues()["QueueUrls"] == [queue_url]  # still there: the engine lists an orphan


async def test_sleep_then_wake_restores_states_and_counts(aws, make_provisioner):
    prov = make_provisioner()
    a = await prov.create(step("a", "ec2-instance", name="a", image_id=AMI, instance_type="t3.micro"), "")
    b = await prov.create(step("b", "ec2-instance", name="b", image_id=AMI, instance_type="t3.micro"), "")
    idle = await prov.create(step("idle", "ec2-instance", name="idle", image_id=AMI, instance_type="t3.micro"), "")
    ec2, ecs = aws("ec2"), aws("ecs")
    ec2.stop_instances(InstanceIds=[idle])  # stopped before the sleep: stays stopped after the wake
    other = await make_provisioner("pr-8").create(
        step("a", "ec2-instance", name="x", image_id=AMI, instance_type="t3.micro"), "")
    ecs.create_cluster(clusterName="apps")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "nginx", "memory": 64}])
    ecs.create_service(cluster="apps", serviceName="api", taskDefinition="api", desiredCount=3,
                       tags=[{"key": "envdeck:env", "value": ENV}])

    def states() -> dict[str, str]:
        found = ec2.describe_instances(InstanceIds=[a, b, idle, other])["Reservations"]
        return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}

    def desired() -> int:
        return ecs.describe_services(cluster="apps", services=["api"])["services"][0]["desiredCount"]

    memory = await prov.sleep()
    assert memory == {f"aws/ec2-instance/{a}": {"state": "running"}, f"aws/ec2-instance/{b}": {"state": "running"},
                      "aws/ecs-service/apps/api": {"desired_count": 3}}
    assert states() == {a: "stopped", b: "stopped", idle: "stopped", other: "running"}
    assert desired() == 0
    # a crash after the calls and before the engine stored the memory: sleeping again remembers the same
    assert await make_provisioner().sleep() == memory

    await prov.wake(memory)
    assert states() == {a: "running", b: "running", idle: "stopped", other: "running"}
    assert desired() == 3
    tags = {i["InstanceId"]: tags_to_dict(i.get("Tags")) for r in ec2.describe_instances(InstanceIds=[a, b])[
        "Reservations"] for i in r["Instances"]}
    assert all(ASLEEP_TAG not in t for t in tags.values())
    svc = ecs.describe_services(cluster="apps", services=["api"], include=["TAGS"])["services"][0]
    assert ASLEEP_TAG not in tags_to_dict(svc.get("tags"))


@pytest.mark.parametrize("name", ["{env}-assets", "assets; rm -rf /", "$(touch TMP/pwned)", "a`touch TMP/pwned`b",
                                  "UPPER-case", "x", "pr-7-assets\n", "192.168.1.1"])
async def test_hostile_bucket_names_fail_clearly_and_create_nothing(aws, make_provisioner, tmp_path, name):
    name = name.replace("TMP", str(tmp_path))
    prov = make_provisioner()
    for call in (lambda: prov.create(bucket_step(name=name), "t"), lambda: prov.find(bucket_step(name=name)),
                 lambda: prov.health(bucket_step(name=name), name)):
        with pytest.raises(InvalidRequest) as caught:
            await call()
        message = str(caught.value)
        assert "'assets'" in message and "not a valid S3 bucket name" in message
    assert bucket_names(aws) == []
    assert not (tmp_path / "pwned").exists()


async def test_other_bad_fields_name_the_step_and_field(aws, make_provisioner):
    prov = make_provisioner()
    with pytest.raises(InvalidRequest, match=r"'web'.*security_groups.*'\{web-sg\}' is not a security group id"):
        await prov.create(instance_step(["{web-sg}"]), "t")
    with pytest.raises(InvalidRequest, match=r"'web-sg'.*ingress\.0\.cidr.*not a CIDR"):
        await prov.create(sg_step(ingress=[{"port": 22, "cidr": "everywhere"}]), "t")
    with pytest.raises(InvalidRequest, match=r"'q'.*kind 'sqs-queue' is not one envdeck creates"):
        await prov.create(step("q", "sqs-queue", name="q"), "t")
    assert live_instances(aws) == [] and groups_named(aws, f"{ENV}-web") == []


async def test_security_group_names_with_shell_characters_stay_data(aws, make_provisioner):
    prov = make_provisioner()
    name = "web; rm -rf / $(id) {env}"  # EC2 accepts these characters in a VPC group name
    gid = await prov.create(sg_step(name=name), "t")
    [group] = aws("ec2").describe_security_groups(GroupIds=[gid])["SecurityGroups"]
    assert group["GroupName"] == name and tags_to_dict(group["Tags"])["Name"] == name
    assert await prov.find(sg_step(name=name)) == gid


async def test_unreachable_endpoint_is_a_clear_backend_error(make_provisioner):
    prov = make_provisioner(endpoint_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(BackendUnreachable, match="endpoint unreachable"):
        await prov.find(instance_step([]))


async def test_another_instance_of_the_same_name_is_refused_never_adopted(aws, make_provisioner):
    """Two environments named alike (two stores): the second never adopts, deletes or sleeps the
    first's things; its sweep reports them with their instance and step tags."""
    first, second = make_provisioner(), make_provisioner()
    first.bind_instance("a" * 32)
    second.bind_instance("b" * 32)
    gid = await first.create(sg_step(), "t")
    iid = await first.create(instance_step([gid]), "t")
    name = await first.create(bucket_step(), "t")
    assert tags_to_dict(live_instances(aws)[0]["Tags"])["envdeck:instance"] == "a" * 32
    for made_step in (sg_step(), instance_step([gid]), bucket_step()):
        with pytest.raises(ForeignResource, match=f"belongs to another envdeck environment named {ENV} "
                                                  rf"\(instance {'a' * 32}\), created elsewhere"):
            await second.find(made_step)
    with pytest.raises(ForeignResource):
        await second.create(sg_step(), "t")
    with pytest.raises(ForeignResource):
        await second.delete(bucket_step(), name)
    assert await second.sleep() == {}
    marks = {(lo.kind, lo.native_id): (lo.instance, lo.step) for lo in await second.sweep()}
    assert marks[("ec2-instance", iid)] == ("a" * 32, "web") and marks[("s3-bucket", name)] == ("a" * 32, "assets")
    for leftover in await second.sweep():
        with pytest.raises(ForeignResource):
            await second.delete_leftover(leftover)
    assert [i["InstanceId"] for i in live_instances(aws)] == [iid] and bucket_names(aws) == [name]
    assert await first.find(instance_step([gid])) == iid, "the first still adopts its own"


async def test_sleep_scales_down_only_this_instances_ecs_services(aws, make_provisioner):
    """An ECS service merely tagged with the environment's name, or with another instance's id, is
    neither scaled down by the sleep nor remembered (a planted `envdeck:asleep=500` on it does not
    make the wake scale it to 500); this instance's own service is."""
    prov = make_provisioner()
    prov.bind_instance("a" * 32)
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="apps")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "nginx", "memory": 64}])
    env_tag = {"key": "envdeck:env", "value": ENV}
    services = {  # name: (desired count, tags)
        "mine": (2, [env_tag, {"key": "envdeck:instance", "value": "a" * 32}]),
        "theirs": (3, [env_tag]),
        "other-instance": (4, [env_tag, {"key": "envdeck:instance", "value": "b" * 32}]),
        "planted": (0, [env_tag, {"key": ASLEEP_TAG, "value": "500"}]),
        "planted-other": (0, [env_tag, {"key": "envdeck:instance", "value": "b" * 32},
                              {"key": ASLEEP_TAG, "value": "500"}]),
    }
    for name, (count, tags) in services.items():
        ecs.create_service(cluster="apps", serviceName=name, taskDefinition="api", desiredCount=count, tags=tags)

    def desired() -> dict[str, int]:
        found = ecs.describe_services(cluster="apps", services=list(services))["services"]
        return {s["serviceName"]: s["desiredCount"] for s in found}

    memory = await prov.sleep()
    assert memory == {"aws/ecs-service/apps/mine": {"desired_count": 2}}
    assert desired() == {"mine": 0, "theirs": 3, "other-instance": 4, "planted": 0, "planted-other": 0}
    untouched = ecs.describe_services(cluster="apps", services=["theirs", "other-instance"], include=["TAGS"])
    assert all(ASLEEP_TAG not in tags_to_dict(s.get("tags")) for s in untouched["services"])
    await prov.wake(memory)
    assert desired() == {"mine": 2, "theirs": 3, "other-instance": 4, "planted": 0, "planted-other": 0}
