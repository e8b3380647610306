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
        Rule("lambda-public-url", "lambda-function", Severity.HIGH,
             "Lambda function URL without authentication (AuthType NONE)"),
        Rule("dynamodb-kms", "dynamodb-table", Severity.LOW,
             "DynamoDB table encrypted only with an AWS owned key (no KMS key)"),
        Rule("sqs-encryption", "sqs-queue", Severity.MEDIUM, "SQS queue without server-side encryption"),
        Rule("elb-open-plaintext-listener", "load-balancer", Severity.HIGH,
             "internet-facing load balancer listener without TLS open to 0.0.0.0/0 or ::/0"),
    )
}


def controls_for(kind: str) -> tuple[str, ...]:
    """The rules evaluated on a resource of `kind` (`s3-bucket`: its encryption and public access block)."""
    return _CONTROLS.get(kind, ())


_CONTROLS: dict[str, tuple[str, ...]] = {}
for _rule in RULES.values():
    _CONTROLS[_rule.kind] = (*_CONTROLS.get(_rule.kind, ()), _rule.id)


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


def lambda_function_findings(resource_id: str, url: dict[str, Any] | None) -> list[Finding]:
    if url is not None and url.get("AuthType") == "NONE":
        where = url.get("FunctionUrl") or "the function URL"
        return [_finding("lambda-public-url", resource_id, f"{where} is public (AuthType NONE)")]
    return []


def dynamodb_table_findings(resource_id: str, table: dict[str, Any]) -> list[Finding]:
    """DynamoDB encrypts every table at rest; without an SSEDescription the key is AWS owned
    (no key policy, no CloudTrail record of its use, no revocation)."""
    sse = table.get("SSEDescription") or {}
    if sse.get("Status") in ("ENABLED", "ENABLING", "UPDATING") and sse.get("SSEType") == "KMS":
        return []
    return [_finding("dynamodb-kms", resource_id, "encrypted with an AWS owned key only (no KMS key)")]


def sqs_queue_findings(resource_id: str, attributes: dict[str, str]) -> list[Finding]:
    if attributes.get("KmsMasterKeyId") or str(attributes.get("SqsManagedSseEnabled", "")).lower() == "true":
        return []
    return [_finding("sqs-encryption", resource_id, "no server-side encryption (neither SSE-SQS nor SSE-KMS)")]


_PLAINTEXT_PROTOCOLS = {"HTTP", "TCP", "UDP", "TCP_UDP"}


def _redirects_to_https(listener: dict[str, Any]) -> bool:
    actions = listener.get("DefaultActions") or []
    return bool(actions) and all(
        a.get("Type") == "redirect" and (a.get("RedirectConfig") or {}).get("Protocol") == "HTTPS" for a in actions)


def _open_sources(port: int, groups: list[dict[str, Any]]) -> list[str]:
    found: set[str] = set()
    for group in groups:
        for permission in group.get("IpPermissions") or []:
            sources = [r.get("CidrIp") for r in permission.get("IpRanges") or []]
            sources += [r.get("CidrIpv6") for r in permission.get("Ipv6Ranges") or []]
            if _covers(permission, port):
                found.update(s for s in sources if s in (OPEN_CIDRS_V4, OPEN_CIDRS_V6))
    return sorted(found)


def load_balancer_findings(resource_id: str, lb: dict[str, Any], listeners: list[dict[str, Any]],
                           security_groups: list[dict[str, Any]] | None) -> list[Finding]:
    """An internet-facing listener that does not terminate TLS (HTTP, or TCP/UDP on an NLB) and
    whose security groups let the whole internet in on its port (a load balancer without
    security groups filters nothing). An HTTP listener that only redirects to HTTPS is fine.
    `security_groups`: the records of the load balancer's groups, None when unknown."""
    if lb.get("Scheme") != "internet-facing":
        return []
    exposed = []
    for listener in listeners:
        protocol, port = str(listener.get("Protocol", "")), listener.get("Port")
        if protocol not in _PLAINTEXT_PROTOCOLS or port is None or _redirects_to_https(listener):
            continue
        if not lb.get("SecurityGroups"):
            exposed.append(f"{protocol}:{port} (no security group)")
            continue
        sources = _open_sources(int(port), security_groups or [])
        if sources:
            exposed.append(f"{protocol}:{port} from {' and '.join(sources)}")
    if not exposed:
        return []
    return [_finding("elb-open-plaintext-listener", resource_id,
                     "listener without TLS open to the internet: " + "; ".join(exposed))]
