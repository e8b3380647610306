"""Desired state of the `aws.desired` config entries: placeholders, field-level drift, repairs.

Fields are named exactly as the config keys: `state` (ec2-instance), `desired_count`
(ecs-service), `encryption` and `public_access_blocked` (s3-bucket), `desired_capacity`
(autoscaling-group), `reserved_concurrency` (lambda-function). A desired
resource that the environment's tags do not find is a placeholder with health
Missing; a drift repair does not create a missing resource (the lifecycle does: `envdeck env
create` from a template), so its drift cannot be repaired.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tui.core.config import AwsConfig, Ec2InstanceDesired, EcsServiceDesired
from tui.core.model import Drift, DriftItem, Health, Resource, resource_id

FIELDS = {"ec2-instance": ("state",), "ecs-service": ("desired_count",),
          "s3-bucket": ("encryption", "public_access_blocked"), "autoscaling-group": ("desired_capacity",),
          "lambda-function": ("reserved_concurrency",)}
# The pseudo-field of a desired resource that does not exist at all (only when no field is given).
EXISTS = "exists"
# A transition already under way counts as the state it leads to.
_HEADING_TO = {"pending": "running", "stopping": "stopped"}


def placeholder_id(entry: Any) -> str:
    if isinstance(entry, EcsServiceDesired):
        return resource_id("aws", "ecs-service", f"{entry.cluster}/{entry.name}")
    return resource_id("aws", entry.kind, entry.name)


def matches(entry: Any, resources: list[Resource]) -> list[Resource]:
    """Observed resources a desired entry describes (EC2 instances by their Name tag)."""
    if isinstance(entry, Ec2InstanceDesired):
        return [r for r in resources if r.kind == "ec2-instance" and r.health != Health.MISSING
                and r.attributes.get("tags", {}).get("Name") == entry.name]
    wanted = placeholder_id(entry)
    return [r for r in resources if r.id == wanted and r.health != Health.MISSING]


def desired_values(entry: Any) -> dict[str, Any]:
    return {f: getattr(entry, f) for f in FIELDS[entry.kind] if getattr(entry, f) is not None}


def actual_value(resource: Resource, field: str) -> Any:
    if field == "state":
        return resource.attributes.get("state")
    return resource.attributes.get(field)


def _in_sync(field: str, desired: Any, actual: Any) -> bool:
    if field == "state":
        return actual == desired or _HEADING_TO.get(str(actual)) == desired
    return actual == desired


in_sync = _in_sync

# The desired fields an action sets: (kind, action) -> (field, value); value None = from the params.
_EFFECTS: dict[tuple[str, str], tuple[str, Any]] = {
    ("ec2-instance", "start"): ("state", "running"),
    ("ec2-instance", "stop"): ("state", "stopped"),
    ("ecs-service", "scale"): ("desired_count", None),
    ("autoscaling-group", "set-desired-capacity"): ("desired_capacity", None),
    ("lambda-function", "set-concurrency"): ("reserved_concurrency", None),
    ("s3-bucket", "enable-encryption"): ("encryption", True),
    ("s3-bucket", "disable-encryption"): ("encryption", False),
    ("s3-bucket", "block-public-access"): ("public_access_blocked", True),
    ("s3-bucket", "unblock-public-access"): ("public_access_blocked", False),
}


def action_effect(kind: str, action: str, params: dict[str, str]) -> dict[str, Any]:
    """The desired-state field an action sets, with its value ({} for the others)."""
    effect = _EFFECTS.get((kind, action))
    if effect is None:
        return {}
    field, value = effect
    if value is None:
        try:
            value = int(str(params.get(field, "")).strip())
        except ValueError:
            return {}
    return {field: value}


def placeholders(config: AwsConfig, resources: list[Resource], observed_at: datetime) -> list[Resource]:
    tags = ", ".join(f"{k}={v}" for k, v in config.tags.items())
    out = []
    for entry in config.desired:
        if matches(entry, resources):
            continue
        out.append(Resource(
            id=placeholder_id(entry), backend="aws", kind=entry.kind, name=entry.name,
            health=Health.MISSING, drift=Drift.DRIFTED, status="absent", observed_at=observed_at,
            health_reason=f"desired in config but no {entry.kind} named {entry.name!r} carries the tags {tags}",
            attributes={"desired": desired_values(entry), "placeholder": True},
        ))
    return out


def diff(config: AwsConfig, resources: list[Resource]) -> list[DriftItem]:
    items: list[DriftItem] = []
    for entry in config.desired:
        wanted = desired_values(entry)
        found = matches(entry, resources)
        if not found:
            # Every desired field is off; an entry that only names the resource still drifts on
            # its existence, so that the placeholder stays Drifted.
            items += [DriftItem(placeholder_id(entry), f, value, None) for f, value in wanted.items()] or [
                DriftItem(placeholder_id(entry), EXISTS, True, False)]
            continue
        for res in found:
            for f, value in wanted.items():
                actual = actual_value(res, f)
                if not _in_sync(f, value, actual):
                    items.append(DriftItem(res.id, f, value, actual))
    return items


def drift_state(resource: Resource, items: list[DriftItem], config: AwsConfig) -> Drift | None:
    """InSync / Drifted for resources under desired state, None for the others."""
    if any(i.resource == resource.id for i in items):
        return Drift.DRIFTED
    if any(resource in matches(e, [resource]) for e in config.desired):
        return Drift.IN_SYNC
    return None


def repair_action(item: DriftItem) -> tuple[str, dict[str, str]]:
    """The action (and its params) that brings a drifted field to its desired value."""
    if item.field == "state":
        return ("start" if item.desired == "running" else "stop"), {}
    if item.field == "desired_count":
        return "scale", {"desired_count": str(item.desired)}
    if item.field == "desired_capacity":
        return "set-desired-capacity", {"desired_capacity": str(item.desired)}
    if item.field == "reserved_concurrency":
        return "set-concurrency", {"reserved_concurrency": str(item.desired)}
    if item.field == "encryption":
        return ("enable-encryption" if item.desired else "disable-encryption"), {}
    if item.field == "public_access_blocked":
        return ("block-public-access" if item.desired else "unblock-public-access"), {}
    return "repair", {}

