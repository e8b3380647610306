"""Actions on Kubernetes objects, done the way kubectl does them.

- restart: `kubectl rollout restart` = a strategic-merge patch of the pod
  template's `kubectl.kubernetes.io/restartedAt` annotation;
- scale: a merge patch of `spec.replicas`;
- delete (pods), cordon/uncordon (nodes: `spec.unschedulable`);
- shell: argv of `kubectl exec -it` with the same kubeconfig/context/namespace;
- value (ConfigMaps): one key's value, read fresh on request (the Resource keeps only
  key names and sizes). Secrets have no such action: their values are never shown.
The policy check and the audit row belong to the core, not to this module.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import shlex
from typing import Any

from backends.kubernetes.api import MERGE_PATCH, STRATEGIC_MERGE_PATCH, KubeApi
from backends.kubernetes.connection import ClusterConnection
from backends.kubernetes.kinds import BY_KIND
from tui.core.errors import InvalidRequest
from tui.core.model import ActionResult, ActionSpec, Resource, Role, iso, now_utc

RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
SHELL_SCRIPT = "command -v bash >/dev/null && exec bash || exec sh"

_RESTART = ActionSpec("restart", "Rollout restart", Role.OPERATOR)
_SCALE = ActionSpec("scale", "Scale", Role.OPERATOR, params=("replicas",))
_LOGS = ActionSpec("logs", "Logs", Role.OPERATOR, mutating=False)
_SHELL = ActionSpec("shell", "Shell (kubectl exec)", Role.OPERATOR)
_DELETE_POD = ActionSpec("delete", "Delete pod", Role.ADMIN, destructive=True)
_CORDON = ActionSpec("cordon", "Cordon node", Role.ADMIN, destructive=True)
_UNCORDON = ActionSpec("uncordon", "Uncordon node", Role.ADMIN)
_VALUE = ActionSpec("value", "Show a value", Role.OPERATOR, mutating=False, params=("key",))

_BY_KIND: dict[str, list[ActionSpec]] = {
    "Deployment": [_RESTART, _SCALE, _LOGS],
    "StatefulSet": [_RESTART, _SCALE, _LOGS],
    "DaemonSet": [_RESTART, _LOGS],
    "Job": [_LOGS],
    "Pod": [_LOGS, _SHELL, _DELETE_POD],
    "Node": [_CORDON, _UNCORDON],
    "ConfigMap": [_VALUE],
}


def actions_for(resource: Resource) -> list[ActionSpec]:
    if resource.attributes.get("placeholder"):
        return []
    return list(_BY_KIND.get(resource.kind, ()))


def parse_replicas(params: dict[str, str]) -> int:
    raw = params.get("replicas")
    try:
        replicas = int(str(raw).strip())
    except (TypeError, ValueError):
        raise InvalidRequest(f"scale needs replicas=N (a whole number >= 0), got {raw!r}",
                             backend="kubernetes") from None
    if replicas < 0:
        raise InvalidRequest("replicas must be >= 0", backend="kubernetes")
    return replicas


async def perform(api: KubeApi, namespace: str, resource: Resource, action: str,
                  params: dict[str, str]) -> ActionResult:
    if action not in {a.name for a in actions_for(resource)} or action in ("logs", "shell"):
        raise InvalidRequest(f"{resource.id} does not support {action!r}", backend="kubernetes")
    path = BY_KIND[resource.kind].item(namespace, resource.name)
    if action == "restart":
        at = iso(now_utc())
        await api.patch(path, restart_patch(at), STRATEGIC_MERGE_PATCH)
        return ActionResult(True, f"{resource.kind.lower()}/{resource.name} restarted", {"restartedAt": at})
    if action == "scale":
        replicas = parse_replicas(params)
        await api.patch(path, {"spec": {"replicas": replicas}}, MERGE_PATCH)
        return ActionResult(True, f"{resource.kind.lower()}/{resource.name} scaled to {replicas}",
                            {"replicas": replicas})
    if action == "value":
        return configmap_value(resource, await api.get(path), str(params.get("key") or ""))
    if action == "delete":
        await api.delete(path)
        return ActionResult(True, f"pod/{resource.name} deleted")
    cordon = action == "cordon"
    await api.patch(path, {"spec": {"unschedulable": True if cordon else None}}, MERGE_PATCH)
    return ActionResult(True, f"node/{resource.name} {'cordoned' if cordon else 'uncordoned'}")


def configmap_value(resource: Resource, obj: dict[str, Any], key: str) -> ActionResult:
    """The value of one key of a ConfigMap (binaryData decoded when it is text)."""
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    if key in data:
        value = str(data[key])
    elif key in binary:
        try:
            raw = base64.b64decode(str(binary[key]))
            value = raw.decode()
        except (binascii.Error, UnicodeDecodeError):
            value = f"<{len(str(binary[key])) * 3 // 4} bytes of binary data>"
    else:
        keys = ", ".join(sorted({*data, *binary})) or "none"
        raise InvalidRequest(f"configmap/{resource.name} has no key {key!r} (keys: {keys})", backend="kubernetes")
    return ActionResult(True, f"configmap/{resource.name} {key}: {value}", {"key": key, "value": value})


def content_digests(obj: dict[str, Any], salt: bytes, *, secret: bool) -> dict[str, str]:
    """Per key of a ConfigMap or Secret, a keyed BLAKE2b digest of its value (base64 data
    decoded first, so `data` and `stringData` of one value agree); the values are dropped here."""
    out: dict[str, str] = {}
    for section, encoded in (("data", secret), ("binaryData", True)):
        for key, value in (obj.get(section) or {}).items():
            raw = str(value).encode()
            if encoded:
                with contextlib.suppress(binascii.Error, ValueError):
                    raw = base64.b64decode(raw, validate=False)
            out[str(key)] = hashlib.blake2b(raw, key=salt, digest_size=16).hexdigest()
    return out


def restart_patch(at: str | None) -> dict[str, Any]:
    return {"spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: at}}}}}


def shell_argv(connection: ClusterConnection | None, namespace: str, pod: str,
               container: str | None = None) -> list[str]:
    """`kubectl exec -it POD -n NS --context CTX [--kubeconfig PATH] [-c C] -- sh -c '…'`."""
    argv = ["kubectl", "exec", "-it", pod, "-n", namespace]
    if connection is not None and connection.context:
        argv += ["--context", connection.context]
    if connection is not None and connection.kubeconfig:
        argv += ["--kubeconfig", connection.kubeconfig]
    if container:
        argv += ["-c", container]
    argv += ["--", "sh", "-c", SHELL_SCRIPT]
    return argv


def shell_line(argv: list[str]) -> str:
    """The argv as one shell-safe line (for display and for `--print`)."""
    return shlex.join(argv)
