"""Each compliance rule both ways, on resources a moto server holds."""

from __future__ import annotations

import pytest

from backends.aws.compliance import RULES
from tests.aws import arrange
from tests.aws.arrange import by_id
from tui.core.model import Severity


def rules_of(resource) -> set[str]:
    return {f.rule for f in resource.findings}


async def test_s3_rules_both_ways(aws, make_backend):
    """moto leaves new buckets unencrypted and unblocked; real AWS has turned both on by
    default since 2023, so there a fresh bucket passes both rules."""
    arrange.bucket(aws, "staging", "bare")
    arrange.bucket(aws, "staging", "locked", encrypted=True, blocked=True)
    arrange.bucket(aws, "staging", "half")
    aws("s3").put_public_access_block(Bucket="half", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True})
    res = by_id(await make_backend().observe())
    bare = res["aws/s3-bucket/bare"]
    assert rules_of(bare) == {"s3-encryption", "s3-public-access-block"}
    assert all(f.resource == bare.id and f.message for f in bare.findings)
    assert rules_of(res["aws/s3-bucket/locked"]) == set()
    half = res["aws/s3-bucket/half"]
    assert "s3-public-access-block" in rules_of(half)
    assert "BlockPublicPolicy" in next(f.message for f in half.findings if f.rule == "s3-public-access-block")


@pytest.mark.parametrize(("permission", "open_"), [
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, True),
    ({"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}, True),
    ({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, True),
    ({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, True),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, False),
    ({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, False),
    ({"IpProtocol": "udp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, False),
])
async def test_security_group_open_admin_port(aws, make_backend, permission, open_):
    gid = arrange.security_group(aws, "staging", "g", [permission])
    group = by_id(await make_backend().observe())[f"aws/security-group/{gid}"]
    assert ("sg-open-admin-port" in rules_of(group)) is open_


async def test_ec2_imdsv2_both_ways(aws, make_backend):
    v1 = arrange.instance(aws, "staging", "old", imds_required=False)
    v2 = arrange.instance(aws, "staging", "new", imds_required=True)
    res = by_id(await make_backend().observe())
    assert rules_of(res[f"aws/ec2-instance/{v1}"]) == {"ec2-imdsv2"}
    assert rules_of(res[f"aws/ec2-instance/{v2}"]) == set()


async def test_ebs_encryption_both_ways(aws, make_backend):
    plain = arrange.volume(aws, "staging", encrypted=False)
    sealed = arrange.volume(aws, "staging", encrypted=True)
    res = by_id(await make_backend().observe())
    assert rules_of(res[f"aws/ebs-volume/{plain}"]) == {"ebs-encryption"}
    assert rules_of(res[f"aws/ebs-volume/{sealed}"]) == set()


async def test_rds_public_and_encryption_both_ways(aws, make_backend):
    arrange.db_instance(aws, "staging", "open-db", public=True, encrypted=False)
    arrange.db_instance(aws, "staging", "closed-db", public=False, encrypted=True)
    res = by_id(await make_backend().observe())
    assert rules_of(res["aws/rds-instance/open-db"]) == {"rds-public", "rds-encryption"}
    assert rules_of(res["aws/rds-instance/closed-db"]) == set()


async def test_findings_carry_the_rule_severity_and_evaluate_compliance_lists_them(aws, make_backend):
    arrange.bucket(aws, "staging", "bare")
    backend = make_backend()
    obs = await backend.observe()
    findings = backend.evaluate_compliance(obs.resources)
    assert {f.rule for f in findings} == {"s3-encryption", "s3-public-access-block"}
    for f in findings:
        assert f.severity == RULES[f.rule].severity
    assert RULES["s3-public-access-block"].severity == Severity.HIGH
