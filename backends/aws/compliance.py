"""Compliance rules for AWS resources. Each rule has a stable id, a severity and a message.

Note: since 2023 real AWS turns S3 default encryption (SSE-S3) and the public access
block on for new buckets; moto does not, so a bucket fresh from moto breaks both
S3 rules while one fresh from AWS breaks neither.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from tui.core.model import Finding, Severity

ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
OPEN_CIDRS_V4 = "0.0.0.0/0"
OPEN_CIDRS_V6 = "::/0"
PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


class Rule(NamedTuple):
    id: str
    kind: str
    severity: Severity
    title: str


RULES = {
    rule.id: rule for rule in (
        Rule("s3-encryption", "s3-bucket", Severity.MEDIUM, "S3 bucket without default encryption"),
        Rule("s3-public-access-block", "s3-bucket", Severity.HIGH, "S3 bucket without a full public access block"),
        Rule("sg-open-admin-port", "security-group", Severity.HIGH,
             "security group open to the internet on SSH (22) or RDP (3389)"),
        Rule("ec2-imdsv2", "ec2-instance", Severity.MEDIUM, "EC2 instance does not require IMDSv2"),
        Rule("ebs-encryption", "ebs-volume", Severity.MEDIUM, "unencrypted EBS volume"),
        Rule("rds-public", "rds-instance", Severity.HIGH, "RDS instance publicly accessible"),
        Rule("rds-encryption", "rds-instance", Severity.MEDIUM, "RDS instance storage not encrypted"),
    )
}


def _finding(rule_id: str, resource_id: str, message: str) -> Finding:
    return Finding(rule=rule_id, severity=RULES[rule_id].severity, message=message, resource=resource_id)


def s3_bucket_findings(resource_id: str, encryption: dict[str, Any] | None,
                       public_access_block: dict[str, bool] | None) -> list[Finding]:
    findings = []
    if encryption is None:
        findings.append(_finding("s3-encryption", resource_id, "no default encryption configured"))
    missing = [f for f in PUBLIC_ACCESS_FLAGS if not (public_access_block or {}).get(f)]
    if public_access_block is None:
        findings.append(_finding("s3-public-access-block", resource_id, "no public access block configured"))
    elif missing:
        findings.append(_finding("s3-public-access-block", resource_id,
                                 "public access block incomplete: " + ", ".join(missing) + " off"))
    return findings


def _covers(permission: dict[str, Any], port: int) -> bool:
    protocol = str(permission.get("IpProtocol", ""))
    if protocol == "-1":
        return True
    if protocol not in ("tcp", "6"):
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None:
        return True
    return int(low) <= port <= int(high)


def security_group_findings(resource_id: str, group: dict[str, Any]) -> list[Finding]:
    exposed: list[str] = []
    for permission in group.get("IpPermissions") or []:
        sources = [r.get("CidrIp") for r in permission.get("IpRanges") or []]
        sources += [r.get("CidrIpv6") for r in permission.get("Ipv6Ranges") or []]
        open_sources = sorted({s for s in sources if s in (OPEN_CIDRS_V4, OPEN_CIDRS_V6)})
        for port, label in sorted(ADMIN_PORTS.items()):
            if open_sources and _covers(permission, port):
                exposed.append(f"{label} ({port}) from {' and '.join(open_sources)}")
    if not exposed:
        return []
    return [_finding("sg-open-admin-port", resource_id, "ingress open to the internet: " + "; ".join(
        dict.fromkeys(exposed)))]


def ec2_instance_findings(resource_id: str, instance: dict[str, Any]) -> list[Finding]:
    options = instance.get("MetadataOptions") or {}
    if options.get("HttpEndpoint", "enabled") == "disabled":
        return []  # no metadata service at all: nothing to steal
    if options.get("HttpTokens") != "required":
        return [_finding("ec2-imdsv2", resource_id,
                         f"instance metadata allows IMDSv1 (HttpTokens={options.get('HttpTokens', 'unset')})")]
    return []


def ebs_volume_findings(resource_id: str, volume: dict[str, Any]) -> list[Finding]:
    if not volume.get("Encrypted"):
        return [_finding("ebs-encryption", resource_id, "volume is not encrypted")]
    return []


def rds_instance_findings(resource_id: str, db: dict[str, Any]) -> list[Finding]:
    findings = []
    if db.get("PubliclyAccessible"):
        findings.append(_finding("rds-public", resource_id, "instance is publicly accessible"))
    if not db.get("StorageEncrypted"):
        findings.append(_finding("rds-encryption", resource_id, "storage is not encrypted"))
    return findings
