"""Compliance rules on pod specs (of workloads' templates and of bare pods).

The rules follow the Pod Security Standards ("baseline" and "restricted") and
the usual linters (kube-score, Polaris): each has a stable id, a severity and a
message naming the container. Pods owned by a controller are not evaluated:
their template already is, on the workload, and 20,000 copies of the same
finding help nobody.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from tui.core.model import Finding, Severity

RULES: dict[str, tuple[Severity, str]] = {
    "k8s-privileged": (Severity.CRITICAL, "runs a privileged container"),
    "k8s-privilege-escalation": (Severity.HIGH, "allows privilege escalation"),
    "k8s-run-as-non-root": (Severity.MEDIUM, "may run as root (runAsNonRoot is not set)"),
    "k8s-host-namespace": (Severity.HIGH, "shares a host namespace"),
    "k8s-no-limits": (Severity.MEDIUM, "has no CPU/memory limits"),
    "k8s-image-latest": (Severity.MEDIUM, "uses a mutable image tag"),
    "k8s-no-readiness-probe": (Severity.LOW, "has no readiness probe"),
}

# Kinds whose pods serve traffic and so need a readiness probe (not Jobs).
_LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"}


def _finding(rule: str, resource_id: str, detail: str) -> Finding:
    severity, message = _message(rule, detail)
    return Finding(rule, severity, message, resource_id)


@functools.lru_cache(maxsize=4096)
def _message(rule: str, detail: str) -> tuple[Severity, str]:
    """(severity, message): one string for every pod whose container has the same name
    (100,000 pods of a few templates: a few distinct messages)."""
    severity, text = RULES[rule]
    return severity, f"{detail} {text}"


def image_is_mutable(image: str) -> bool:
    """True for `:latest` or no tag at all (and no digest)."""
    if "@" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.rsplit(":", 1)[1] == "latest"


@functools.lru_cache(maxsize=64)
def controls_for(kind: str) -> tuple[str, ...]:
    """The rules evaluated on a pod spec of `kind` (the readiness probe only where pods serve)."""
    return tuple(r for r in RULES if r != "k8s-no-readiness-probe" or kind in _LONG_RUNNING)


def evaluate_pod_spec(kind: str, resource_id: str, pod_spec: dict[str, Any]) -> list[Finding]:
    return list(_evaluate(kind, resource_id, pod_spec))


def _evaluate(kind: str, resource_id: str, spec: dict[str, Any]) -> Iterator[Finding]:
    shared = [n for n in ("hostNetwork", "hostPID", "hostIPC") if spec.get(n)]
    if shared:
        yield _finding("k8s-host-namespace", resource_id, f"pod ({', '.join(shared)})")
    pod_sc = spec.get("securityContext") or {}
    pod_non_root = pod_sc.get("runAsNonRoot")
    init = [(c, True) for c in spec.get("initContainers") or ()]
    for container, is_init in [*init, *((c, False) for c in spec.get("containers") or ())]:
        name = f"container {container.get('name', '?')!r}"
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            yield _finding("k8s-privileged", resource_id, name)
        if sc.get("allowPrivilegeEscalation") is not False:  # unset means allowed
            yield _finding("k8s-privilege-escalation", resource_id, name)
        non_root = sc.get("runAsNonRoot", pod_non_root)
        run_as = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if non_root is not True and not (isinstance(run_as, int) and run_as > 0):
            yield _finding("k8s-run-as-non-root", resource_id, name)
        limits = (container.get("resources") or {}).get("limits") or {}
        missing = [r for r in ("cpu", "memory") if not limits.get(r)]
        if missing:
            yield _finding("k8s-no-limits", resource_id, f"{name} ({' and '.join(missing)})")
        image = str(container.get("image") or "")
        if image_is_mutable(image):
            yield _finding("k8s-image-latest", resource_id, f"{name} ({image or 'no image'})")
        if not is_init and kind in _LONG_RUNNING and not container.get("readinessProbe"):
            yield _finding("k8s-no-readiness-probe", resource_id, name)
