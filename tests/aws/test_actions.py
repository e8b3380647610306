"""Actions (listed per state, with roles) and performing them against moto; shell argv; console links."""

from __future__ import annotations

import pytest

from backends.aws import console_links
from tests.aws import arrange
from tests.aws.arrange import by_id
from tui.core.errors import InvalidRequest
from tui.core.model import Health, Role


def names(specs) -> list[str]:
    return [s.name for s in specs]


async def test_ec2_stop_start_reboot_terminate(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    backend = make_backend()
    rid = f"aws/ec2-instance/{iid}"
    res = by_id(await backend.observe())[rid]
    specs = {s.name: s for s in backend.actions(res)}
    assert set(specs) == {"stop", "reboot", "shell", "terminate"}
    assert specs["stop"].role == Role.OPERATOR and not specs["stop"].destructive
    assert specs["terminate"].role == Role.ADMIN and specs["terminate"].destructive

    result = await backend.perform(res, "stop", {})
    assert result.ok and rid in result.message
    res = by_id(await backend.observe())[rid]
    assert res.status == "stopped"
    assert names(backend.actions(res)) == ["start", "terminate"]

    await backend.perform(res, "start", {})
    res = by_id(await backend.observe())[rid]
    assert res.status == "running"

    assert (await backend.perform(res, "reboot", {})).ok
    assert by_id(await backend.observe())[rid].status == "running"

    await backend.perform(res, "terminate", {})
    state = aws("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "terminated"
    assert rid not in by_id(await backend.observe())


async def test_ecs_scale_and_force_new_deployment(aws, make_backend):
    arrange.ecs_service(aws, "staging", "main", "api", desired=2)
    backend = make_backend()
    rid = "aws/ecs-service/main/api"
    svc = by_id(await backend.observe())[rid]
    specs = {s.name: s for s in backend.actions(svc)}
    assert specs["scale"].params == ("desired_count",)
    assert "force-new-deployment" in specs

    result = await backend.perform(svc, "scale", {"desired_count": "5"})
    assert result.data == {"desired_count": 5}
    described = aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]
    assert described["desiredCount"] == 5

    before = described["deployments"][0]["id"]
    await backend.perform(svc, "force-new-deployment", {})
    after = aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]["deployments"][0]["id"]
    assert after != before
    await backend.perform(svc, "restart", {})  # the k9s word for the same thing
    assert aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]["deployments"][0]["id"] != after


@pytest.mark.parametrize("bad", [{}, {"desired_count": "many"}, {"desired_count": "-1"}])
async def test_ecs_scale_rejects_bad_counts(aws, make_backend, bad):
    arrange.ecs_service(aws, "staging", "main", "api", desired=2)
    backend = make_backend()
    svc = by_id(await backend.observe())["aws/ecs-service/main/api"]
    with pytest.raises(InvalidRequest):
        await backend.perform(svc, "scale", bad)
    assert aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]["desiredCount"] == 2


async def test_rds_stop_start_reboot(aws, make_backend):
    arrange.db_instance(aws, "staging", "staging-db")
    backend = make_backend()
    rid = "aws/rds-instance/staging-db"
    db = by_id(await backend.observe())[rid]
    assert names(backend.actions(db)) == ["stop", "reboot"]
    await backend.perform(db, "stop", {})
    db = by_id(await backend.observe())[rid]
    assert db.status == "stopped" and db.health == Health.SUSPENDED
    assert names(backend.actions(db)) == ["start"]
    await backend.perform(db, "start", {})
    db = by_id(await backend.observe())[rid]
    assert db.status == "available"
    result = await backend.perform(db, "reboot", {})
    assert result.ok


async def test_unknown_action_is_invalid(aws, make_backend):
    arrange.bucket(aws, "staging", "staging-assets")
    backend = make_backend()
    bucket = by_id(await backend.observe())["aws/s3-bucket/staging-assets"]
    with pytest.raises(InvalidRequest):
        await backend.perform(bucket, "reboot", {})


async def test_shell_is_ssh_to_the_instance_address_with_user_and_key(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    backend = make_backend(ssh_user="ec2-user", identity_file="~/.ssh/ops key")
    res = by_id(await backend.observe())[f"aws/ec2-instance/{iid}"]
    argv = backend.shell_command(res)
    assert argv is not None and argv[0] == "ssh"
    assert argv[argv.index("-l") + 1] == "ec2-user"
    key = argv[argv.index("-i") + 1]
    assert key.endswith("/.ssh/ops key") and not key.startswith("~")  # one argv item, expanded
    assert argv[-2:] == ["--", res.attributes["private_ip"]]
    assert argv[argv.index("-o") + 1] == f"ConnectTimeout={round(backend.defaults.timeout)}"
    plain = make_backend()
    assert plain.shell_command(res) == ["ssh", "-o", f"ConnectTimeout={round(plain.defaults.timeout)}", "--",
                                        res.attributes["private_ip"]]  # the rest: ~/.ssh/config decides


async def test_shell_through_ssm_when_configured(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    backend = make_backend(shell="ssm", profile=None, region="us-east-1")
    res = by_id(await backend.observe())[f"aws/ec2-instance/{iid}"]
    assert backend.shell_command(res) == ["aws", "ssm", "start-session", "--target", iid, "--region", "us-east-1"]
    result = await backend.perform(res, "shell", {})
    assert result.data["argv"][:3] == ["aws", "ssm", "start-session"]
    aws("ec2").stop_instances(InstanceIds=[iid])
    stopped = by_id(await backend.observe())[f"aws/ec2-instance/{iid}"]
    assert backend.shell_command(stopped) is None
    assert "shell" not in names(backend.actions(stopped))


async def test_console_urls_for_every_kind_use_the_region(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    gid = arrange.security_group(aws, "staging", "g")
    vid = arrange.volume(aws, "staging", encrypted=True)
    arrange.bucket(aws, "staging", "staging-assets")
    arrange.db_instance(aws, "staging", "staging-db")
    arrange.ecs_service(aws, "staging", "main", "api")
    res = by_id(await make_backend().observe())
    expected = {
        f"aws/ec2-instance/{iid}":
            f"https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#InstanceDetails:instanceId={iid}",
        f"aws/security-group/{gid}":
            f"https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#SecurityGroup:groupId={gid}",
        f"aws/ebs-volume/{vid}":
            f"https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#VolumeDetails:volumeId={vid}",
        "aws/s3-bucket/staging-assets":
            "https://s3.console.aws.amazon.com/s3/buckets/staging-assets?region=us-east-1&tab=objects",
        "aws/rds-instance/staging-db":
            "https://us-east-1.console.aws.amazon.com/rds/home?region=us-east-1#database:id=staging-db;is-cluster=false",
        "aws/ecs-service/main/api":
            "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/main/services/api/health?region=us-east-1",
    }
    assert {rid: res[rid].console_url for rid in expected} == expected


def test_console_urls_of_log_groups_alarms_and_other_partitions():
    assert console_links.log_group("eu-west-1", "/aws/ecs/api") == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#logsV2:log-groups/log-group/$252Faws$252Fecs$252Fapi")
    assert console_links.alarm("eu-west-1", "cpu high") == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/cpu%20high")
    assert console_links.ec2_instance("cn-north-1", "i-1").startswith("https://cn-north-1.console.amazonaws.cn/")
    assert console_links.rds_instance("us-gov-west-1", "db").startswith(
        "https://us-gov-west-1.console.amazonaws-us-gov.com/rds/home?region=us-gov-west-1")
