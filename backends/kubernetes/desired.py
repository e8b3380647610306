"""Desired state of workloads (`replicas`, `image`): placeholders, drift, repair patches."""

from __future__ import annotations

from typing import Any

from backends.kubernetes.convert import BACKEND, rid
from tui.core.config import WorkloadDesired
from tui.core.model import Drift, DriftItem, Health, Resource, now_utc

REPAIR_ACTIONS = {"replicas": "scale", "image": "set-image"}


def placeholders(desired: list[WorkloadDesired], present: set[str],
                 cache: dict[str, Resource]) -> list[Resource]:
    """A Missing resource for every desired workload that does not exist (the
    same object from one observation to the next, while it stays missing)."""
    out = []
    for want in desired:
        res_id = rid(want.kind, want.name)
        if res_id in present:
            cache.pop(res_id, None)
            continue
        placeholder = cache.get(res_id)
        if placeholder is None:
            placeholder = Resource(id=res_id, backend=BACKEND, kind=want.kind, name=want.name,
                                   health=Health.MISSING, drift=Drift.DRIFTED, status="Missing",
                                   health_reason=f"{want.kind} {want.name!r} does not exist",
                                   observed_at=now_utc(), attributes={"placeholder": True})
            cache[res_id] = placeholder
        out.append(placeholder)
    return out


def actual_image(images: dict[str, str], desired: str | dict[str, str]) -> Any:
    """The observed value to compare with a desired `image`, in the same shape."""
    if isinstance(desired, dict):
        return {name: images.get(name) for name in desired}
    distinct = set(images.values())
    if len(distinct) == 1:
        return next(iter(distinct))
    return dict(images)


def image_values_match(desired: Any, actual: Any) -> bool:
    """Whether an `image` value is the desired one, whichever shape each has (a desired-state
    overlay may keep `{container: image}` where the config declares one string, and `diff`
    reports the observed value in the config's shape): a string stands for every container."""
    if isinstance(desired, dict) and isinstance(actual, dict):
        return bool(desired) and all(actual.get(name) == image for name, image in desired.items())
    if isinstance(desired, dict):
        return bool(desired) and all(image == actual for image in desired.values())
    if isinstance(actual, dict):
        return bool(actual) and all(image == desired for image in actual.values())
    return desired == actual


def image_in_sync(images: dict[str, str], desired: str | dict[str, str]) -> bool:
    if isinstance(desired, dict):
        return all(images.get(name) == image for name, image in desired.items())
    return bool(images) and all(image == desired for image in images.values())


def diff(desired: list[WorkloadDesired], resources: dict[str, Resource]) -> list[DriftItem]:
    items: list[DriftItem] = []
    for want in desired:
        res_id = rid(want.kind, want.name)
        res = resources.get(res_id)
        placeholder = res is None or res.attributes.get("placeholder")
        attrs = {} if placeholder or res is None else res.attributes
        if want.replicas is not None:
            actual = None if placeholder else attrs.get("replicas")
            if actual != want.replicas:
                items.append(DriftItem(res_id, "replicas", want.replicas, actual))
        if want.image is not None:
            images = attrs.get("images") or {}
            if placeholder or not image_in_sync(images, want.image):
                items.append(DriftItem(res_id, "image", want.image,
                                       None if placeholder else actual_image(images, want.image)))
    return items


def image_patch(desired: str | dict[str, str], containers: list[str]) -> dict[str, Any]:
    """A strategic-merge patch setting images (as `kubectl set image` does):
    containers merge by name, so the other fields of each container stay."""
    if isinstance(desired, dict):
        targets = {name: image for name, image in desired.items()}
    else:
        targets = {name: desired for name in containers}
    return {"spec": {"template": {"spec": {"containers": [
        {"name": name, "image": image} for name, image in targets.items()]}}}}
