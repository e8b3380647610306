"""The fields of the AWS lifecycle steps, validated before any API call.

A step's fields come from a template rendered with `{env}`, `{creator}` and parameter
values, so they are data from users: each kind's fields are checked against what AWS
accepts (bucket names, security group names, ids) and a bad value is an InvalidRequest
naming the step and the field, never a botocore parameter error or a traceback. Nothing
here ever reaches a shell.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tui.core.errors import InvalidRequest
from tui.core.lifecycle.records import StepSpec

KINDS = ("s3-bucket", "security-group", "ec2-instance")

# S3 general purpose bucket naming rules (no dots-in-a-row, no IP-address look, no reserved affixes).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_RESERVED = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# VPC security group names and descriptions: what EC2 accepts.
_SG_TEXT_RE = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}$")
_SG_ID_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")
_AMI_RE = re.compile(r"^ami-[0-9a-z]{4,32}$")
_INSTANCE_TYPE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+$")


class _Fields(BaseModel):
    # The renderer may carry keys that belong to the plan (id, kind, depends_on): ignored here.
    model_config = ConfigDict(extra="ignore", frozen=True)


class BucketFields(_Fields):
    name: str
    encryption: bool = True
    public_access_blocked: bool = True

    @field_validator("name")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if (not _BUCKET_RE.fullmatch(value) or ".." in value or value.startswith(_BUCKET_RESERVED)
                or value.endswith(_BUCKET_RESERVED_SUFFIXES) or _looks_like_ip(value)):
            raise ValueError(f"{value[:80]!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, "
                             "dots and hyphens, starting and ending with a letter or digit)")
        return value


class IngressRule(_Fields):
    port: int | None = Field(default=None, ge=0, le=65535)
    cidr: str
    protocol: Literal["tcp", "udp", "icmp", "all", "-1"] = "tcp"

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"{value[:80]!r} is not a CIDR block (e.g. 10.0.0.0/8)") from None

    def permission(self) -> dict[str, Any]:
        """The EC2 `IpPermissions` entry of this rule."""
        network = ipaddress.ip_network(self.cidr)
        ranges = ({"Ipv6Ranges": [{"CidrIpv6": self.cidr}]} if network.version == 6
                  else {"IpRanges": [{"CidrIp": self.cidr}]})
        if self.protocol in ("all", "-1"):
            return {"IpProtocol": "-1", **ranges}
        if self.protocol == "icmp":
            return {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, **ranges}
        if self.port is None:
            raise ValueError(f"a {self.protocol} rule needs a port")
        return {"IpProtocol": self.protocol, "FromPort": self.port, "ToPort": self.port, **ranges}


class SecurityGroupFields(_Fields):
    name: str
    description: str | None = None
    ingress: list[IngressRule] = Field(default_factory=list)

    @field_validator("name", "description")
    @classmethod
    def _sg_text(cls, value: str | None) -> str | None:
        if value is not None and not _SG_TEXT_RE.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not accepted by EC2 (1-255 of letters, digits, spaces "
                             "and ._-:/()#,@[]+=&;{}!$*)")
        if value is not None and value.lower().startswith("sg-"):
            raise ValueError("a security group name cannot start with sg-")
        return value


class InstanceFields(_Fields):
    name: str = Field(min_length=1, max_length=256)
    image_id: str
    instance_type: str
    security_groups: list[str] = Field(default_factory=list)
    state: Literal["running", "stopped"] = "running"

    @field_validator("image_id")
    @classmethod
    def _image(cls, value: str) -> str:
        if not _AMI_RE.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not an AMI id (ami-…)")
        return value

    @field_validator("instance_type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not _INSTANCE_TYPE_RE.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not an instance type (e.g. t3.micro)")
        return value

    @field_validator("security_groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        for group in value:
            if not _SG_ID_RE.fullmatch(group):
                raise ValueError(f"{group[:80]!r} is not a security group id (sg-…); a {{step-id}} reference "
                                 "must name a security-group step")
        return value


_MODELS: dict[str, type[_Fields]] = {
    "s3-bucket": BucketFields, "security-group": SecurityGroupFields, "ec2-instance": InstanceFields}


def _looks_like_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def parse_fields(step: StepSpec) -> Any:
    """The step's fields as the model of its kind; InvalidRequest naming step and field otherwise."""
    model = _MODELS.get(step.kind)
    if model is None:
        raise InvalidRequest(f"aws step {step.id!r}: kind {step.kind!r} is not one envdeck creates "
                             f"({', '.join(KINDS)})", backend="aws")
    try:
        parsed = model.model_validate(step.fields)
        if isinstance(parsed, SecurityGroupFields):
            for rule in parsed.ingress:
                rule.permission()
        return parsed
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'fields'}: "
                             f"{str(err['msg']).removeprefix('Value error, ')}" for err in exc.errors())
        raise InvalidRequest(f"aws step {step.id!r} ({step.kind}): {problems}", backend="aws") from None
    except ValueError as exc:
        raise InvalidRequest(f"aws step {step.id!r} ({step.kind}): ingress: {exc}", backend="aws") from None
