"""The three PATCH flavours of the apiserver.

- `application/json-patch+json`: RFC 6902, applied by the `jsonpatch` library.
- `application/merge-patch+json`: RFC 7386 (maps merge, null deletes, lists replace).
- `application/strategic-merge-patch+json`: like merge, but lists of the built-in
  types merge by their patch merge key (containers by `name`, container ports
  by `containerPort`, ...) and the `$patch`, `$retainKeys`, `$setElementOrder/`,
  `$deleteFromPrimitiveList/` directives are honoured.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from .status import ApiError
from .store import clone

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# field name -> patch merge key, as the Kubernetes API types declare them
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip", "readinessGates": "conditionType",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "addresses": "type",
}
_MERGED_PRIMITIVE_LISTS = {"finalizers"}


def apply_patch(content_type: str, current: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The patched copy of `current`; ApiError 400/415 for a bad patch."""
    media = content_type.split(";")[0].strip().lower()
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise ApiError(400, "json patch must be a list of operations")
        try:
            return jsonpatch.apply_patch(current, patch, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(422, f"the server rejected our request due to an error in our request: {exc}",
                           "Invalid") from None
    if not isinstance(patch, dict):
        raise ApiError(400, "patch body must be a JSON object")
    if media == MERGE_PATCH:
        return merge_patch(current, patch)
    if media == STRATEGIC_MERGE_PATCH:
        return strategic_merge(current, patch, ())
    if media == APPLY_PATCH:
        raise ApiError(415, "server-side apply is not supported by the envdeck emulator")
    raise ApiError(415, f'the body of the request was in an unknown format - accepted media types include: '
                        f'{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_MERGE_PATCH}')


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, path: tuple[str, ...]) -> str | None:
    if field == "ports":
        return "containerPort" if path and path[-1] in ("containers", "initContainers") else "port"
    return _MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: dict[str, Any], path: tuple[str, ...]) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = clone(target) if isinstance(target, dict) else {}
    orders: dict[str, list[Any]] = {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, path + (key,))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key, path)
        else:
            result[key] = clone(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _apply_order(result[field], order, _merge_key(field, path))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: Any, patch: list[Any], field: str, path: tuple[str, ...]) -> list[Any]:
    current = current if isinstance(current, list) else []
    if any(isinstance(p, dict) and p.get("$patch") == "replace" and len(p) == 1 for p in patch):
        return [clone(p) for p in patch if not (isinstance(p, dict) and p.get("$patch"))]
    if field in _MERGED_PRIMITIVE_LISTS:
        return list(current) + [v for v in patch if v not in current]
    key = _merge_key(field, path)
    if key is None or not all(isinstance(p, dict) for p in patch):
        return clone(patch)
    result = clone(current)
    for item in patch:
        index = next((i for i, c in enumerate(result) if isinstance(c, dict) and c.get(key) == item.get(key)),
                     None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(strategic_merge({}, item, path + (field,)))
        else:
            result[index] = strategic_merge(result[index], item, path + (field,))
    return result


def _apply_order(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    ranked = sorted(items, key=lambda it: wanted.index(ident(it)) if ident(it) in wanted else len(wanted))
    return ranked
